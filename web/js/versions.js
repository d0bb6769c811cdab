// The versions of the task: the original and its variations, with who made and signed each
// and by which transforms. A person may delete the variations they created (an admin, any).

import { el } from "./dom.js";

function describe(version) {
  if (version.version === null) return "Original";
  return `Version ${version.version}`;
}

function details(version) {
  const lines = [];
  if (version.transforms.length) {
    const parent = version.parent_version === null ? "original" : `v${version.parent_version}`;
    lines.push(el("span", { class: "transforms", text: `${parent} → ${version.transforms.join(" + ")}` }));
  }
  if (version.created_by) {
    const when = version.created_at ? ` · ${version.created_at.slice(0, 10)}` : "";
    lines.push(el("span", { class: "author", text: `by ${version.created_by}${when}` }));
  }
  const others = version.signed_by.filter((name) => name !== version.created_by);
  if (others.length) lines.push(el("span", { class: "signed", text: `signed by ${others.join(", ")}` }));
  if (version.source === "dataset" && version.version !== null) {
    lines.push(el("span", { class: "signed", text: "from the dataset" }));
  }
  return lines;
}

/** Show `versions`; `current` is the version number shown (null: the original). */
export function renderVersions(container, versions, { current, user, onOpen, onDelete }) {
  container.replaceChildren(...versions.map((version) => {
    const mine = user.name && (user.admin || version.created_by === user.name);
    const open = el("button", {
      type: "button", class: "version-open",
      "aria-current": version.version === current ? "true" : null,
      onclick: () => onOpen(version.version),
    }, el("strong", { text: describe(version) }), ...details(version));
    const remove = version.source === "store" && mine
      ? el("button", {
        type: "button", class: "version-delete", title: `Delete ${describe(version).toLowerCase()}`,
        "aria-label": `Delete ${describe(version).toLowerCase()}`,
        onclick: (event) => onDelete(version, event.currentTarget),
      }, "Delete")
      : null;
    return el("li", { class: version.version === current ? "current" : "" }, open, remove);
  }));
}

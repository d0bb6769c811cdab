// The side panel's tabs: versions and transforms, traces, model attempts. The chosen tab is
// remembered in this browser.

import { $ } from "./dom.js";

const KEY = "arcbench.sideTab";

export function createTabs({ onShow } = {}) {
  const tabs = [...document.querySelectorAll(".tabs [role=tab]")];
  const current = () => tabs.find((tab) => tab.getAttribute("aria-selected") === "true").id;

  function show(id) {
    for (const tab of tabs) {
      const selected = tab.id === id;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      $(`#${tab.getAttribute("aria-controls")}`).hidden = !selected;
    }
    localStorage.setItem(KEY, id);
    if (onShow) onShow(id);
  }

  for (const [index, tab] of tabs.entries()) {
    tab.addEventListener("click", () => show(tab.id));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      event.preventDefault();
      event.stopPropagation();
      const next = tabs[(index + step + tabs.length) % tabs.length];
      show(next.id);
      next.focus();
    });
  }
  const saved = localStorage.getItem(KEY);
  show(tabs.some((tab) => tab.id === saved) ? saved : tabs[0].id);
  return { show, current };
}

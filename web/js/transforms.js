// The transform panel: symmetries, colour permutations (random or by hand), train order and
// train/test swaps, composed into a chain of transform ids. The server applies the chain (the
// one implementation, arcbench.transforms), so the preview is exactly what would be saved.

import { $, el, toast } from "./dom.js";
import { PALETTE } from "./grid.js";

const SYMMETRIES = [
  ["identity", "Identity", "Leave the grids as they are"],
  ["rot90", "Rotate 90°", "Rotate clockwise by 90°"],
  ["rot180", "Rotate 180°", "Rotate by 180°"],
  ["rot270", "Rotate 270°", "Rotate clockwise by 270° (90° counter-clockwise)"],
  ["flip_h", "Flip ↔", "Mirror left-right"],
  ["flip_v", "Flip ↕", "Mirror top-bottom"],
  ["transpose", "Transpose", "Reflect in the main diagonal"],
  ["antitranspose", "Anti-transpose", "Reflect in the anti-diagonal"],
];

function shuffled(values) {
  const out = values.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export function createTransformPanel({ onChain, onSave }) {
  let chain = [];
  let task = null;
  const chainList = $("#chain");
  const order = $("#train-order");
  const swapTrain = $("#swap-train");
  const swapTest = $("#swap-test");
  const mapping = $("#color-map");

  $("#symmetries").replaceChildren(...SYMMETRIES.map(([id, label, title]) =>
    el("button", { type: "button", title: `${title} (${id})`, dataset: { transform: id },
      onclick: () => add(id) }, label)));

  const targets = PALETTE.map((_, colour) => {
    const select = el("select", { "aria-label": `New colour for ${colour}`, dataset: { from: colour } },
      PALETTE.map((__, to) => el("option", { value: String(to), text: String(to), selected: to === colour })));
    select.addEventListener("change", () => paint(select));
    return select;
  });
  function paint(select) {
    select.style.background = PALETTE[Number(select.value)];
    select.style.color = [3, 4, 5, 7, 8].includes(Number(select.value)) ? "#000" : "#fff";
  }
  targets.forEach(paint);
  mapping.replaceChildren(...PALETTE.map((colour, index) => {
    const from = el("span", { class: "from", text: String(index) });
    from.style.background = colour;
    from.style.color = [3, 4, 5, 7, 8].includes(index) ? "#000" : "#fff";
    return el("div", { class: "map-column" }, from, el("span", { class: "down", "aria-hidden": "true", text: "↓" }), targets[index]);
  }));

  function setMapping(values) {
    targets.forEach((select, index) => { select.value = String(values[index]); paint(select); });
  }

  $("#color-keep0").addEventListener("click", () => {
    const values = [0, ...shuffled([1, 2, 3, 4, 5, 6, 7, 8, 9])];
    setMapping(values);
    add(`color:${values.join("")}`);
  });
  $("#color-all").addEventListener("click", () => {
    const values = shuffled([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    setMapping(values);
    add(`color:${values.join("")}`);
  });
  $("#color-apply").addEventListener("click", () => {
    const values = targets.map((select) => Number(select.value));
    const twice = values.find((value, index) => values.indexOf(value) !== index);
    if (twice !== undefined) {
      toast(`Colour ${twice} is chosen twice: each colour must go to a different one.`, "error");
      return;
    }
    if (values.every((value, index) => value === index)) { toast("That mapping changes no colour.", "error"); return; }
    add(`color:${values.join("")}`);
  });
  $("#color-reset").addEventListener("click", () => setMapping([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));

  $("#order-shuffle").addEventListener("click", () => {
    if (task) order.value = shuffled(task.train.map((_, i) => i + 1)).join(",");
  });
  $("#order-reverse").addEventListener("click", () => {
    if (task) order.value = task.train.map((_, i) => i + 1).reverse().join(",");
  });
  $("#order-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!task) return;
    const values = order.value.split(",").map((part) => part.trim());
    const numbers = values.map((value) => Number(value) - 1);
    const count = task.train.length;
    const valid = values.every((v) => /^\d+$/.test(v)) && numbers.length === count &&
      [...numbers].sort((a, b) => a - b).every((value, index) => value === index);
    if (!valid) {
      const example = [...Array(count).keys()].map((i) => count - i).join(",");
      toast(`Give an order of all ${count} train pairs by number, e.g. ${example}.`, "error");
      return;
    }
    if (numbers.every((value, index) => value === index)) { toast("That is the current order.", "error"); return; }
    add(`reorder:${numbers.join(",")}`);
  });
  $("#swap-form").addEventListener("submit", (event) => {
    event.preventDefault();
    add(`swap:${swapTrain.value},${swapTest.value}`);
  });
  $("#chain-undo").addEventListener("click", () => set(chain.slice(0, -1)));
  $("#chain-clear").addEventListener("click", () => set([]));
  $("#save-variation").addEventListener("click", () => onSave(chain));

  function add(id) { set([...chain, id]); }

  function set(next) {
    chain = next;
    render();
    onChain(chain);
  }

  function render() {
    chainList.replaceChildren(...(chain.length
      ? chain.map((id) => el("li", { text: id }))
      : [el("li", { class: "empty", text: "none: the task as stored" })]));
    $("#chain-undo").disabled = !chain.length;
    $("#chain-clear").disabled = !chain.length;
    $("#save-variation").disabled = !chain.length;
  }

  render();
  return {
    /** The task now shown (after the chain): fills the order and swap choices. */
    show(shown) {
      task = shown;
      order.value = shown.train.map((_, i) => i + 1).join(",");
      swapTrain.replaceChildren(...shown.train.map((_, i) => el("option", { value: String(i), text: String(i + 1) })));
      swapTest.replaceChildren(...shown.test.map((t, i) =>
        el("option", {
          value: String(i), text: String(i + 1), disabled: !t.answer_known,
          title: t.answer_known ? null : "Its answer is unknown",
        })));
      const swappable = shown.test.some((t) => t.answer_known);
      $("#swap-button").disabled = !swappable;
      $("#swap-note").hidden = swappable;
    },
    /** Replace the chain without telling the page (it set it). */
    reset(next = []) { chain = next; render(); },
    chain: () => chain,
  };
}

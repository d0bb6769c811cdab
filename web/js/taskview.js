// The train pairs of the task being shown, drawn at one scale so they compare at a glance.

import { el } from "./dom.js";
import { fitCell, gridCanvas } from "./grid.js";

const PAIR_MAX_HEIGHT = 220;
const ARROW = 36;

function shape(grid) { return `${grid.length}×${grid[0].length}`; }

/** The cell size that fits every pair (input, arrow, output) into `width`. */
export function trainCell(task, width) {
  let cell = 40;
  for (const pair of task.train) {
    const rows = Math.max(pair.input.length, pair.output.length);
    const cols = pair.input[0].length + pair.output[0].length;
    cell = Math.min(cell, fitCell(rows, cols, width - ARROW - 8, PAIR_MAX_HEIGHT, 2, 40));
  }
  return cell;
}

export function renderTrain(container, task, width, numbers) {
  const cell = trainCell(task, width);
  const figures = task.train.map((pair, index) =>
    el("figure", { class: "pair" },
      el("figcaption", {}, el("span", { text: `Pair ${index + 1}` })),
      el("div", { class: "pair-grids" },
        el("div", { class: "pair-side" },
          gridCanvas(pair.input, cell, `Train pair ${index + 1} input`, { numbers }),
          el("span", { class: "shape", text: `input ${shape(pair.input)}` })),
        el("span", { class: "arrow", "aria-hidden": "true", text: "→" }),
        el("div", { class: "pair-side" },
          gridCanvas(pair.output, cell, `Train pair ${index + 1} output`, { numbers }),
          el("span", { class: "shape", text: `output ${shape(pair.output)}` })))));
  container.replaceChildren(...figures);
}

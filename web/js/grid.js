// Drawing grids on canvases in the standard ARC palette, and finding the cell under a pointer.

export const PALETTE = [
  "#000000", "#0074D9", "#FF4136", "#2ECC40", "#FFDC00",
  "#AAAAAA", "#F012BE", "#FF851B", "#7FDBFF", "#870C25",
];
const DIGIT_INK = ["#fff", "#fff", "#fff", "#000", "#000", "#000", "#fff", "#000", "#000", "#fff"];
const LINE = "#3b4048";
/** The palette as little-endian RGBA words, for writing pixels directly. */
const RGBA = PALETTE.map((hex) => {
  const n = parseInt(hex.slice(1), 16);
  return (0xff << 24 | (n & 0xff) << 16 | (n >> 8 & 0xff) << 8 | n >> 16) >>> 0;
});
const scratch = document.createElement("canvas");
export const MAX_SIDE = 30;

/** The largest whole cell size (CSS pixels) that fits `rows` x `cols` into the box. */
export function fitCell(rows, cols, width, height, min = 3, max = 32) {
  const size = Math.floor(Math.min((width - 1) / cols, (height - 1) / rows));
  return Math.max(min, Math.min(max, size));
}

/**
 * Draw `grid` on `canvas` with square cells of `cell` CSS pixels and 1 px lines between them.
 * `marks` may hold `numbers` (digits in the cells), `selection` ({r0, c0, r1, c1}), `cursor`
 * ({r, c}) and `expected` (a grid of the same shape: the cells that differ from it are marked).
 */
export function drawGrid(canvas, grid, cell, marks = {}) {
  const rows = grid.length;
  const cols = grid[0].length;
  const width = cols * cell + 1;
  const height = rows * cell + 1;
  const ratio = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
  }
  canvas.dataset.rows = rows;
  canvas.dataset.cols = cols;
  canvas.dataset.cell = cell;
  canvas.dataset.grid = JSON.stringify(grid);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  // One pixel per cell, scaled up without smoothing, then the lines on top: three calls
  // however large the grid, instead of a rectangle per cell.
  const pixels = new ImageData(cols, rows);
  const data = new Uint32Array(pixels.data.buffer);
  for (let r = 0; r < rows; r++) {
    const row = grid[r];
    for (let c = 0; c < cols; c++) data[r * cols + c] = RGBA[row[c]];
  }
  scratch.width = cols;
  scratch.height = rows;
  scratch.getContext("2d").putImageData(pixels, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(scratch, 0, 0, cols * cell, rows * cell);
  if (cell >= 6) {
    ctx.beginPath();
    for (let c = 0; c <= cols; c++) { ctx.moveTo(c * cell + 0.5, 0); ctx.lineTo(c * cell + 0.5, height); }
    for (let r = 0; r <= rows; r++) { ctx.moveTo(0, r * cell + 0.5); ctx.lineTo(width, r * cell + 0.5); }
    ctx.strokeStyle = LINE;
    ctx.lineWidth = 1;
    ctx.stroke();
  } else {
    ctx.strokeStyle = LINE;
    ctx.lineWidth = 1;
    ctx.strokeRect(0.5, 0.5, width - 1, height - 1);
  }
  if (marks.numbers && cell >= 10) drawDigits(ctx, grid, cell);
  if (marks.expected) drawDifferences(ctx, grid, marks.expected, cell);
  if (marks.selection) drawSelection(ctx, marks.selection, cell);
  if (marks.cursor) {
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 2;
    ctx.strokeRect(marks.cursor.c * cell + 1.5, marks.cursor.r * cell + 1.5, cell - 2, cell - 2);
  }
}

function drawDigits(ctx, grid, cell) {
  ctx.font = `600 ${Math.round(cell * 0.55)}px ui-monospace, monospace`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  grid.forEach((row, r) => row.forEach((value, c) => {
    ctx.fillStyle = DIGIT_INK[value];
    ctx.fillText(String(value), c * cell + cell / 2 + 0.5, r * cell + cell / 2 + 1);
  }));
}

/** Cells that differ from `expected` (same shape only) get a ring, white over black, that
 * shows on every colour of the palette. */
function drawDifferences(ctx, grid, expected, cell) {
  if (expected.length !== grid.length || expected[0].length !== grid[0].length) return;
  const inset = Math.max(1, Math.round(cell * 0.18));
  const size = cell - 2 * inset;
  if (size < 2) return;
  ctx.lineWidth = Math.max(1, Math.round(cell / 10));
  grid.forEach((row, r) => row.forEach((value, c) => {
    if (value === expected[r][c]) return;
    const x = c * cell + inset + 0.5;
    const y = r * cell + inset + 0.5;
    ctx.strokeStyle = "#000000";
    ctx.strokeRect(x + 1, y + 1, size - 1, size - 1);
    ctx.strokeStyle = "#ffffff";
    ctx.strokeRect(x, y, size - 1, size - 1);
  }));
}

/** How many cells of `grid` differ from `expected`; null when the shapes differ. */
export function differences(grid, expected) {
  if (!grid || !expected || grid.length !== expected.length || grid[0].length !== expected[0].length) return null;
  let count = 0;
  grid.forEach((row, r) => row.forEach((value, c) => { if (value !== expected[r][c]) count += 1; }));
  return count;
}

function drawSelection(ctx, s, cell) {
  const x = Math.min(s.c0, s.c1) * cell + 1;
  const y = Math.min(s.r0, s.r1) * cell + 1;
  const w = (Math.abs(s.c1 - s.c0) + 1) * cell - 1;
  const h = (Math.abs(s.r1 - s.r0) + 1) * cell - 1;
  ctx.fillStyle = "rgba(255, 255, 255, 0.18)";
  ctx.fillRect(x, y, w, h);
  ctx.lineWidth = 2;
  ctx.setLineDash([4, 3]);
  ctx.strokeStyle = "#ffffff";
  ctx.strokeRect(x, y, w, h);
  ctx.setLineDash([]);
}

/** A new canvas showing `grid`, labelled for screen readers. */
export function gridCanvas(grid, cell, label, marks) {
  const canvas = document.createElement("canvas");
  canvas.className = "grid";
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `${label}, ${grid.length} by ${grid[0].length}`);
  drawGrid(canvas, grid, cell, marks);
  return canvas;
}

/** The cell `{r, c}` under a pointer event on a grid canvas, or null outside the cells. */
export function cellAt(canvas, event) {
  const box = canvas.getBoundingClientRect();
  const cell = Number(canvas.dataset.cell);
  const r = Math.floor((event.clientY - box.top - 1) / cell);
  const c = Math.floor((event.clientX - box.left - 1) / cell);
  if (r < 0 || c < 0 || r >= Number(canvas.dataset.rows) || c >= Number(canvas.dataset.cols)) return null;
  return { r, c };
}

/** A rows x cols grid of `value`. */
export function blank(rows, cols, value = 0) {
  return Array.from({ length: rows }, () => new Array(cols).fill(value));
}

export function copyGrid(grid) {
  return grid.map((row) => row.slice());
}

/** The normalised rectangle {top, left, bottom, right} of a selection. */
export function bounds(s) {
  return {
    top: Math.min(s.r0, s.r1), left: Math.min(s.c0, s.c1),
    bottom: Math.max(s.r0, s.r1), right: Math.max(s.c0, s.c1),
  };
}

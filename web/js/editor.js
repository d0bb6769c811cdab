// The output editor: edit cells, select a rectangle and fill it, flood fill, copy and paste
// (also from the test input), resize, undo and redo. Mouse and keyboard both work.

import { blank, bounds, cellAt, copyGrid, drawGrid, MAX_SIDE } from "./grid.js";

const HISTORY = 500;
export const MODES = ["edit", "select", "fill"];

/** What C copied, shared by the editor and the test input. */
const clipboard = { cells: null };
let lastSelected = null;

/** Rectangle selection on a grid canvas (the test input's, or the editor's). */
class Selection {
  constructor() {
    this.rect = null;
    this.dragging = false;
  }
  start(cell) { this.rect = { r0: cell.r, c0: cell.c, r1: cell.r, c1: cell.c }; this.dragging = true; }
  extend(cell) { if (this.rect) { this.rect.r1 = cell.r; this.rect.c1 = cell.c; } }
  clear() { this.rect = null; this.dragging = false; }
  cells(grid) {
    if (!this.rect) return null;
    const b = bounds(this.rect);
    return grid.slice(b.top, b.bottom + 1).map((row) => row.slice(b.left, b.right + 1));
  }
}

/** A read-only grid whose cells can be selected and copied: the test input. */
export class SourceGrid {
  constructor(canvas, owner) {
    this.canvas = canvas;
    this.owner = owner;
    this.grid = [[0]];
    this.cell = 10;
    this.selection = new Selection();
    canvas.addEventListener("pointerdown", (e) => this.pointer(e, "down"));
    canvas.addEventListener("pointermove", (e) => this.pointer(e, "move"));
    window.addEventListener("pointerup", () => { this.selection.dragging = false; });
  }
  show(grid, cell) {
    this.grid = grid;
    this.cell = cell;
    this.selection.clear();
    this.render();
  }
  render() {
    drawGrid(this.canvas, this.grid, this.cell, {
      numbers: this.owner.numbers, selection: this.selection.rect,
    });
  }
  pointer(event, phase) {
    if (this.owner.mode !== "select") return;
    const cell = cellAt(this.canvas, event);
    if (!cell) return;
    if (phase === "down") {
      this.owner.selection.clear();
      this.owner.render();
      this.selection.start(cell);
      lastSelected = this;
    } else if (this.selection.dragging) {
      this.selection.extend(cell);
    } else {
      return;
    }
    this.render();
  }
}

export class OutputEditor {
  /** `onChange(grid)` runs after every change of the grid (edits, undo, resize, …). */
  constructor(canvas, { onChange, onState }) {
    this.canvas = canvas;
    this.onChange = onChange;
    this.onState = onState;
    this.grid = blank(3, 3);
    this.history = [];
    this.future = [];
    this.mode = "edit";
    this.colour = 1;
    this.numbers = false;
    this.cell = 16;
    this.cursor = { r: 0, c: 0 };
    this.selection = new Selection();
    this.stroke = false;
    this.strokeDirty = false;
    canvas.addEventListener("pointerdown", (e) => this.pointerDown(e));
    canvas.addEventListener("pointermove", (e) => this.pointerMove(e));
    window.addEventListener("pointerup", () => this.pointerUp());
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  }

  /** Start afresh on `grid` (a new test input): no history. */
  load(grid) {
    this.grid = copyGrid(grid);
    this.history = [];
    this.future = [];
    this.selection.clear();
    this.cursor = { r: 0, c: 0 };
    this.changed();
  }

  setCell(cell) { this.cell = cell; this.render(); }
  setMode(mode) { this.mode = mode; this.selection.clear(); this.render(); this.state(); }
  setColour(colour) {
    this.colour = colour;
    if (this.selection.rect) this.fillSelection();
    this.state();
  }
  setNumbers(on) { this.numbers = on; this.render(); this.state(); }

  /** Replace the grid as one undoable step. */
  apply(next) {
    this.history.push(this.grid);
    if (this.history.length > HISTORY) this.history.shift();
    this.future = [];
    this.grid = next;
    this.changed();
  }

  resize(rows, cols) {
    if (!(rows >= 1 && rows <= MAX_SIDE && cols >= 1 && cols <= MAX_SIDE)) {
      throw new RangeError(`a grid is 1 to ${MAX_SIDE} cells each way`);
    }
    const next = blank(rows, cols);
    for (let r = 0; r < Math.min(rows, this.grid.length); r++) {
      for (let c = 0; c < Math.min(cols, this.grid[0].length); c++) next[r][c] = this.grid[r][c];
    }
    this.selection.clear();
    this.apply(next);
  }

  undo() {
    if (!this.history.length) return;
    this.future.push(this.grid);
    this.grid = this.history.pop();
    this.selection.clear();
    this.changed();
  }

  redo() {
    if (!this.future.length) return;
    this.history.push(this.grid);
    this.grid = this.future.pop();
    this.changed();
  }

  fillSelection() {
    const rect = this.selection.rect;
    if (!rect) return;
    const b = bounds(rect);
    const next = copyGrid(this.grid);
    for (let r = b.top; r <= b.bottom; r++) for (let c = b.left; c <= b.right; c++) next[r][c] = this.colour;
    this.apply(next);
  }

  flood(at) {
    const from = this.grid[at.r][at.c];
    if (from === this.colour) return;
    const next = copyGrid(this.grid);
    const stack = [[at.r, at.c]];
    while (stack.length) {
      const [r, c] = stack.pop();
      if (r < 0 || c < 0 || r >= next.length || c >= next[0].length || next[r][c] !== from) continue;
      next[r][c] = this.colour;
      stack.push([r + 1, c], [r - 1, c], [r, c + 1], [r, c - 1]);
    }
    this.apply(next);
  }

  copy() {
    const source = lastSelected || this;
    const grid = source === this ? this.grid : source.grid;
    const cells = source.selection.cells(grid);
    if (!cells) return false;
    clipboard.cells = cells;
    return true;
  }

  /** Paste what C copied, its top-left at the selection's (or else the cursor's) corner. */
  paste() {
    if (!clipboard.cells) return false;
    const at = this.selection.rect ? bounds(this.selection.rect) : { top: this.cursor.r, left: this.cursor.c };
    const next = copyGrid(this.grid);
    clipboard.cells.forEach((row, dr) => row.forEach((value, dc) => {
      const r = at.top + dr;
      const c = at.left + dc;
      if (r < next.length && c < next[0].length) next[r][c] = value;
    }));
    this.apply(next);
    return true;
  }

  pointerDown(event) {
    const cell = cellAt(this.canvas, event);
    if (!cell) return;
    this.canvas.focus();
    this.cursor = cell;
    if (this.mode === "edit") {
      this.beginStroke();
      this.paint(cell);
      this.render();
    } else if (this.mode === "fill") {
      this.flood(cell);
    } else {
      this.selection.start(cell);
      lastSelected = this;
      this.render();
    }
  }

  pointerMove(event) {
    if (!this.stroke && !this.selection.dragging) return;
    const cell = cellAt(this.canvas, event);
    if (!cell) return;
    if (this.stroke) this.paint(cell);
    else { this.selection.extend(cell); this.render(); }
  }

  pointerUp() {
    if (this.stroke) this.endStroke();
    this.selection.dragging = false;
  }

  /** Paint one cell; the first change of a stroke starts one undoable step. */
  paint(cell) {
    if (this.grid[cell.r][cell.c] === this.colour) return;
    if (!this.strokeDirty) {
      this.history.push(this.grid);
      if (this.history.length > HISTORY) this.history.shift();
      this.future = [];
      this.grid = copyGrid(this.grid);
      this.strokeDirty = true;
    }
    this.grid[cell.r][cell.c] = this.colour;
    this.render();
  }

  beginStroke() { this.stroke = true; this.strokeDirty = false; }

  endStroke() {
    this.stroke = false;
    if (this.strokeDirty) { this.strokeDirty = false; this.onChange(this.grid); this.state(); }
  }

  /** Keyboard commands; true when the key was used. */
  handleKey(event) {
    const key = event.key;
    const ctrl = event.ctrlKey || event.metaKey;
    if (ctrl && key.toLowerCase() === "z") { event.shiftKey ? this.redo() : this.undo(); return true; }
    if (ctrl && key.toLowerCase() === "y") { this.redo(); return true; }
    if (ctrl || event.altKey) return false;
    if (/^[0-9]$/.test(key)) { this.setColour(Number(key)); return true; }
    const lower = key.toLowerCase();
    if (lower === "e") { this.setMode("edit"); return true; }
    if (lower === "s") { this.setMode("select"); return true; }
    if (lower === "f") { this.setMode("fill"); return true; }
    if (lower === "c") { this.copy(); return true; }
    if (lower === "v") { this.paste(); return true; }
    if (lower === "g") { this.setNumbers(!this.numbers); return true; }
    if (key === "Escape") { this.selection.clear(); this.render(); return true; }
    if (key === " ") { this.useAtCursor(); return true; }
    const step = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[key];
    if (step) { this.moveCursor(step, event.shiftKey); return true; }
    return false;
  }

  useAtCursor() {
    if (this.mode === "fill") this.flood(this.cursor);
    else if (this.mode === "edit") { this.beginStroke(); this.paint(this.cursor); this.endStroke(); }
    else if (this.selection.rect) this.fillSelection();
  }

  moveCursor([dr, dc], extend) {
    const r = Math.max(0, Math.min(this.grid.length - 1, this.cursor.r + dr));
    const c = Math.max(0, Math.min(this.grid[0].length - 1, this.cursor.c + dc));
    if (extend) {
      if (!this.selection.rect) this.selection.start(this.cursor);
      this.selection.dragging = false;
      this.selection.extend({ r, c });
      lastSelected = this;
    }
    this.cursor = { r, c };
    this.render();
  }

  changed() {
    this.cursor = {
      r: Math.min(this.cursor.r, this.grid.length - 1),
      c: Math.min(this.cursor.c, this.grid[0].length - 1),
    };
    this.render();
    this.onChange(this.grid);
    this.state();
  }

  state() { this.onState(this); }

  render() {
    drawGrid(this.canvas, this.grid, this.cell, {
      numbers: this.numbers,
      selection: this.selection.rect,
      cursor: document.activeElement === this.canvas ? this.cursor : null,
    });
  }
}

// Solving a test input: the input, the output editor and its tools, the live distance
// (computed on the server, hideable), Submit, and revealing the answer on request.

import { api } from "./api.js";
import { $, el, toast } from "./dom.js";
import { OutputEditor, SourceGrid, MODES } from "./editor.js";
import { blank, copyGrid, fitCell, gridCanvas, MAX_SIDE, PALETTE } from "./grid.js";

const DISTANCE_DELAY_MS = 120;

export function createSolver({ view, onNumbers, onTest = () => {} }) {
  const status = $("#verdict");
  const distanceBox = $("#distance");
  const distanceValue = $("#distance-value");
  const distanceBar = $("#distance-bar");
  const sizeInput = $("#size");
  const testLabel = $("#test-label");
  const answerBox = $("#answer");
  const state = {
    task: null,
    testIndex: 0,
    drafts: new Map(),
    revealed: new Set(),
    solved: new Set(),
    hideDistance: localStorage.getItem("arcbench.hideDistance") === "1",
    asked: 0,
    edits: 0,
    timer: 0,
    shape: "",
    area: { width: 600, height: 400 },
  };

  const editor = new OutputEditor($("#test-output"), { onChange: changed, onState: showTools });
  const source = new SourceGrid($("#test-input"), editor);

  // -- tools ---------------------------------------------------------------------------------
  const palette = $("#palette");
  palette.replaceChildren(...PALETTE.map((colour, value) => {
    const swatch = el("button", {
      type: "button", class: "swatch", title: `Colour ${value} (key ${value})`,
      "aria-label": `Colour ${value}`, dataset: { colour: value },
      onclick: () => editor.setColour(value),
    }, el("span", { text: String(value) }));
    swatch.style.background = colour;
    return swatch;
  }));
  for (const mode of MODES) $(`#mode-${mode}`).addEventListener("click", () => editor.setMode(mode));
  $("#undo").addEventListener("click", () => editor.undo());
  $("#redo").addEventListener("click", () => editor.redo());
  $("#numbers").addEventListener("click", () => editor.setNumbers(!editor.numbers));
  let numbersShown = false;
  $("#copy-input").addEventListener("click", () => editor.apply(copyGrid(source.grid)));
  $("#reset").addEventListener("click", () => editor.apply(blank(source.grid.length, source.grid[0].length)));
  $("#resize-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const match = /^\s*(\d{1,2})\s*[x×*,\s]\s*(\d{1,2})\s*$/i.exec(sizeInput.value);
    const rows = match ? Number(match[1]) : 0;
    const cols = match ? Number(match[2]) : 0;
    if (!match || rows < 1 || cols < 1 || rows > MAX_SIDE || cols > MAX_SIDE) {
      sizeInput.setCustomValidity(`Give rows×columns, each 1 to ${MAX_SIDE}, for example 3x4.`);
      sizeInput.reportValidity();
      return;
    }
    sizeInput.setCustomValidity("");
    editor.resize(rows, cols);
  });
  sizeInput.addEventListener("input", () => sizeInput.setCustomValidity(""));
  $("#submit").addEventListener("click", () => submit());
  $("#reveal").addEventListener("click", () => reveal());
  $("#toggle-distance").addEventListener("click", () => {
    state.hideDistance = !state.hideDistance;
    localStorage.setItem("arcbench.hideDistance", state.hideDistance ? "1" : "0");
    showDistanceState();
    if (!state.hideDistance) scheduleDistance(0);
  });
  $("#prev-test").addEventListener("click", () => showTest(state.testIndex - 1));
  $("#next-test").addEventListener("click", () => showTest(state.testIndex + 1));

  function showTools() {
    for (const mode of MODES) $(`#mode-${mode}`).setAttribute("aria-pressed", String(editor.mode === mode));
    for (const swatch of palette.children) {
      swatch.setAttribute("aria-pressed", String(Number(swatch.dataset.colour) === editor.colour));
    }
    $("#undo").disabled = !editor.history.length;
    $("#redo").disabled = !editor.future.length;
    $("#numbers").setAttribute("aria-pressed", String(editor.numbers));
    if (editor.numbers !== numbersShown) {
      numbersShown = editor.numbers;
      source.render();
      onNumbers(editor.numbers);
    }
    $("#test-output").dataset.mode = editor.mode;
  }

  function showDistanceState() {
    distanceBox.hidden = state.hideDistance;
    $("#toggle-distance").textContent = state.hideDistance ? "Show distance" : "Hide distance";
  }

  // -- showing a test input -------------------------------------------------------------------
  function answerKnown() { return state.task.test[state.testIndex].answer_known; }

  /** Show a (new) task; `keepDrafts` when only the view of the same task changed. */
  function showTask(task, testIndex = 0) {
    state.task = task;
    state.drafts = new Map();
    state.revealed = new Set();
    state.solved = new Set();
    showTest(Math.min(testIndex, task.test.length - 1));
  }

  function showTest(index) {
    const tests = state.task.test;
    if (index < 0 || index >= tests.length) return;
    state.testIndex = index;
    testLabel.textContent = `Test ${index + 1} of ${tests.length}`;
    $("#prev-test").disabled = index === 0;
    $("#next-test").disabled = index === tests.length - 1;
    const input = tests[index].input;
    source.grid = input;
    state.shape = "";
    setVerdict("", "");
    const known = tests[index].answer_known;
    $("#submit").disabled = !known;
    $("#reveal").disabled = !known;
    $("#no-answer").hidden = known;
    answerBox.replaceChildren();
    editor.load(state.drafts.get(index) || blank(input.length, input[0].length));
    if (state.revealed.has(index)) reveal();
    onTest(index);
  }

  /** Size the input and output to share one cell size that fits the panel. */
  function layout() {
    const input = source.grid;
    const output = editor.grid;
    const cell = fitCell(Math.max(input.length, output.length), input[0].length + output[0].length,
      state.area.width, state.area.height, 6, 56);
    source.show(input, cell);
    editor.setCell(cell);
    $("#test-input-shape").textContent = `${input.length}×${input[0].length}`;
  }

  function changed(grid) {
    state.edits += 1;
    state.drafts.set(state.testIndex, grid);
    const shape = `${grid.length}×${grid[0].length}`;
    if (shape !== state.shape) {
      state.shape = shape;
      sizeInput.value = `${grid.length}x${grid[0].length}`;
      $("#test-output-shape").textContent = shape;
      layout();
    }
    setVerdict("", "");
    scheduleDistance(DISTANCE_DELAY_MS);
  }

  // -- checking on the server -----------------------------------------------------------------
  function scheduleDistance(delay) {
    clearTimeout(state.timer);
    if (state.hideDistance || !state.task || !answerKnown()) {
      distanceValue.textContent = state.task && !answerKnown() ? "no answer known" : "–";
      return;
    }
    state.timer = setTimeout(() => check().then(({ result, current }) => {
      if (current) showDistance(result);
    }, () => {}), delay);
  }

  /** Check the output as it is now; `current` says whether it is still the latest check of
   * the grid still shown (a newer edit or check makes an answer stale). */
  async function check() {
    const asked = ++state.asked;
    const edit = state.edits;
    const where = view();
    const result = await api.check(where.taskId, where, state.testIndex, editor.grid);
    return { result, current: asked === state.asked && edit === state.edits };
  }

  function showDistance(result) {
    const percent = (result.distance * 100).toFixed(1);
    distanceValue.textContent = result.shape_match
      ? `${result.distance.toFixed(3)} · ${percent}% of cells differ`
      : "1.000 · the size differs";
    distanceBar.style.width = `${(1 - result.distance) * 100}%`;
    distanceBox.dataset.correct = String(result.correct);
  }

  function setVerdict(text, kind) {
    status.textContent = text;
    status.dataset.kind = kind;
  }

  async function submit() {
    if (!state.task || !answerKnown()) return;
    clearTimeout(state.timer);
    try {
      const { result, current } = await check();
      if (!current) return;
      if (!state.hideDistance) showDistance(result);
      if (result.correct) {
        setVerdict("✓ Correct", "correct");
        if (!state.solved.has(state.testIndex)) {
          state.solved.add(state.testIndex);
          onTest(state.testIndex);
        }
      }
      else if (!result.shape_match) setVerdict("✗ Not correct: the size differs", "wrong");
      else setVerdict(`✗ Not correct: ${(result.distance * 100).toFixed(1)}% of cells differ`, "wrong");
    } catch (e) {
      toast(e.message, "error");
    }
  }

  async function reveal() {
    if (!state.task || !answerKnown()) return;
    try {
      const where = view();
      const index = state.testIndex;
      const { output } = await api.answer(where.taskId, where, index);
      if (index !== state.testIndex) return;
      const first = !state.revealed.has(index);
      state.revealed.add(index);
      if (first) onTest(index);
      const cell = Number($("#test-output").dataset.cell) || 12;
      answerBox.replaceChildren(el("figure", { class: "answer" },
        el("figcaption", { text: `Answer ${output.length}×${output[0].length}` }),
        gridCanvas(output, cell, `Answer to test ${index + 1}`, { numbers: editor.numbers })));
    } catch (e) {
      toast(e.message, "error");
    }
  }

  showDistanceState();
  return {
    editor,
    showTask,
    layout,
    /** The room the input and output share (main measures it before drawing). */
    setArea(width, height) { state.area = { width, height }; },
    submit,
    reveal,
    test: () => state.testIndex,
    /** Whether test input `index`'s answer may show: the person solved or revealed it, or it
     * is not known at all. */
    opened: (index) => state.solved.has(index) || state.revealed.has(index) ||
      !(state.task && state.task.test[index] && state.task.test[index].answer_known),
    step: (delta) => showTest(state.testIndex + delta),
  };
}

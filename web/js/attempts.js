// Model attempts beside the editor: every attempt the runs under --runs made at the open task
// version, for the test input shown, with the model, the run, whether it was right, and its
// predicted grid (click it to copy it into the editor); its reasoning and code on request.
// A right prediction is the answer, so the list stays folded, with a warning, until the person
// has solved or revealed that test input.

import { api } from "./api.js";
import { $, el, toast } from "./dom.js";
import { copyGrid, gridCanvas } from "./grid.js";
import { attemptBody, outcomeTag, verdictMark } from "./runview.js";

const PANEL_WIDTH = 300;

function attemptName(attempt) {
  return `attempt ${attempt.attempt}${attempt.round ? ` · round ${attempt.round}` : ""}`;
}

export function createAttemptsPanel({ solver, onCount, trainPairs = () => [] }) {
  const list = $("#attempts");
  const fold = $("#attempts-fold");
  const body = $("#attempts-body");
  const note = $("#attempts-note");
  const modelFilter = $("#attempts-model");
  const outcomeFilter = $("#attempts-outcome");
  const state = { where: null, runs: [], asked: 0, details: new Map() };

  $("#attempts-reveal").addEventListener("click", () => solver.reveal());
  modelFilter.addEventListener("change", () => render());
  outcomeFilter.addEventListener("change", () => render());

  /** Show the attempts at a task version as the page shows it (`transforms`, `tests`). */
  async function show(where) {
    state.where = where;
    await refresh();
  }

  async function refresh() {
    if (!state.where) return;
    const asked = ++state.asked;
    const { taskId, version, transforms, tests } = state.where;
    const answer = await api.attempts(taskId, { version, transforms, tests });
    if (asked !== state.asked) return;
    state.runs = answer.runs;
    render();
  }

  /** The attempts with an answer for test input `index`, each with its run. */
  function forTest(index) {
    const found = [];
    for (const run of state.runs) {
      for (const attempt of run.attempts) {
        const answer = attempt.answers.find((a) => a.test_index === index);
        // A failed program answers no test input: it is listed at each of them.
        const attemptedHere = answer || attempt.test_index === index ||
          (attempt.test_index === null && !attempt.answers.length);
        if (attemptedHere) found.push({ run, attempt, answer: answer || null });
      }
    }
    return found;
  }

  function render() {
    const index = solver.test();
    const all = forTest(index);
    onCount(all.length);
    const models = [...new Set(all.map(({ run, attempt }) => modelOf(run, attempt)))].sort();
    const chosen = modelFilter.value;
    modelFilter.replaceChildren(el("option", { value: "", text: `all (${models.length})` }),
      ...models.map((model) => el("option", { value: model, text: model, selected: model === chosen })));
    if (chosen && !models.includes(chosen)) modelFilter.value = "";
    const open = solver.opened(index);
    fold.hidden = open || !all.length;
    body.hidden = !open && all.length > 0;
    const shown = all.filter(({ run, attempt, answer }) =>
      (!modelFilter.value || modelOf(run, attempt) === modelFilter.value) &&
      (!outcomeFilter.value || (outcomeFilter.value === "correct") === (answer !== null && answer.correct === true)));
    note.textContent = all.length
      ? `${shown.length} of ${all.length} attempt${all.length === 1 ? "" : "s"} at test ${index + 1}, from ${new Set(all.map((a) => a.run.name)).size} run(s).`
      : "No run under the runs directory attempted this test input.";
    if (body.hidden) {
      list.replaceChildren();
      return;
    }
    list.replaceChildren(...shown.map(card));
  }

  function modelOf(run, attempt) { return attempt.model || run.model_id || run.model || "unknown model"; }

  function card({ run, attempt, answer }) {
    const prediction = answer ? answer.prediction : null;
    const verdict = answer && answer.prediction !== null ? verdictMark(answer.correct) : outcomeTag(attempt.outcome);
    const head = el("div", { class: "model-attempt-head" },
      el("span", { class: "tag model", title: modelOf(run, attempt), text: modelOf(run, attempt) }),
      verdict,
      attempt.submitted ? el("span", { class: "tag submitted", title: "Counts as attempt 1 or 2", text: "submitted" }) : null);
    const where = el("div", { class: "model-attempt-head" },
      el("span", { class: "run", text: `${run.name} · ${attemptName(attempt)}` }));
    const grid = prediction
      ? el("button", {
        type: "button", class: "copy", title: "Copy this grid into the editor",
        onclick: () => {
          solver.editor.apply(copyGrid(prediction));
          toast(`Copied the ${modelOf(run, attempt)} prediction into the editor.`);
        },
      }, gridCanvas(prediction, Math.max(4, Math.min(16, Math.floor(PANEL_WIDTH / Math.max(prediction.length, prediction[0].length)))),
        `Prediction of ${modelOf(run, attempt)}`),
      el("span", { class: "copy-hint", text: `${prediction.length}×${prediction[0].length} · click to copy into the editor` }))
      : el("p", { class: "note", text: attempt.outcome === "error" ? "The attempt failed." : "No grid for this test input." });
    const more = el("details", {}, el("summary", { text: "Reasoning and code" }), el("p", { class: "note", text: "Loading…" }));
    more.addEventListener("toggle", () => { if (more.open) loadDetails(run, attempt, more); }, { once: false });
    const link = el("a", {
      class: "open-run",
      href: `/runs.html#${new URLSearchParams({ run: run.name, task: taskLabel(), attempt: attempt.record_id })}`,
      text: "Open in the runs page",
    });
    return el("li", { class: "model-attempt", dataset: { recordId: attempt.record_id, run: run.name } }, head, where, grid, more, link);
  }

  function taskLabel() {
    const { taskId, version } = state.where;
    return version === null ? taskId : `${taskId}@${version}`;
  }

  async function loadDetails(run, attempt, details) {
    const key = `${run.name}/${attempt.record_id}`;
    try {
      let full = state.details.get(key);
      if (!full) {
        full = await api.runRecord(run.name, attempt.record_id);
        state.details.set(key, full);
      }
      const parts = attemptBody(full, { answers: false, trainPairs: trainPairs() });
      details.replaceChildren(details.firstChild, ...(parts.length ? parts : [el("p", { class: "note", text: "No reasoning or code was recorded." })]));
    } catch (error) {
      toast(error.message, "error");
    }
  }

  return { show, refresh, render, clear: () => { state.where = null; state.runs = []; state.details.clear(); } };
}

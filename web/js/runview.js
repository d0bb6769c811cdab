// One task of a run in full, as the server's task view (arcbench.runview) describes it: the
// train pairs, each test input beside its expected output and the two attempts submitted, and
// every attempt with its predictions (cells that differ from the expected output marked), its
// train results, its code and its reasoning. Everything a model wrote goes in as text.

import { el } from "./dom.js";
import { differences, gridCanvas } from "./grid.js";

const FIGURE_SIDE = 150;

/** A cell size that fits a grid of `rows` x `cols` into about `side` pixels. */
export function cellFor(grid, side = FIGURE_SIDE) {
  return Math.max(3, Math.min(18, Math.floor(side / Math.max(grid.length, grid[0].length))));
}

function shape(grid) { return `${grid.length}×${grid[0].length}`; }

/** A captioned grid; `expected` marks the cells that differ; a dash when there is none. */
export function gridFigure(grid, caption, { expected = null, cell = null, verdict = null, side = FIGURE_SIDE } = {}) {
  const head = el("figcaption", {}, el("span", { text: caption }),
    grid ? el("span", { class: "shape", text: shape(grid) }) : null,
    verdict === null ? null : verdictMark(verdict));
  if (!grid) return el("figure", { class: "grid-figure empty" }, head, el("span", { class: "no-grid", text: "no grid" }));
  const size = cell || cellFor(grid, side);
  const canvas = gridCanvas(grid, size, caption, { expected });
  const wrong = expected ? differences(grid, expected) : null;
  const foot = expected && verdict === false
    ? el("span", { class: "diff-note", text: wrong === null ? "size differs" : `${wrong} cell${wrong === 1 ? "" : "s"} differ` })
    : null;
  return el("figure", { class: "grid-figure" }, head, canvas, foot);
}

export function verdictMark(correct) {
  if (correct === true) return el("span", { class: "verdict-tag good", text: "✓ right" });
  if (correct === false) return el("span", { class: "verdict-tag bad", text: "✗ wrong" });
  return el("span", { class: "verdict-tag", text: "? unknown" });
}

const OUTCOMES = {
  correct: ["right", "good"],
  answered: ["wrong", "bad"],
  parse_error: ["no grid in the reply", "warn"],
  error: ["failed", "bad"],
};

/** An attempt's outcome as a small tag. */
export function outcomeTag(outcome) {
  const [text, kind] = OUTCOMES[outcome] || [outcome, ""];
  return el("span", { class: `verdict-tag ${kind}`, text });
}

export const STATUS_TEXT = {
  solved: "solved", "partly solved": "partly solved", unsolved: "unsolved", failed: "failed", pending: "no attempt yet",
};

export function statusBadge(status) {
  return el("span", { class: `status-badge task-${status.replace(" ", "-")}`, text: STATUS_TEXT[status] || status });
}

function attemptTitle(attempt) {
  const parts = [`attempt ${attempt.attempt}`];
  if (attempt.round) parts.push(`round ${attempt.round}`);
  if (attempt.test_index !== null) parts.push(`test ${attempt.test_index + 1}`);
  if (attempt.rule) parts.push(attempt.rule);
  return parts.join(" · ");
}

function numberText(n) { return Number(n).toLocaleString("en-US"); }

/** The body of one attempt: answers against the expected outputs, train results, the code,
 * the reasoning, and what went wrong. `expected(i)` gives test input i's output (or null);
 * `trainPairs` the task's train pairs (or []). */
export function attemptBody(attempt, { expected = () => null, trainPairs = [], answers = true } = {}) {
  const parts = [];
  if (attempt.error) parts.push(el("p", { class: "attempt-error", text: `Failed: ${attempt.error}` }));
  if (attempt.parse_error) parts.push(el("p", { class: "attempt-error", text: `No grid taken from the reply: ${attempt.parse_error}` }));
  if (answers && attempt.answers.length) {
    parts.push(el("h4", { text: "Predictions" }));
    parts.push(el("div", { class: "grid-row" }, attempt.answers.flatMap((answer) => {
      const wanted = expected(answer.test_index);
      return [
        gridFigure(answer.prediction, `test ${answer.test_index + 1} predicted`, { expected: wanted, verdict: answer.correct }),
        wanted ? gridFigure(wanted, `test ${answer.test_index + 1} expected`) : null,
      ];
    })));
  }
  if (attempt.train_results) {
    const right = attempt.train_results.filter((r) => r.status === "correct").length;
    parts.push(el("h4", { text: `Train results: ${right} of ${attempt.train_results.length} right` }));
    parts.push(el("ol", { class: "train-results" }, attempt.train_results.map((result, index) => {
      const pair = trainPairs[index];
      const ok = result.status === "correct";
      const figures = result.output
        ? el("div", { class: "grid-row" },
          gridFigure(result.output, "program's output", { expected: pair ? pair.output : null, verdict: false, side: 110 }),
          pair ? gridFigure(pair.output, "expected", { side: 110 }) : null)
        : null;
      return el("li", { class: ok ? "ok" : "not-ok" },
        el("span", { class: `verdict-tag ${ok ? "good" : "bad"}`, text: `pair ${index + 1}: ${result.status}` }),
        result.detail && !["correct", "wrong"].includes(result.status) ? el("pre", { class: "detail", text: result.detail }) : null,
        figures);
    })));
  }
  if (attempt.code) {
    parts.push(el("h4", { text: "Code" }));
    parts.push(el("pre", { class: "code", text: attempt.code }));
  }
  if (attempt.reasoning) {
    parts.push(el("h4", { text: "Reasoning" }));
    parts.push(el("div", { class: "reasoning", text: attempt.reasoning }));
  }
  if (attempt.response && attempt.parse_error) {
    parts.push(el("h4", { text: "The reply" }));
    parts.push(el("pre", { class: "reply", text: attempt.response }));
  }
  const usage = [];
  if (attempt.prompt_tokens || attempt.completion_tokens) {
    usage.push(`${numberText(attempt.prompt_tokens)} prompt + ${numberText(attempt.completion_tokens)} completion tokens`);
  }
  if (attempt.cost_usd) usage.push(`$${attempt.cost_usd.toFixed(4)}`);
  if (attempt.latency_s) usage.push(`${attempt.latency_s.toFixed(1)} s`);
  if (attempt.finished_at) usage.push(attempt.finished_at.replace("T", " ").replace("+00:00", " UTC"));
  if (usage.length) parts.push(el("p", { class: "note", text: usage.join(" · ") }));
  return parts;
}

/** Render a task view into `container`; `open` is the record id of an attempt to unfold. */
export function renderTaskView(container, view, { open = null, solveLink = null, onToggle = null } = {}) {
  const outcome = view.outcome;
  const head = el("div", { class: "task-detail-head" },
    el("h3", { class: "mono", text: outcome.label }),
    statusBadge(outcome.status),
    el("span", { class: "note", text: `score ${outcome.score.toFixed(2)} · ${outcome.attempts} attempt${outcome.attempts === 1 ? "" : "s"}` }),
    solveLink ? el("a", { class: "solve-link", href: solveLink, text: "Open in the solver" }) : null);
  const parts = [head];
  if (view.note) parts.push(el("p", { class: "note warn", text: view.note }));
  if (view.train.length) {
    parts.push(el("details", { class: "train" },
      el("summary", { text: `Train pairs (${view.train.length})` }),
      el("div", { class: "train-grid" }, view.train.map((pair, index) =>
        el("div", { class: "grid-row" },
          gridFigure(pair.input, `pair ${index + 1} input`, { side: 120 }),
          el("span", { class: "arrow", "aria-hidden": "true", text: "→" }),
          gridFigure(pair.output, "output", { side: 120 }))))));
  }
  for (const test of view.tests) {
    parts.push(el("section", { class: "test-view" },
      el("h4", {}, `Test ${test.index + 1}`, test.solved ? el("span", { class: "verdict-tag good", text: "solved" }) : null),
      el("div", { class: "grid-row" },
        test.input ? gridFigure(test.input, "input") : null,
        test.expected ? gridFigure(test.expected, "expected") : null,
        test.submitted.map((sub) => gridFigure(sub.prediction, `attempt ${sub.number}`,
          { expected: test.expected, verdict: sub.record_id ? sub.correct : null })))));
  }
  const expected = (index) => (view.tests[index] ? view.tests[index].expected : null);
  const list = el("ol", { class: "attempt-list" }, view.attempts.map((attempt) => {
    const details = el("details", { class: "attempt", dataset: { recordId: attempt.record_id }, open: attempt.record_id === open },
      el("summary", {},
        el("span", { class: "attempt-name", text: attemptTitle(attempt) }),
        outcomeTag(attempt.outcome),
        attempt.submitted ? el("span", { class: "tag submitted", text: "submitted" }) : null,
        attempt.final ? null : el("span", { class: "tag", text: "repaired later" }),
        attempt.model ? el("span", { class: "tag model", text: attempt.model }) : null),
      el("div", { class: "attempt-body" }, attemptBody(attempt, { expected, trainPairs: view.train })));
    if (onToggle) details.addEventListener("toggle", () => onToggle(attempt.record_id, details.open));
    return el("li", {}, details);
  }));
  parts.push(el("h4", { class: "attempts-heading", text: `Attempts (${view.attempts.length})` }), list);
  container.replaceChildren(...parts);
  if (open) {
    const target = container.querySelector(`details[data-record-id="${CSS.escape(open)}"]`);
    if (target) target.scrollIntoView({ block: "nearest" });
  }
}

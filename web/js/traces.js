// The annotate panel: the reasoning traces of the task version shown, best first, with author,
// time, version, score and, for traces merged from a run, the model, the run and whether the
// attempt was right. A person adds traces, edits and deletes their own, and votes (pressing a
// pressed vote withdraws it). Text is always put in as text: a trace holding markup shows it.

import { api } from "./api.js";
import { $, el, toast } from "./dom.js";

const LONG_TEXT = 900;

function when(seconds) {
  if (typeof seconds !== "number") return String(seconds || "");
  const date = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function versionLabel(version) { return version === null ? "original" : `version ${version}`; }

/** Whether a merged attempt was right: one flag, or one per test input (codegen). */
function rightness(correct) {
  if (correct === true) return { text: "right", kind: "good" };
  if (correct === false) return { text: "wrong", kind: "bad" };
  if (Array.isArray(correct) && correct.length) {
    const right = correct.filter((value) => value === true).length;
    const kind = right === correct.length ? "good" : right ? "" : "bad";
    return { text: `right on ${right} of ${correct.length} test inputs`, kind };
  }
  return { text: "answer unknown", kind: "" };
}

export function createTracesPanel({ session, runName, onCount }) {
  const list = $("#traces");
  const empty = $("#traces-empty");
  const form = $("#trace-form");
  const input = $("#trace-text");
  const forLabel = $("#trace-for");
  const state = { taskId: null, version: null, traces: [], editing: new Map(), asked: 0, expanded: new Set() };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) {
      input.focus();
      return;
    }
    if (!(await session.ensure())) return;
    try {
      await api.addTrace(state.taskId, state.version, text);
      input.value = "";
      toast("Trace added.");
      await refresh();
    } catch (error) {
      toast(error.message, "error");
    }
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });

  async function show(taskId, version) {
    if (taskId !== state.taskId || version !== state.version) {
      state.editing.clear();
      state.expanded.clear();
      state.traces = [];
      list.replaceChildren();
    }
    state.taskId = taskId;
    state.version = version;
    forLabel.textContent = `for the ${versionLabel(version)}`;
    await refresh();
  }

  /** Re-read the list (after a change here, or one another browser made). */
  async function refresh() {
    if (!state.taskId) return;
    const asked = ++state.asked;
    const { taskId, version } = state;
    const answer = await api.traces(taskId, version);
    if (asked !== state.asked) return;
    state.traces = answer.traces;
    render();
  }

  function render() {
    const known = new Set(state.traces.map((trace) => trace.trace_id));
    for (const id of [...state.editing.keys()]) if (!known.has(id)) state.editing.delete(id);
    // A trace being edited keeps its element, so a change made elsewhere never takes the
    // cursor or the draft away.
    const kept = new Map([...list.children]
      .filter((node) => state.editing.has(node.dataset.traceId))
      .map((node) => [node.dataset.traceId, node]));
    list.replaceChildren(...state.traces.map((trace) => kept.get(trace.trace_id) || item(trace)));
    empty.hidden = state.traces.length > 0;
    onCount(state.traces.length);
  }

  function item(trace) {
    const source = trace.source;
    const head = el("div", { class: "trace-head" },
      source
        ? el("span", { class: "author model", title: "A model's reasoning, merged from a run", text: trace.username })
        : el("span", { class: "author", text: trace.username }),
      el("span", { class: "when", text: when(trace.timestamp) }),
      trace.edited_at ? el("span", { class: "edited", title: `Edited ${when(trace.edited_at)}`, text: "edited" }) : null,
      el("span", { class: "tag", text: versionLabel(trace.version) }));
    const origin = source ? provenance(source) : null;
    const body = state.editing.has(trace.trace_id) ? editor(trace) : text(trace);
    return el("li", { class: "trace", dataset: { traceId: trace.trace_id } }, head, origin, body, footer(trace));
  }

  /** Draw one trace again in place (entering or leaving its editor). */
  function replace(trace) {
    const node = [...list.children].find((child) => child.dataset.traceId === trace.trace_id);
    if (node) node.replaceWith(item(trace));
  }

  function provenance(source) {
    const right = rightness(source.correct);
    const name = runName(source.run_id);
    const run = name || (source.run_id ? source.run_id.slice(0, 12) : null);
    const label = `from ${source.command === "codegen" ? "codegen " : ""}run ${run || "unknown"}`;
    return el("div", { class: "trace-source" },
      name
        ? el("a", { href: `/runs.html#${new URLSearchParams({ run: name, task: state.version === null ? state.taskId : `${state.taskId}@${state.version}`, attempt: source.record_id })}`, text: label })
        : el("span", { text: label }),
      el("span", { class: `verdict-tag ${right.kind}`, text: right.text }));
  }

  function text(trace) {
    const long = trace.text.length > LONG_TEXT;
    const open = state.expanded.has(trace.trace_id);
    const box = el("div", { class: `trace-text${long && !open ? " clipped" : ""}`, text: trace.text });
    if (!long) return box;
    const more = el("button", {
      type: "button", class: "link more", text: open ? "Show less" : "Show all",
      onclick: () => {
        if (state.expanded.has(trace.trace_id)) state.expanded.delete(trace.trace_id);
        else state.expanded.add(trace.trace_id);
        render();
      },
    });
    return el("div", {}, box, more);
  }

  function editor(trace) {
    const area = el("textarea", { class: "trace-edit", rows: 6, maxlength: 16000, "aria-label": "Edit the trace" });
    area.value = state.editing.get(trace.trace_id);
    area.addEventListener("input", () => state.editing.set(trace.trace_id, area.value));
    const cancel = () => { state.editing.delete(trace.trace_id); replace(trace); };
    const save = async () => {
      try {
        await api.editTrace(trace.trace_id, area.value);
        state.editing.delete(trace.trace_id);
        toast("Trace saved.");
        await refresh();
      } catch (error) {
        toast(error.message, "error");
      }
    };
    area.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) save();
      if (event.key === "Escape") cancel();
    });
    requestAnimationFrame(() => area.focus());
    return el("div", { class: "trace-editing" }, area,
      el("div", { class: "row end" },
        el("button", { type: "button", onclick: cancel }, "Cancel"),
        el("button", { type: "button", class: "primary", onclick: save }, "Save")));
  }

  function footer(trace) {
    const vote = (value) => async () => {
      if (!(await session.ensure())) return;
      try {
        await api.vote(trace.trace_id, trace.my_vote === value ? 0 : value);
        await refresh();
      } catch (error) {
        toast(error.message, "error");
      }
    };
    const up = el("button", {
      type: "button", class: "vote up", "aria-pressed": String(trace.my_vote === 1),
      title: trace.my_vote === 1 ? "Withdraw your vote" : "Vote up",
      "aria-label": trace.my_vote === 1 ? "Withdraw your up vote" : "Vote up", onclick: vote(1),
    }, "▲");
    const down = el("button", {
      type: "button", class: "vote down", "aria-pressed": String(trace.my_vote === -1),
      title: trace.my_vote === -1 ? "Withdraw your vote" : "Vote down",
      "aria-label": trace.my_vote === -1 ? "Withdraw your down vote" : "Vote down", onclick: vote(-1),
    }, "▼");
    const score = el("span", {
      class: "score", title: `${trace.votes} vote${trace.votes === 1 ? "" : "s"}`, text: String(trace.score),
    });
    const actions = [];
    if (trace.can_edit && !state.editing.has(trace.trace_id)) {
      actions.push(el("button", {
        type: "button", class: "link", onclick: () => { state.editing.set(trace.trace_id, trace.text); replace(trace); },
      }, "Edit"));
    }
    if (trace.can_delete) {
      actions.push(el("button", { type: "button", class: "link danger", onclick: (event) => remove(trace, event.currentTarget) }, "Delete"));
    }
    return el("div", { class: "trace-foot" }, el("div", { class: "votes" }, up, score, down), el("div", { class: "actions" }, actions));
  }

  const confirming = new WeakSet();

  async function remove(trace, button) {
    if (!confirming.has(button)) {
      confirming.add(button);
      button.textContent = "Really delete?";
      setTimeout(() => { confirming.delete(button); button.textContent = "Delete"; }, 4000);
      return;
    }
    try {
      await api.deleteTrace(trace.trace_id);
      toast("Trace deleted.");
      await refresh();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  return { show, refresh, rerender: () => { if (state.taskId) render(); } };
}

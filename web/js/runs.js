// The runs page: the run directories under --runs, one run's summary (live while it runs) and
// every task's outcome with filters, one task in full, and merging a run's traces into the
// store. Which run, task and attempt are shown is kept in the URL's fragment.

import { api } from "./api.js";
import { $, el, toast } from "./dom.js";
import { subscribe } from "./live.js";
import { renderTaskView, statusBadge } from "./runview.js";
import { createSession } from "./session.js";

const MAX_ROWS = 1500;
const FILTERS = {
  all: () => true,
  solved: (t) => t.status === "solved",
  unsolved: (t) => t.status !== "solved",
  errors: (t) => t.errors > 0,
  parse: (t) => t.parse_errors > 0,
};

const state = {
  runs: [], name: null, run: null, tasks: [], filter: "all", query: "", label: null, view: null,
  open: null, ticket: 0, shown: 0,
};

const session = createSession({ onChange: () => {} });

function failed(error) { toast(error.message, "error"); }

function percent(value) { return `${(value * 100).toFixed(1)}%`; }
function number(value) { return Number(value).toLocaleString("en-US"); }
function when(text) { return text ? text.replace("T", " ").replace(/\+00:00$/, " UTC") : "–"; }
function ago(seconds) {
  if (!seconds) return "";
  const passed = Math.max(0, Date.now() / 1000 - seconds);
  if (passed < 90) return `${Math.round(passed)} s ago`;
  if (passed < 5400) return `${Math.round(passed / 60)} min ago`;
  if (passed < 129600) return `${Math.round(passed / 3600)} h ago`;
  return `${Math.round(passed / 86400)} days ago`;
}

function labelKey(label) {
  const match = /^(.*)@(\d+)$/.exec(label);
  return match ? { taskId: match[1], version: Number(match[2]) } : { taskId: label, version: null };
}

function markReady() {
  state.shown += 1;
  document.body.dataset.ready = String(state.shown);
}

// -- the list of runs --------------------------------------------------------------------------

async function loadRuns() {
  const { runs } = await api.runs();
  state.runs = runs;
  $("#runs-count").textContent = runs.length ? String(runs.length) : "";
  $("#runs-empty").hidden = runs.length > 0;
  $("#run-list").replaceChildren(...runs.map((run) => {
    const totals = run.totals;
    return el("li", {},
      el("button", {
        type: "button", class: "run-card", "aria-current": run.name === state.name ? "true" : null,
        dataset: { run: run.name }, onclick: () => openRun(run.name).catch(failed),
      },
      el("span", { class: "run-name mono", text: run.name }),
      el("span", { class: "run-line" },
        el("span", { class: `status-badge run-${run.status || "unknown"}`, text: run.status || "no run.json" }),
        el("span", { class: "run-model", text: run.model_id || run.model || "" })),
      el("span", { class: "run-line note" },
        el("span", { text: `${percent(totals.score)} · ${totals.tasks_solved}/${totals.tasks} tasks` }),
        el("span", { text: run.command || "" }))));
  }));
}

// -- one run -----------------------------------------------------------------------------------

async function openRun(name, { label = null, open = null } = {}) {
  const ticket = ++state.ticket;
  const detail = await api.run(name);
  if (ticket !== state.ticket) return;
  const changed = name !== state.name;
  state.name = name;
  state.run = detail.run;
  state.tasks = detail.tasks;
  if (changed) {
    state.label = null;
    state.view = null;
    $("#task-detail").replaceChildren(el("p", { class: "note", text: "Pick a task to see its grids and every attempt at it." }));
  }
  for (const button of document.querySelectorAll(".run-card")) {
    button.setAttribute("aria-current", String(button.dataset.run === name));
  }
  showRun();
  showTasks();
  saveLocation();
  if (label) await openTask(label, { open });
  else markReady();
}

function showRun() {
  const run = state.run;
  const totals = run.totals;
  $("#run-title").textContent = run.name;
  document.title = `${run.name} · Runs · arcbench`;
  const badge = $("#run-status");
  badge.textContent = run.status || "no run.json";
  badge.className = `status-badge run-${run.status || "unknown"}`;
  const meta = [
    run.command, run.model_id && run.model_id !== run.model ? `${run.model} (${run.model_id})` : run.model,
    run.dataset, `started ${when(run.started_at)}`,
    run.finished_at ? `finished ${when(run.finished_at)}` : null,
    run.updated_at ? `last result ${ago(run.updated_at)}` : null,
  ].filter(Boolean);
  $("#run-meta").textContent = meta.join(" · ");
  $("#run-problems").replaceChildren(...run.problems.map((problem) => el("li", { text: problem })));
  const stats = [
    ["Score", percent(totals.score), "Per-task average of pass@2 (ARC Prize)"],
    ["Per output", percent(totals.per_output), "Share of test outputs solved"],
    ["pass@k", percent(totals.pass_at_k), "Test outputs any attempt got right"],
    ["Tasks solved", `${totals.tasks_solved} / ${totals.tasks}`, "Tasks with every test output solved"],
    ["Attempts", number(totals.records), "Records (the latest of each attempt)"],
    ["Errors", number(totals.errors), "Attempts that failed"],
    ["Parse errors", number(totals.parse_errors), "Replies without a usable grid or program"],
    ["Tokens", `${number(totals.prompt_tokens)} + ${number(totals.completion_tokens)}`, "Prompt + completion tokens"],
    ["Cost", `$${totals.cost_usd.toFixed(4)}`, "What every call cost"],
  ];
  $("#run-stats").replaceChildren(...stats.map(([name, value, title]) =>
    el("div", { class: "stat", title }, el("dt", { text: name }), el("dd", { text: value }))));
}

function showTasks() {
  const counts = Object.fromEntries(Object.entries(FILTERS).map(([name, test]) => [name, state.tasks.filter(test).length]));
  for (const button of document.querySelectorAll(".filters button")) {
    const name = button.dataset.filter;
    button.setAttribute("aria-pressed", String(name === state.filter));
    button.querySelector(".count").textContent = String(counts[name]);
  }
  const needle = state.query.trim().toLowerCase();
  const shown = state.tasks.filter((task) => FILTERS[state.filter](task) && (!needle || task.label.toLowerCase().includes(needle)));
  $("#task-rows").replaceChildren(...shown.slice(0, MAX_ROWS).map((task) =>
    el("li", {},
      el("button", {
        type: "button", class: "task-row", "aria-current": task.label === state.label ? "true" : null,
        dataset: { label: task.label }, onclick: () => openTask(task.label).catch(failed),
      },
      el("span", { class: "mono label", text: task.label }),
      statusBadge(task.status),
      el("span", { class: "score", text: task.solved.length ? `${task.solved.filter(Boolean).length}/${task.solved.length}` : "–" }),
      el("span", { class: "flags" },
        task.errors ? el("span", { class: "flag bad", title: "attempts that failed", text: `${task.errors} err` }) : null,
        task.parse_errors ? el("span", { class: "flag warn", title: "replies without a grid", text: `${task.parse_errors} parse` }) : null)))));
  const more = $("#task-rows-more");
  more.hidden = shown.length <= MAX_ROWS;
  more.textContent = `… and ${shown.length - MAX_ROWS} more: filter by id to find them.`;
  if (!shown.length) $("#task-rows").replaceChildren(el("li", { class: "note", text: "No task matches." }));
}

// -- one task ----------------------------------------------------------------------------------

async function openTask(label, { open = null } = {}) {
  const ticket = ++state.ticket;
  const { taskId, version } = labelKey(label);
  const view = await api.runTask(state.name, taskId, version);
  if (ticket !== state.ticket) return;
  state.label = label;
  state.view = view;
  state.open = open;
  for (const button of document.querySelectorAll(".task-row")) {
    button.setAttribute("aria-current", String(button.dataset.label === label));
  }
  showTask();
  saveLocation();
  markReady();
}

function showTask() {
  const run = state.run;
  const { taskId, version } = labelKey(state.label);
  const params = new URLSearchParams({ task: taskId });
  if (run.dataset) params.set("dataset", run.dataset);
  if (version !== null) params.set("version", String(version));
  renderTaskView($("#task-detail"), state.view, {
    open: state.open,
    solveLink: `/#${params}`,
    onToggle: (recordId, opened) => {
      state.open = opened ? recordId : (state.open === recordId ? null : state.open);
      saveLocation();
    },
  });
}

// -- merging -----------------------------------------------------------------------------------

async function merge() {
  if (!state.name || !(await session.ensure())) return;
  const button = $("#merge-run");
  button.disabled = true;
  const result = $("#merge-result");
  try {
    const merged = await api.mergeRun(state.name);
    const parts = [`Added ${merged.added} trace${merged.added === 1 ? "" : "s"} to the store` +
      (merged.added ? ` for ${merged.tasks} task${merged.tasks === 1 ? "" : "s"}` : "")];
    if (merged.duplicates) parts.push(`${merged.duplicates} already there`);
    if (merged.errors) parts.push(`${merged.errors} failed attempts skipped`);
    if (merged.empty) parts.push(`${merged.empty} without reasoning skipped`);
    result.textContent = `${parts.join("; ")}.`;
    result.hidden = false;
  } catch (error) {
    failed(error);
  } finally {
    button.disabled = false;
  }
}

// -- live updates, the fragment, start ---------------------------------------------------------

async function refresh() {
  await loadRuns();
  if (!state.name) return;
  if (!state.runs.some((run) => run.name === state.name)) {
    toast(`Run ${state.name} is gone from the runs directory.`, "error");
    return;
  }
  const before = state.tasks.find((task) => task.label === state.label);
  const detail = await api.run(state.name);
  state.run = detail.run;
  state.tasks = detail.tasks;
  showRun();
  showTasks();
  const after = state.tasks.find((task) => task.label === state.label);
  if (state.label && after && JSON.stringify(after) !== JSON.stringify(before)) {
    await openTask(state.label, { open: state.open });
  }
}

function saveLocation() {
  const params = new URLSearchParams();
  if (state.name) params.set("run", state.name);
  if (state.label) params.set("task", state.label);
  if (state.open) params.set("attempt", state.open);
  history.replaceState(null, "", `#${params}`);
}

function readLocation() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { run: params.get("run"), task: params.get("task"), attempt: params.get("attempt") };
}

for (const button of document.querySelectorAll(".filters button")) {
  button.addEventListener("click", () => { state.filter = button.dataset.filter; showTasks(); });
}
$("#task-filter").addEventListener("input", (event) => { state.query = event.target.value; showTasks(); });
$("#merge-run").addEventListener("click", () => merge());
window.addEventListener("hashchange", () => {
  const wanted = readLocation();
  if (wanted.run && wanted.run !== state.name) openRun(wanted.run, { label: wanted.task, open: wanted.attempt }).catch(failed);
  else if (wanted.task && wanted.task !== state.label) openTask(wanted.task, { open: wanted.attempt }).catch(failed);
});

async function start() {
  await Promise.all([session.load(), loadRuns()]);
  const wanted = readLocation();
  const name = state.runs.some((run) => run.name === wanted.run) ? wanted.run : state.runs[0]?.name;
  if (wanted.run && name !== wanted.run) toast(`No run ${wanted.run} under the runs directory.`, "error");
  if (name) await openRun(name, { label: name === wanted.run ? wanted.task : null, open: wanted.attempt });
  else markReady();
  subscribe("runs", () => refresh().catch(failed));
}

start().catch(failed);

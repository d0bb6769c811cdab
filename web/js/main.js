// The page: which dataset, task, version, transforms and test input are shown, kept in the
// URL's fragment so a reload or a shared link opens the same view, and the wiring of panels.

import { api } from "./api.js";
import { createAttemptsPanel } from "./attempts.js";
import { $, toast, typing } from "./dom.js";
import { subscribe } from "./live.js";
import { createSession } from "./session.js";
import { createSolver } from "./solve.js";
import { createTabs } from "./tabs.js";
import { createTaskList } from "./tasklist.js";
import { renderTrain } from "./taskview.js";
import { createTracesPanel } from "./traces.js";
import { createTransformPanel } from "./transforms.js";
import { renderVersions } from "./versions.js";

/** Run ids to the names of their directories, for naming a merged trace's run. */
const runNames = new Map();

const state = {
  dataset: null,
  taskId: null,
  version: null,
  transforms: [],
  task: null,
  versions: [],
  numbers: false,
  ticket: 0,
  trainWidth: 400,
  datasets: [],
};

const view = () => ({
  taskId: state.taskId, dataset: state.dataset, version: state.version, transforms: state.transforms,
});

const session = createSession({
  onChange: () => { showVersions(); traces.refresh().catch(failed); },
});
const traces = createTracesPanel({
  session,
  runName: (runId) => runNames.get(runId),
  onCount: (count) => { $("#traces-count").textContent = count ? String(count) : ""; },
});
createTabs();
const solver = createSolver({
  view,
  onNumbers: (on) => { state.numbers = on; showTrain(); },
  onTest: () => attempts.render(),
});
const attempts = createAttemptsPanel({
  solver,
  // A program's train outputs beside the expected ones, when the view is the task as stored.
  trainPairs: () => (state.task && !state.transforms.length ? state.task.train : []),
  onCount: (count) => { $("#attempts-count").textContent = count ? String(count) : ""; },
});
const tasks = createTaskList({
  onDataset: (spec) => openDataset(spec).catch(failed),
  onPick: (id) => openTask(id, null, []),
});
const panel = createTransformPanel({
  onChain: (chain) => openTask(state.taskId, state.version, chain, { keepTest: true }),
  onSave: save,
});

function failed(error) { toast(error.message, "error"); }

// -- opening datasets and tasks ----------------------------------------------------------------

async function openDataset(spec, wanted = {}) {
  const list = await api.tasks(spec);
  state.dataset = list.dataset;
  tasks.setTasks(list.tasks);
  const id = wanted.task && tasks.has(wanted.task) ? wanted.task : tasks.first();
  if (wanted.task && id !== wanted.task) toast(`Task ${wanted.task} is not in ${list.dataset}.`, "error");
  state.taskId = null;
  if (id) {
    const same = id === wanted.task;
    await openTask(id, same ? wanted.version : null, same ? wanted.transforms : [], { testIndex: same ? wanted.test : 0 });
  }
}

/** Show a task version after a chain of transforms. Measures the switch in the page:
 * `task-switch` from the request to the first frame drawn, `task-render` from the data. */
async function openTask(taskId, version, transforms, { keepTest = false, testIndex = 0 } = {}) {
  const ticket = ++state.ticket;
  performance.clearMarks();
  performance.clearMeasures();
  performance.mark("task-switch-start");
  const newTask = taskId !== state.taskId || version !== state.version;
  let task;
  let versions = state.versions;
  try {
    [task, versions] = await Promise.all([
      api.task(taskId, { dataset: state.dataset, version, transforms }),
      newTask ? api.versions(state.dataset, taskId).then((v) => v.versions) : versions,
    ]);
  } catch (error) {
    if (ticket !== state.ticket) return;
    failed(error);
    panel.reset(state.transforms);
    return;
  }
  if (ticket !== state.ticket) return;
  performance.mark("task-render-start");
  measure();
  Object.assign(state, { taskId, version, transforms, task, versions });
  const title = version === null ? taskId : `${taskId} · version ${version}`;
  $("#task-title").textContent = title;
  $("#task-chain").textContent = transforms.length ? `after ${transforms.join(" + ")}` : "";
  document.title = `${title} · arcbench`;
  tasks.setCurrent(taskId);
  showTrain();
  solver.showTask(task, keepTest ? solver.test() : testIndex || 0);
  panel.show(task);
  panel.reset(transforms);
  showVersions();
  if (newTask) traces.show(taskId, version).catch(failed);
  attempts.show({ taskId, version, transforms, tests: task.test.length }).catch(failed);
  requestAnimationFrame(() => setTimeout(() => {
    if (ticket !== state.ticket) return;
    performance.measure("task-switch", "task-switch-start");
    performance.measure("task-render", "task-render-start");
    document.body.dataset.ready = String(ticket);
    saveLocation();
  }, 0));
}

/** Read the space the grids may use, before anything is written (one layout, not several). */
function measure() {
  const test = $("#test-area");
  state.trainWidth = $("#train-pairs").clientWidth;
  solver.setArea(test.clientWidth - 64,
    Math.max(220, window.innerHeight - test.getBoundingClientRect().top - 190));
}

function showTrain() {
  if (state.task) renderTrain($("#train-pairs"), state.task, state.trainWidth, state.numbers);
}

function showVersions() {
  if (!state.taskId) return;
  renderVersions($("#versions"), state.versions, {
    current: state.version,
    user: session.state,
    onOpen: (version) => openTask(state.taskId, version, []),
    onDelete: remove,
  });
}

// -- variations ----------------------------------------------------------------------------

async function save(chain) {
  if (!(await session.ensure())) return;
  try {
    const saved = await api.saveVariation(state.taskId, state.dataset, state.version, chain);
    const number = saved.variation.version;
    toast(saved.added
      ? `Saved as version ${number}.`
      : `Version ${number} already has these grids: you signed it.`);
    await refreshVersions();
    await openTask(state.taskId, number, []);
  } catch (error) {
    failed(error);
  }
}

const confirming = new WeakSet();

async function remove(version, button) {
  if (button instanceof HTMLButtonElement && !confirming.has(button)) {
    confirming.add(button);
    button.textContent = "Really delete?";
    button.classList.add("confirm");
    setTimeout(() => {
      confirming.delete(button);
      button.textContent = "Delete";
      button.classList.remove("confirm");
    }, 4000);
    return;
  }
  try {
    await api.deleteVariation(version.task_id, version.version);
    toast(`Deleted version ${version.version}.`);
    await refreshVersions();
    if (state.version === version.version) await openTask(state.taskId, null, []);
  } catch (error) {
    failed(error);
  }
}

/** Re-read the task list's versions and the current task's versions (another browser, or
 * `arcbench merge`, changed the store). */
async function refreshVersions() {
  if (!state.dataset || !state.taskId) return;
  const [list, versions] = await Promise.all([
    api.tasks(state.dataset), api.versions(state.dataset, state.taskId),
  ]);
  tasks.setTasks(list.tasks);
  tasks.setCurrent(state.taskId);
  state.versions = versions.versions;
  showVersions();
}

// -- the URL's fragment ------------------------------------------------------------------------

function saveLocation() {
  const params = new URLSearchParams({ dataset: state.dataset, task: state.taskId });
  if (state.version !== null) params.set("version", String(state.version));
  if (state.transforms.length) params.set("transforms", state.transforms.join("+"));
  history.replaceState(null, "", `#${params}`);
}

function readLocation() {
  const params = new URLSearchParams(location.hash.slice(1));
  const version = params.get("version");
  return {
    dataset: params.get("dataset"),
    task: params.get("task"),
    version: version && /^\d+$/.test(version) ? Number(version) : null,
    transforms: (params.get("transforms") || "").split("+").filter(Boolean),
    test: 0,
  };
}

// -- keys ------------------------------------------------------------------------------------

document.addEventListener("keydown", (event) => {
  if (typing(event) || document.querySelector("dialog[open]")) return;
  const onButton = event.target instanceof HTMLButtonElement;
  let used = true;
  if (event.key === "Enter" && !onButton && !event.ctrlKey) solver.submit();
  else if (event.key === "[" ) tasks.step(-1);
  else if (event.key === "]") tasks.step(1);
  else if (event.key === "r" && !event.ctrlKey && !event.metaKey) tasks.random();
  else if (event.key === ",") solver.step(-1);
  else if (event.key === ".") solver.step(1);
  else if (event.key === "/") $("#task-query").focus();
  else if (event.key === "?") $("#keys").toggleAttribute("open");
  else if ((event.key === " " || event.key.startsWith("Arrow")) && onButton) used = false;
  else used = solver.editor.handleKey(event);
  if (used) event.preventDefault();
});

// A fragment typed into the address bar, or the browser's back and forward, opens that view.
window.addEventListener("hashchange", () => {
  const wanted = readLocation();
  if (!wanted.task) return;
  const offered = state.datasets.some((d) => d.spec === wanted.dataset);
  if (offered && wanted.dataset !== state.dataset) {
    tasks.setDatasets(state.datasets, wanted.dataset);
    openDataset(wanted.dataset, wanted).catch(failed);
  } else if (wanted.task !== state.taskId || wanted.version !== state.version ||
    wanted.transforms.join("+") !== state.transforms.join("+")) {
    openTask(wanted.task, wanted.version, wanted.transforms);
  }
});

let resizeTimer = 0;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { measure(); showTrain(); solver.layout(); }, 100);
});

// -- start -----------------------------------------------------------------------------------

async function start() {
  const [datasets] = await Promise.all([api.datasets(), session.load()]);
  const wanted = readLocation();
  state.datasets = datasets.datasets;
  const spec = datasets.datasets.some((d) => d.spec === wanted.dataset) ? wanted.dataset : datasets.default;
  tasks.setDatasets(datasets.datasets, spec);
  await openDataset(spec, wanted);
  subscribe("variations", () => refreshVersions().catch(failed));
  subscribe("traces", () => traces.refresh().catch(failed));
  subscribe("runs", () => { attempts.refresh().catch(failed); loadRunNames().catch(failed); });
  loadRunNames().catch(failed);
}

async function loadRunNames() {
  const { runs } = await api.runs();
  runNames.clear();
  for (const run of runs) if (run.run_id) runNames.set(run.run_id, run.name);
  traces.rerender();
}

start().catch(failed);

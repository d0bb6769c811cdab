// The dataset picker and the task list: search by id, go to a number, previous/next, random.

import { $, el, toast } from "./dom.js";

export function createTaskList({ onDataset, onPick }) {
  const select = $("#dataset");
  const query = $("#task-query");
  const position = $("#task-position");
  const panel = $("#task-list");
  const list = $("#task-list-items");
  let tasks = [];
  let current = -1;

  function versionsLabel(task) {
    const variations = task.versions.filter((v) => v !== null).length;
    return variations ? `${variations} version${variations > 1 ? "s" : ""}` : "";
  }

  function fill(filter = "") {
    const needle = filter.trim().toLowerCase();
    const rows = [];
    tasks.forEach((task, index) => {
      if (needle && !task.id.toLowerCase().includes(needle) && String(index + 1) !== needle.replace(/^#/, "")) return;
      rows.push(el("li", {},
        el("button", {
          type: "button",
          class: index === current ? "current" : "",
          "aria-current": index === current ? "true" : null,
          onclick: () => { panel.hidden = true; onPick(task.id); },
        },
        el("span", { class: "n", text: String(index + 1) }),
        el("span", { class: "id", text: task.id }),
        el("span", { class: "meta", text: `${task.train} train · ${task.test} test` }),
        el("span", { class: "meta versions", text: versionsLabel(task) }))));
    });
    list.replaceChildren(...rows.slice(0, 2000));
    if (!rows.length) list.replaceChildren(el("li", { class: "empty", text: "No task matches." }));
  }

  function pickFromQuery() {
    const text = query.value.trim();
    if (!text) return;
    const number = /^#?(\d+)$/.exec(text);
    let index = -1;
    if (number && !tasks.some((t) => t.id === text)) {
      index = Number(number[1]) - 1;
      if (index < 0 || index >= tasks.length) {
        toast(`There are ${tasks.length} tasks: give a number from 1 to ${tasks.length}.`, "error");
        return;
      }
    } else {
      const lower = text.toLowerCase();
      index = tasks.findIndex((t) => t.id.toLowerCase() === lower);
      if (index < 0) index = tasks.findIndex((t) => t.id.toLowerCase().startsWith(lower));
      if (index < 0) index = tasks.findIndex((t) => t.id.toLowerCase().includes(lower));
    }
    if (index < 0) { toast(`No task id contains “${text}”.`, "error"); return; }
    query.value = "";
    panel.hidden = true;
    onPick(tasks[index].id);
  }

  select.addEventListener("change", () => onDataset(select.value));
  $("#task-search").addEventListener("submit", (event) => { event.preventDefault(); pickFromQuery(); });
  query.addEventListener("input", () => { panel.hidden = false; fill(query.value); });
  query.addEventListener("focus", () => { panel.hidden = false; fill(query.value); });
  query.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { panel.hidden = true; query.blur(); }
  });
  $("#task-list-toggle").addEventListener("click", () => {
    panel.hidden = !panel.hidden;
    if (!panel.hidden) { fill(query.value); list.querySelector(".current")?.scrollIntoView({ block: "center" }); }
  });
  document.addEventListener("pointerdown", (event) => {
    if (!panel.hidden && !panel.contains(event.target) && !event.target.closest("#task-search, #task-list-toggle")) {
      panel.hidden = true;
    }
  });
  $("#prev-task").addEventListener("click", () => step(-1));
  $("#next-task").addEventListener("click", () => step(1));
  $("#random-task").addEventListener("click", () => random());

  function step(delta) {
    if (!tasks.length) return;
    const next = current < 0 ? 0 : (current + delta + tasks.length) % tasks.length;
    onPick(tasks[next].id);
  }

  function random() {
    if (tasks.length < 2) return;
    let next = current;
    while (next === current) next = Math.floor(Math.random() * tasks.length);
    onPick(tasks[next].id);
  }

  return {
    step,
    random,
    setDatasets(datasets, chosen) {
      select.replaceChildren(...datasets.map((d) =>
        el("option", { value: d.spec, text: d.spec, selected: d.spec === chosen })));
      select.value = chosen;
    },
    setTasks(next) {
      tasks = next;
      if (!panel.hidden) fill(query.value);
    },
    has(taskId) { return tasks.some((t) => t.id === taskId); },
    first() { return tasks.length ? tasks[0].id : null; },
    versionsOf(taskId) { return tasks.find((t) => t.id === taskId)?.versions || []; },
    setCurrent(taskId) {
      current = tasks.findIndex((t) => t.id === taskId);
      position.textContent = current < 0 ? "–" : `${current + 1} / ${tasks.length}`;
    },
  };
}

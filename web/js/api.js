// Every call to the JSON API (documented at /openapi.json), and its errors.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function describe(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).slice(1).join(".") || "request"}: ${d.msg}`).join("; ");
  }
  return "";
}

async function request(method, path, { params = {}, body } = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, describe(data && data.detail) || response.statusText);
  }
  return data;
}

/** The query that names one task as the page shows it. */
function view({ dataset, version, transforms }) {
  return { dataset, version, transforms: (transforms || []).join("+") };
}

export const api = {
  datasets: () => request("GET", "/api/datasets"),
  tasks: (dataset) => request("GET", "/api/tasks", { params: { dataset } }),
  task: (id, where) => request("GET", `/api/tasks/${encodeURIComponent(id)}`, { params: view(where) }),
  check: (id, where, testIndex, grid) =>
    request("POST", `/api/tasks/${encodeURIComponent(id)}/check`, {
      params: view(where), body: { test_index: testIndex, grid },
    }),
  answer: (id, where, testIndex) =>
    request("GET", `/api/tasks/${encodeURIComponent(id)}/answer`, {
      params: { ...view(where), test_index: testIndex },
    }),
  session: () => request("GET", "/api/session"),
  signIn: (name, adminToken) =>
    request("POST", "/api/session", { body: adminToken ? { name, admin_token: adminToken } : { name } }),
  signOut: () => request("DELETE", "/api/session"),
  versions: (dataset, taskId) => request("GET", "/api/variations", { params: { dataset, task_id: taskId } }),
  saveVariation: (taskId, dataset, version, transforms) =>
    request("POST", "/api/variations", { body: { task_id: taskId, dataset, version, transforms } }),
  deleteVariation: (taskId, version) =>
    request("DELETE", `/api/variations/${encodeURIComponent(taskId)}/${version}`),
  traces: (taskId, version) =>
    request("GET", `/api/traces/${encodeURIComponent(taskId)}`, { params: { version } }),
  addTrace: (taskId, version, text) =>
    request("POST", `/api/traces/${encodeURIComponent(taskId)}`, { body: { text, version } }),
  editTrace: (traceId, text) =>
    request("PATCH", `/api/traces/${encodeURIComponent(traceId)}`, { body: { text } }),
  deleteTrace: (traceId) => request("DELETE", `/api/traces/${encodeURIComponent(traceId)}`),
  vote: (traceId, vote) =>
    request("POST", `/api/traces/${encodeURIComponent(traceId)}/vote`, { body: { vote } }),
  runs: () => request("GET", "/api/runs"),
  run: (name) => request("GET", `/api/runs/${encodeURIComponent(name)}`),
  runTask: (name, taskId, version) =>
    request("GET", `/api/runs/${encodeURIComponent(name)}/tasks/${encodeURIComponent(taskId)}`, { params: { version } }),
  runRecord: (name, recordId) =>
    request("GET", `/api/runs/${encodeURIComponent(name)}/records/${encodeURIComponent(recordId)}`),
  mergeRun: (name) => request("POST", `/api/runs/${encodeURIComponent(name)}/merge`),
  attempts: (taskId, { version, transforms, tests }) =>
    request("GET", `/api/attempts/${encodeURIComponent(taskId)}`, {
      params: { version, transforms: (transforms || []).join("+"), tests },
    }),
};

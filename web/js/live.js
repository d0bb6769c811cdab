// Server-sent events: the server says when a store changed (its change counter moved), and
// every open page re-reads what it shows. The browser reconnects by itself after a drop.
//
// One stream per browser, not one per tab: a browser opens at most six connections to one
// server over HTTP/1.1, and a stream holds its connection for good, so with a stream per tab the
// seventh tab of the app would wait forever for its first file. The stream lives in a shared
// worker (live-worker.js) that every tab of the app in this browser talks to; where a browser
// has no shared workers, each page opens its own stream.

const handlers = new Map();
const seen = new Map();
let port = null;
let source = null;

/** Call `handler()` whenever `topic` changes in the store, and once when the stream first
 * gives its counter: a page subscribes after reading what it shows, so a change made between
 * that read and the stream's first counter would otherwise never be shown. */
export function subscribe(topic, handler) {
  const known = handlers.has(topic);
  if (!known) handlers.set(topic, []);
  handlers.get(topic).push(handler);
  if (!port && !source) connect();
  if (!known) listen(topic);
}

function changed(topic, counter) {
  const before = seen.get(topic);
  seen.set(topic, counter);
  if (before !== counter) {
    for (const handler of handlers.get(topic) || []) handler(counter);
  }
}

function connect() {
  if (typeof SharedWorker === "function") {
    try {
      const worker = new SharedWorker(new URL("./live-worker.js", import.meta.url), { name: "arcbench-live" });
      port = worker.port;
      port.onmessage = (event) => changed(event.data.topic, event.data.counter);
      port.start();
      // Leaving (or going into the back-forward cache) stops this page's messages; coming back
      // from that cache joins again, and the current counters say what changed meanwhile.
      addEventListener("pagehide", () => port.postMessage({ leave: true }));
      addEventListener("pageshow", (event) => {
        if (event.persisted) for (const topic of handlers.keys()) listen(topic);
      });
      return;
    } catch {
      port = null;
    }
  }
  source = new EventSource("/api/events");
}

function listen(topic) {
  if (port) {
    port.postMessage({ listen: topic });
    return;
  }
  source.addEventListener(topic, (event) => changed(topic, JSON.parse(event.data).counter));
}

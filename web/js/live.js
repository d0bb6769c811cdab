// Server-sent events: the server says when a store changed (its change counter moved), and
// every open page re-reads what it shows. The browser reconnects by itself after a drop.

const handlers = new Map();
let source = null;
const seen = new Map();

/** Call `handler()` whenever `topic` changes in the store (not on the first event). */
export function subscribe(topic, handler) {
  if (!handlers.has(topic)) handlers.set(topic, []);
  handlers.get(topic).push(handler);
  if (!source) connect();
  if (!source.listening?.has(topic)) listen(topic);
}

function connect() {
  source = new EventSource("/api/events");
  source.listening = new Set();
  for (const topic of handlers.keys()) listen(topic);
}

function listen(topic) {
  source.listening.add(topic);
  source.addEventListener(topic, (event) => {
    const counter = JSON.parse(event.data).counter;
    const before = seen.get(topic);
    seen.set(topic, counter);
    if (before !== undefined && before !== counter) {
      for (const handler of handlers.get(topic) || []) handler(counter);
    }
  });
}

// The one event stream of every tab of the app in this browser (see live.js): it listens to
// the topics the tabs ask for and passes each counter on to every tab still open.

const ports = new Set();
const topics = new Set();
const latest = new Map();
let source = null;
let opening = 0;

/** (Re)open the stream with a listener per topic: the server sends every counter on connect,
 * so a topic asked for late still gets its current counter. */
function open() {
  opening = 0;
  if (source) source.close();
  source = new EventSource("/api/events");
  for (const topic of topics) {
    source.addEventListener(topic, (event) => {
      const counter = JSON.parse(event.data).counter;
      latest.set(topic, counter);
      for (const port of ports) port.postMessage({ topic, counter });
    });
  }
}

self.onconnect = (event) => {
  const port = event.ports[0];
  port.onmessage = ({ data }) => {
    if (data.leave) {
      ports.delete(port);
      return;
    }
    if (typeof data.listen !== "string") return;
    ports.add(port);
    if (latest.has(data.listen)) port.postMessage({ topic: data.listen, counter: latest.get(data.listen) });
    if (!topics.has(data.listen)) {
      topics.add(data.listen);
      if (!opening) opening = setTimeout(open, 0);
    }
  };
};

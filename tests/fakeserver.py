"""A fake OpenAI-compatible server: real HTTP on 127.0.0.1, scripted per test.

It speaks HTTP/1.1 itself (asyncio streams and h11, the protocol library under httpx and
uvicorn) rather than through an ASGI app, because the faults it must produce live below ASGI:
an ASGI server answers 500 when an app ends without a response, so it cannot drop a connection
or cut a body short.

In a test (the `fake_server` fixture in conftest.py runs one in a background thread)::

    fake_server.enqueue(status(429, retry_after="2"), reply("done"))   # consumed in order
    fake_server.answer("grid 7", "```json\\n[[7]]\\n```")               # by last user message
    fake_server.responder = lambda request: "..."                      # any function
    fake_server.latency = 0.1
    ... run the client or the CLI against fake_server.url ...
    fake_server.chat_requests[0].headers["authorization"]

When the queue is empty a chat request is answered by `responder`, else by the first `answer`
whose text occurs in the last user message, else with `reply_text`. `ViewResponder` is a
responder for test-time augmentation: it knows which view of which task a prompt shows and
answers right only in the views it is told to solve. `/v1/models` lists
`models`. `max_rps` turns on a rate limit: beyond that many requests in the last second the
server answers 429 with `Retry-After: retry_after`.

Standalone, for benchmarks and CLI tests that need the server in its own process::

    python tests/fakeserver.py --port 0 --latency 0.5 --max-rps 50

prints `READY http://127.0.0.1:PORT/v1` once listening and serves until SIGINT/SIGTERM.
`spawn(...)` does this from Python and returns a handle; `POST /_control/enqueue`
(`{"actions": [...], "path": "chat"|"models"}`), `GET /_control/requests`,
`GET /_control/stats` (requests in flight now and at most), `POST /_control/config` and
`POST /_control/reset` script it over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import h11

Action = dict[str, Any]
"""One scripted answer, JSON-serialisable so it can be sent to a standalone server."""

DEFAULT_REPLY = "I could not find the rule.\n\n```json\n[[0]]\n```"
DEFAULT_MODEL = "fake-model"


# -- actions ----------------------------------------------------------------------------------


def reply(
    content: str | None = "ok",
    *,
    reasoning_content: str | None = None,
    reasoning: str | None = None,
    reasoning_details: list[dict[str, Any]] | None = None,
    usage: Any = None,
    cost: float | None = None,
    model: str | None = None,
    finish_reason: str = "stop",
    delay: float = 0.0,
) -> Action:
    """A normal chat completion. `usage` None means "computed from the text"; {} means none;
    anything else is sent as is (a hostile server's junk)."""
    return {
        "kind": "reply",
        "content": content,
        "reasoning_content": reasoning_content,
        "reasoning": reasoning,
        "reasoning_details": reasoning_details,
        "usage": usage,
        "cost": cost,
        "model": model,
        "finish_reason": finish_reason,
        "delay": delay,
    }


def status(
    code: int,
    *,
    retry_after: str | None = None,
    body: Any = None,
    usage: dict[str, Any] | None = None,
    delay: float = 0.0,
) -> Action:
    """An HTTP error status, optionally with `Retry-After`, a JSON body and usage in it."""
    return {
        "kind": "status",
        "status": code,
        "retry_after": retry_after,
        "body": body,
        "usage": usage,
        "delay": delay,
    }


def error_body(
    message: str = "upstream provider error", *, usage: dict[str, Any] | None = None
) -> Action:
    """HTTP 200 whose body is an `error` object (OpenRouter does this for upstream failures)."""
    return {"kind": "error_body", "message": message, "usage": usage, "delay": 0.0}


def empty_choices(*, usage: dict[str, Any] | None = None) -> Action:
    """HTTP 200 with `choices: []`."""
    return {"kind": "empty_choices", "usage": usage, "delay": 0.0}


def malformed() -> Action:
    """HTTP 200 whose body is not JSON."""
    return {"kind": "malformed", "delay": 0.0}


def raw(
    body: str | bytes,
    *,
    code: int = 200,
    headers: dict[str, str] | None = None,
    delay: float = 0.0,
) -> Action:
    """A response whose body is exactly `body` (what no JSON library would write), with extra
    `headers` (a `content-encoding`, say)."""
    data = body.encode() if isinstance(body, str) else body
    return {
        "kind": "raw",
        "status": code,
        "body": base64.b64encode(data).decode(),
        "headers": headers or {},
        "delay": delay,
    }


def drop(delay: float = 0.0) -> Action:
    """Close the connection without answering."""
    return {"kind": "drop", "delay": delay}


def truncate() -> Action:
    """Start a 200 response and close the connection halfway through its body."""
    return {"kind": "truncate", "delay": 0.0}


def hang(seconds: float, content: str = "late") -> Action:
    """Answer only after `seconds` (for timeout tests)."""
    return reply(content, delay=seconds)


class ViewResponder:
    """Answers a traces prompt as a model that solves a task only in some of its views.

    It recognises the task, the view (`arcbench.views`, SPEC as the run's `--augment`) and the
    test input a prompt shows by its test input's digits, then answers with the view's right
    output when `solves(task_id, view_label)`, else with a wrong one. Wrong answers differ from
    view to view once mapped back (two rows, as wide as the view's position plus 2), so no two
    views agree on a wrong grid; with `wrong="same"` every view gives the same wrong grid.
    Prompts it does not recognise get a grid nobody asked for.
    """

    def __init__(
        self,
        tasks: dict[str, dict[str, Any]],
        spec: str,
        solves: Callable[[str, str], bool],
        *,
        wrong: str = "distinct",
    ) -> None:
        from arcbench.prompts import format_grid
        from arcbench.tasks import Task
        from arcbench.views import parse_augment

        self.solves = solves
        self.known: dict[str, str] = {}
        """The text of a test input as a prompt shows it -> the reply to give."""
        views = parse_augment(spec).views
        for task_id, data in tasks.items():
            task = Task.model_validate({"id": task_id, **data})
            for position, view in enumerate(views):
                shown = view.apply(task)
                for index, test in enumerate(shown.test):
                    answer = task.test[index].output
                    assert answer is not None
                    if solves(task_id, view.label):
                        grid = shown.test[index].output
                    else:
                        width = 2 + (position if wrong == "distinct" else 0)
                        grid = [[index + 1] * width, [0] * width]
                        if grid == answer:
                            grid[1][0] = 1
                        for transform in view.transforms:
                            grid = transform.apply_grid(grid)
                    key = f"Test input:\n{format_grid(test.input)}\n\n"
                    self.known[key] = (
                        f"Rule of {task_id} in {view.label}.\n```json\n{json.dumps(grid)}\n```"
                    )

    def __call__(self, request: Recorded) -> str:
        text = request.last_user_message
        for key, answer in self.known.items():
            if key in text:
                return answer
        return "No idea.\n```json\n[[9, 9, 9]]\n```"


# -- the server -------------------------------------------------------------------------------


@dataclass
class Recorded:
    """A request the server received. Header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float

    @property
    def last_user_message(self) -> str:
        messages = self.body.get("messages", []) if isinstance(self.body, dict) else []
        for message in reversed(messages):
            if message.get("role") == "user" and isinstance(message.get("content"), str):
                return str(message["content"])
        return ""


Responder = Callable[[Recorded], "str | Action"]


class FakeServer:
    """The scriptable server. Use as a context manager (a background thread) or `serve()`."""

    def __init__(
        self,
        *,
        port: int = 0,
        latency: float = 0.0,
        models: list[str] | None = None,
        reply_text: str = DEFAULT_REPLY,
        responder: Responder | None = None,
        max_rps: float | None = None,
        retry_after: str | None = "1",
        control: bool = True,
    ) -> None:
        self.port = port
        self.latency = latency
        self.models = models if models is not None else [DEFAULT_MODEL]
        self.reply_text = reply_text
        self.responder = responder
        self.max_rps = max_rps
        self.retry_after = retry_after
        self.control = control
        self.answers: list[tuple[str, str]] = []
        self.requests: list[Recorded] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        """Chat requests being answered right now, and the most there ever were at once (since
        the last `reset`): what a client's concurrency looks like from the server."""
        self._queues: dict[str, deque[Action]] = {"chat": deque(), "models": deque()}
        self._recent: deque[float] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """The API root, as a registry entry's base_url: `http://127.0.0.1:PORT/v1`."""
        return f"http://127.0.0.1:{self.port}/v1"

    # scripting

    def enqueue(self, *actions: Action, path: str = "chat") -> None:
        """Answer the next requests to `path` ("chat" or "models") with `actions`, in order."""
        self._queues[path].extend(actions)

    def answer(self, match: str, content: str) -> None:
        """Reply `content` to chat requests whose last user message contains `match`."""
        self.answers.append((match, content))

    @property
    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def reset(self) -> None:
        for queue in self._queues.values():
            queue.clear()
        self.answers.clear()
        self.requests.clear()
        self.peak_in_flight = self.in_flight

    # running

    def __enter__(self) -> FakeServer:
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._start())
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-openai-server", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fake server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def serve(self, ready: Callable[[str], None] | None = None) -> None:
        """Serve in the running loop until cancelled (the standalone mode)."""
        await self._start()
        if ready is not None:
            ready(self.url)
        try:
            await asyncio.Event().wait()
        finally:
            await self._shutdown()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # HTTP

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        self._writers.add(writer)
        try:
            while True:
                received = await self._read(conn, reader)
                if received is None:
                    break
                keep_open = await self._dispatch(conn, writer, *received)
                if not keep_open or conn.our_state is h11.MUST_CLOSE:
                    break
                conn.start_next_cycle()
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _read(
        self, conn: h11.Connection, reader: asyncio.StreamReader
    ) -> tuple[h11.Request, bytes] | None:
        request: h11.Request | None = None
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert request is not None
                return request, bytes(body)
            elif isinstance(event, h11.ConnectionClosed):
                return None

    async def _send(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        code: int,
        body: bytes,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        all_headers = [
            ("content-type", "application/json"),
            ("content-length", str(len(body))),
            *(headers or []),
        ]
        writer.write(conn.send(h11.Response(status_code=code, headers=all_headers)) or b"")
        writer.write(conn.send(h11.Data(data=body)) or b"")
        writer.write(conn.send(h11.EndOfMessage()) or b"")
        await writer.drain()

    async def _dispatch(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, request: h11.Request, raw: bytes
    ) -> bool:
        path = request.target.decode().split("?", 1)[0]
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = Recorded(
            method=request.method.decode(),
            path=path,
            headers={k.decode().lower(): v.decode() for k, v in request.headers},
            body=body,
            at=time.monotonic(),
        )
        if self.control and path.startswith("/_control/"):
            return await self._control(conn, writer, path, body)
        self.requests.append(record)
        if path.endswith("/models") and record.method == "GET":
            action = self._queues["models"].popleft() if self._queues["models"] else None
            if action is None:
                listing = {
                    "object": "list",
                    "data": [{"id": m, "object": "model"} for m in self.models],
                }
                await self._send(conn, writer, 200, json.dumps(listing).encode())
                return True
            return await self._perform(conn, writer, action, record)
        if path.endswith("/chat/completions") and record.method == "POST":
            if self._over_rate_limit():
                headers = [("retry-after", self.retry_after)] if self.retry_after else []
                error = {"error": {"message": "rate limited", "code": 429}}
                await self._send(conn, writer, 429, json.dumps(error).encode(), headers)
                return True
            action = self._queues["chat"].popleft() if self._queues["chat"] else None
            if action is None:
                action = self._default_action(record)
                action = {**action, "delay": action.get("delay", 0.0) + self.latency}
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            try:
                return await self._perform(conn, writer, action, record)
            finally:
                self.in_flight -= 1
        await self._send(conn, writer, 404, b'{"error": {"message": "not found"}}')
        return True

    def _over_rate_limit(self) -> bool:
        if not self.max_rps:
            return False
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.max_rps:
            return True
        self._recent.append(now)
        return False

    def _default_action(self, record: Recorded) -> Action:
        if self.responder is not None:
            answer = self.responder(record)
            return reply(answer) if isinstance(answer, str) else answer
        text = record.last_user_message
        for match, content in self.answers:
            if match in text:
                return reply(content)
        return reply(self.reply_text)

    async def _perform(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, action: Action, record: Recorded
    ) -> bool:
        if action.get("delay"):
            await asyncio.sleep(action["delay"])
        kind = action["kind"]
        if kind == "drop":
            writer.transport.abort()
            return False
        if kind == "truncate":
            head = h11.Response(
                status_code=200,
                headers=[("content-type", "application/json"), ("content-length", "1000")],
            )
            writer.write(conn.send(head) or b"")
            writer.write(b'{"choices": [')
            await writer.drain()
            writer.transport.abort()
            return False
        if kind == "malformed":
            await self._send(conn, writer, 200, b'{"choices": [{"message": ')
            return True
        if kind == "raw":
            exact = base64.b64decode(action["body"])
            extra = list(action["headers"].items())
            await self._send(conn, writer, action["status"], exact, extra)
            return True
        usage = action.get("usage")
        if kind == "status":
            body = action.get("body")
            if body is None:
                body = {
                    "error": {
                        "message": f"scripted status {action['status']}",
                        "code": action["status"],
                    }
                }
            if usage:
                body = {**body, "usage": usage}
            headers = [("retry-after", action["retry_after"])] if action.get("retry_after") else []
            await self._send(conn, writer, action["status"], json.dumps(body).encode(), headers)
            return True
        if kind == "error_body":
            body = {"error": {"message": action["message"], "code": 502}}
            if usage:
                body["usage"] = usage
            await self._send(conn, writer, 200, json.dumps(body).encode())
            return True
        if kind == "empty_choices":
            body = {"id": "chatcmpl-fake", "object": "chat.completion", "choices": []}
            if usage:
                body["usage"] = usage
            await self._send(conn, writer, 200, json.dumps(body).encode())
            return True
        assert kind == "reply", kind
        await self._send(conn, writer, 200, json.dumps(self._completion(action, record)).encode())
        return True

    def _completion(self, action: Action, record: Recorded) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": action["content"]}
        for key in ("reasoning_content", "reasoning", "reasoning_details"):
            if action.get(key) is not None:
                message[key] = action[key]
        usage = action.get("usage")
        if usage is None:
            prompt = sum(len(str(m.get("content", ""))) for m in record.body.get("messages", []))
            thought = len(action.get("reasoning_content") or action.get("reasoning") or "") // 4
            completion = len(action.get("content") or "") // 4 + 1 + thought
            usage = {
                "prompt_tokens": prompt // 4 + 1,
                "completion_tokens": completion,
                "total_tokens": prompt // 4 + 1 + completion,
                "completion_tokens_details": {"reasoning_tokens": thought},
            }
        if action.get("cost") is not None:
            usage = {**usage, "cost": action["cost"]}
        requested = record.body.get("model") if isinstance(record.body, dict) else None
        completion_body: dict[str, Any] = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": action.get("model") or requested or DEFAULT_MODEL,
            "choices": [{"index": 0, "message": message, "finish_reason": action["finish_reason"]}],
        }
        if usage:
            completion_body["usage"] = usage
        return completion_body

    async def _control(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, path: str, body: Any
    ) -> bool:
        command = path.removeprefix("/_control/")
        result: Any = {"ok": True}
        if command == "enqueue":
            self.enqueue(*body["actions"], path=body.get("path", "chat"))
        elif command == "requests":
            result = [asdict(r) for r in self.requests]
        elif command == "stats":
            result = {"in_flight": self.in_flight, "peak_in_flight": self.peak_in_flight}
        elif command == "reset":
            self.reset()
        elif command == "config":
            for key in ("latency", "reply_text", "models", "max_rps", "retry_after"):
                if key in body:
                    setattr(self, key, body[key])
            for match, content in body.get("answers", []):
                self.answer(match, content)
        else:
            await self._send(conn, writer, 404, b'{"error": {"message": "no such control"}}')
            return True
        await self._send(conn, writer, 200, json.dumps(result).encode())
        return True


# -- a separate process -------------------------------------------------------------------------


class ServerProcess:
    """A standalone fake server started by `spawn`; scripted through its control endpoints."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url
        self.root = url.removesuffix("/v1")

    def _post(self, command: str, payload: Any) -> Any:
        import httpx

        response = httpx.post(f"{self.root}/_control/{command}", json=payload, timeout=10)
        response.raise_for_status()
        return response.json()

    def enqueue(self, *actions: Action, path: str = "chat") -> None:
        self._post("enqueue", {"actions": list(actions), "path": path})

    def configure(self, **settings: Any) -> None:
        self._post("config", settings)

    def requests(self) -> list[dict[str, Any]]:
        import httpx

        return list(httpx.get(f"{self.root}/_control/requests", timeout=10).json())

    def stats(self) -> dict[str, int]:
        """`in_flight` and `peak_in_flight` chat requests (see `FakeServer`)."""
        import httpx

        return dict(httpx.get(f"{self.root}/_control/stats", timeout=10).json())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def spawn(*args: str) -> ServerProcess:
    """Start `python tests/fakeserver.py ARGS…` on a free port and wait until it listens."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("READY "):
        process.kill()
        raise RuntimeError(f"the fake server did not start: {line!r}")
    return ServerProcess(process, line.split()[1])


@contextlib.contextmanager
def running(**options: Any) -> Iterator[FakeServer]:
    """A `FakeServer` in a background thread, for use outside pytest fixtures."""
    with FakeServer(**options) as server:
        yield server


def _load_responder(spec: str) -> Responder:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible server for arcbench.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument("--model", action="append", help="model id(s) listed at /v1/models")
    parser.add_argument("--reply", default=DEFAULT_REPLY, help="the reply to every request")
    parser.add_argument("--responder", help="module:function answering each request")
    parser.add_argument("--max-rps", type=float, help="answer 429 beyond this many requests/s")
    parser.add_argument("--retry-after", default="1", help="Retry-After sent with those 429s")
    parser.add_argument("--script", type=Path, help="JSON list of actions to answer first")
    options = parser.parse_args(argv)
    server = FakeServer(
        port=options.port,
        latency=options.latency,
        models=options.model,
        reply_text=options.reply,
        responder=_load_responder(options.responder) if options.responder else None,
        max_rps=options.max_rps,
        retry_after=options.retry_after or None,
    )
    if options.script:
        server.enqueue(*json.loads(options.script.read_text()))

    def ready(url: str) -> None:
        print(f"READY {url}", flush=True)

    async def run() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await server.serve(ready)

    asyncio.run(run())


if __name__ == "__main__":
    main()

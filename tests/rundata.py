"""Writers of run directories, result files of the older project, and trace stores, for tests
and benchmarks: the shapes `arcbench merge` reads and the store keeps."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson

MODEL_ID = "Qwen/Qwen3-8B"


def record(
    run_id: str,
    task_id: str,
    *,
    attempt: int = 1,
    test_index: int = 0,
    version: int | None = None,
    reasoning: str | None = None,
    correct: bool | list[bool | None] | None = False,
    error: str | None = None,
) -> dict[str, Any]:
    """One `results.jsonl` record of a `traces` run, as DESIGN.md ("Runs") lays it out."""
    key = f"{run_id}/{task_id}/{version}/{test_index}/{attempt}/0"
    text = (
        f"Reasoning of {task_id} attempt {attempt}: rotate the grid."
        if reasoning is None
        else reasoning
    )
    return {
        "record_id": hashlib.sha256(key.encode()).hexdigest()[:24],
        "model": MODEL_ID,
        "run_id": run_id,
        "task_id": task_id,
        "version": version,
        "test_index": test_index,
        "attempt": attempt,
        "round": 0,
        "messages": [{"role": "user", "content": f"Solve {task_id}"}],
        "response": f"{text}\n```json\n[[1]]\n```",
        "reasoning": text,
        "prediction": [[1]],
        "correct": correct,
        "parse_error": None,
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "reasoning_tokens": 0},
        "cost_usd": 0.0,
        "latency_s": 1.5,
        "finished_at": "2025-05-04T16:56:06+00:00",
        "error": error,
    }


def manifest(
    run_id: str,
    test_inputs: dict[str, int],
    *,
    model: str = MODEL_ID,
    status: str = "completed",
    command: str = "traces",
    spec: str = "generated-tasks",
) -> dict[str, Any]:
    """A `run.json` with every key a run writes (its dataset's hash matches no real dataset,
    so a viewer shows no grids for it)."""
    return {
        "run_id": run_id,
        "command": command,
        "model": {
            "name": "LOCAL_0",
            "provider": "local",
            "base_url": "http://127.0.0.1:8000/v1",
            "model_id": model,
            "source": "builtin",
        },
        "dataset": {
            "spec": spec,
            "task_ids": list(test_inputs),
            "test_inputs": test_inputs,
            "content_hash": "0" * 16,
        },
        "prompt_version": "test",
        "config": {"run_name": None},
        "status": status,
        "arcbench_version": "0.0.0",
        "started_at": "2025-05-04T16:00:00+00:00",
        "finished_at": None if status == "running" else "2025-05-04T17:00:00+00:00",
    }


def write_run(
    run_dir: Path,
    records: list[dict[str, Any]],
    *,
    model: str = MODEL_ID,
    torn: bytes = b"",
    status: str = "completed",
) -> Path:
    """A run directory: `run.json` and `results.jsonl` (plus `torn` bytes left by a kill)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    run_id = records[0]["run_id"] if records else run_dir.name
    test_inputs: dict[str, int] = {}
    for r in records:
        label = r["task_id"] if r.get("version") is None else f"{r['task_id']}@{r['version']}"
        test_inputs[label] = max(test_inputs.get(label, 0), (r.get("test_index") or 0) + 1)
    written = manifest(run_id, test_inputs, model=model, status=status)
    (run_dir / "run.json").write_bytes(orjson.dumps(written))
    lines = b"".join(orjson.dumps(r) + b"\n" for r in records)
    (run_dir / "results.jsonl").write_bytes(lines + torn)
    return run_dir


def traces_run(
    run_dir: Path, run_id: str, tasks: int, attempts: int = 2, *, text_bytes: int = 0
) -> Path:
    """A run with `attempts` reasoned attempts on each of `tasks` tasks; attempt 1 is right.
    `text_bytes` pads each reasoning (and so each prompt-sized record) to about that size."""
    records = [
        record(
            run_id,
            f"task{t:04d}",
            attempt=a,
            correct=a == 1,
            reasoning=f"Reasoning of task{t:04d} attempt {a}.".ljust(text_bytes, "."),
        )
        for t in range(tasks)
        for a in range(1, attempts + 1)
    ]
    return write_run(run_dir, records)


def legacy_trace(task_id: str, n: int, username: str = "alice") -> dict[str, Any]:
    """A trace as the original web app wrote it: seven fields, epoch timestamp, voters dict."""
    return {
        "trace_id": f"{task_id}_{username}_{n:08x}",
        "task_id": task_id,
        "username": username,
        "text": f"Trace {n} for {task_id}: every blue cell moves one step right. é ✓",
        "score": n % 3,
        "timestamp": 1714824000.123456 + n,
        "voters": {"bob": 1} if n % 3 == 1 else {},
    }


def legacy_store(tasks: int, per_task: int, text_bytes: int = 0) -> dict[str, list[dict[str, Any]]]:
    """A store in the original format; `text_bytes` pads each text to about that size."""
    store: dict[str, list[dict[str, Any]]] = {}
    for t in range(tasks):
        task_id = f"task{t:04d}"
        traces = [legacy_trace(task_id, t * per_task + i) for i in range(per_task)]
        for trace in traces:
            trace["text"] = trace["text"].ljust(text_bytes, ".")
        store[task_id] = traces
    return store


def stored_traces(path: Path) -> dict[str, list[dict[str, Any]]]:
    """A store's traces in the original `traces_store.json` form (what `store export` writes);
    `{}` when the store does not exist."""
    from arcbench.store import Store

    if not path.exists():
        return {}
    with Store(path, create=False) as store:
        return dict(store.traces.export())

"""`merge`: turn the reasoning of model runs into traces in the trace store, idempotently.

Every result record with reasoning and no error becomes one trace of its task version, written
by the model (`username` = the model id) with score 0 and a `source` naming the run, the record
and whether the attempt was right. The record's `record_id` is the trace's identity: merging a
run twice, or a run and a copy of it, adds each trace once, while two runs that happen to give
the same text still give two traces.

Three input shapes are read:
- arcbench runs: `results.jsonl` (records with a `record_id`; a retried attempt's last record
  supersedes its failure), the model and command taken from the `run.json` beside it;
- the older project's JSONL: `{task_id, reasoning, …}` lines (reasoning a string or a list) and a
  last line `{"entry_type": "metadata", "model_username": …}`;
- the older project's JSON: `{"metadata": {…}, "results": [ … the same lines … ]}`.
Older records carry no id, so one is derived from the run (its metadata and first record, which
appending never changes) and the record's position: stable across copies, distinct per run.
Their reasoning is skipped, and counted as an error, when it starts with "error:".
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from arcbench.errors import ResultsFileError
from arcbench.rundir import latest_records
from arcbench.runfiles import RESULTS_FILE, TornLine, read_manifest, read_results
from arcbench.store import Trace, TraceSource, TraceStore

UNKNOWN_MODEL = "unknown-model"
_MODEL_KEYS = ("model_id", "served_model_id", "id", "name")
"""Where a run manifest's `model` object may hold the model id, most specific first."""


@dataclass(frozen=True)
class Attempt:
    """One finished attempt of any input shape, reduced to what a trace needs."""

    task_id: str
    version: int | None
    reasoning: str
    record_id: str
    run_id: str | None
    model: str
    command: str | None
    correct: bool | list[bool | None] | None
    failed: bool
    finished_at: float | None


@dataclass
class Plan:
    """The traces a set of attempts gives, and how many attempts gave none, by reason."""

    traces: list[Trace] = field(default_factory=list)
    errors: int = 0
    empty: int = 0
    not_correct: int = 0


@dataclass
class MergeReport:
    """What a merge did (or, with `dry_run`, would do), for the summary a user sees."""

    files: list[Path]
    store: Path
    dry_run: bool
    added: list[Trace]
    duplicates: int
    errors: int
    empty: int
    not_correct: int
    torn: list[TornLine]

    def per_task(self) -> Counter[str]:
        """Traces added per task (`id` or `id@version`), most first."""
        return Counter(
            t.task_id if t.version is None else f"{t.task_id}@{t.version}" for t in self.added
        )


def merge_results(
    inputs: Sequence[Path],
    store_path: Path,
    *,
    only_correct: bool = False,
    dry_run: bool = False,
    now: float,
) -> MergeReport:
    """Merge the traces of result files and run directories into the trace store at
    `store_path` (created if missing). `now` stamps traces whose record has no finish time."""
    files = results_files(inputs)
    attempts: list[Attempt] = []
    torn: list[TornLine] = []
    for path in files:
        read, found = read_attempts(path)
        attempts += found
        if read is not None:
            torn.append(read)
    plan = plan_traces(attempts, only_correct=only_correct, now=now)
    outcome = TraceStore(store_path).merge(plan.traces, dry_run=dry_run)
    return MergeReport(
        files=files,
        store=store_path,
        dry_run=dry_run,
        added=outcome.added,
        duplicates=outcome.duplicates,
        errors=plan.errors,
        empty=plan.empty,
        not_correct=plan.not_correct,
        torn=torn,
    )


def results_files(inputs: Iterable[Path]) -> list[Path]:
    """Each input as a file to read: a run directory stands for its `results.jsonl`."""
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            path = path / RESULTS_FILE
            if not path.is_file():
                raise ResultsFileError(
                    f"{path.parent} has no {RESULTS_FILE}: give a run directory or a results file"
                )
        elif not path.is_file():
            raise ResultsFileError(
                f"{path} does not exist: give a results.jsonl, a run directory or a .json file"
            )
        files.append(path)
    return files


def read_attempts(path: Path) -> tuple[TornLine | None, list[Attempt]]:
    """The attempts of one file, whatever its shape, and its torn last line if any."""
    if path.suffix == ".json":
        return None, _legacy_json(path)
    read = read_results(path)
    if any("record_id" in record for record in read.records):
        run = _RunInfo.of(read_manifest(path.parent))
        latest = latest_records(read.records).values()
        return read.torn, [run.attempt(path, record) for record in latest]
    metadata = [r for r in read.records if r.get("entry_type") == "metadata"]
    lines = [r for r in read.records if r.get("entry_type") != "metadata"]
    return read.torn, _legacy_attempts(lines, metadata[-1] if metadata else {})


def plan_traces(attempts: Iterable[Attempt], *, only_correct: bool, now: float) -> Plan:
    """Pure: the trace of each usable attempt, and the tally of the rest."""
    plan = Plan()
    for attempt in attempts:
        if attempt.failed:
            plan.errors += 1
        elif not attempt.reasoning.strip():
            plan.empty += 1
        elif only_correct and not is_correct(attempt.correct):
            plan.not_correct += 1
        else:
            plan.traces.append(trace_of(attempt, now))
    return plan


def trace_of(attempt: Attempt, now: float) -> Trace:
    """The trace an attempt gives; its id derives from the record id, so it is stable."""
    digest = hashlib.sha256(attempt.record_id.encode()).hexdigest()[:16]
    return Trace(
        trace_id=f"{attempt.task_id}_{digest}",
        task_id=attempt.task_id,
        username=attempt.model,
        text=attempt.reasoning,
        score=0,
        timestamp=attempt.finished_at if attempt.finished_at is not None else now,
        voters={},
        version=attempt.version,
        source=TraceSource(
            run_id=attempt.run_id,
            record_id=attempt.record_id,
            model=attempt.model,
            correct=attempt.correct,
            command=attempt.command,
        ),
    )


def is_correct(correct: bool | list[bool | None] | None) -> bool:
    """Whether an attempt was right: `true`, or (a program answering every test input) right
    on every input that has an answer, and there was at least one."""
    if isinstance(correct, list):
        known = [c for c in correct if c is not None]
        return bool(known) and all(known)
    return correct is True


@dataclass(frozen=True)
class _RunInfo:
    """What an arcbench run's manifest adds to its records: the model and the command."""

    run_id: str | None
    model: str
    command: str | None

    @classmethod
    def of(cls, manifest: dict[str, Any] | None) -> _RunInfo:
        manifest = manifest or {}
        return cls(
            run_id=_str(manifest.get("run_id")),
            model=_model_id(manifest.get("model")) or UNKNOWN_MODEL,
            command=_str(manifest.get("command")),
        )

    def attempt(self, path: Path, record: dict[str, Any]) -> Attempt:
        task_id, record_id = record.get("task_id"), record.get("record_id")
        if not isinstance(task_id, str) or not isinstance(record_id, str):
            raise ResultsFileError(
                f"{path}: record {record_id!r} has no task_id or record_id; "
                "is this a results.jsonl written by arcbench?"
            )
        return Attempt(
            task_id=task_id,
            version=_int(record.get("version")),
            reasoning=reasoning_text(record.get("reasoning")),
            record_id=record_id,
            run_id=_str(record.get("run_id")) or self.run_id,
            model=_model_id(record.get("model")) or self.model,
            command=_str(record.get("command")) or self.command,
            correct=_correct(record.get("correct")),
            failed=bool(record.get("error")),
            finished_at=_epoch(record.get("finished_at")),
        )


def _legacy_json(path: Path) -> list[Attempt]:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ResultsFileError(f"cannot read {path}: {exc}") from exc
    if not (isinstance(data, dict) and isinstance(data.get("results"), list)):
        raise ResultsFileError(
            f"{path} is not a result file: expected {{'metadata': {{…}}, 'results': [ … ]}}"
        )
    metadata = data.get("metadata")
    lines = [r for r in data["results"] if isinstance(r, dict)]
    return _legacy_attempts(lines, metadata if isinstance(metadata, dict) else {})


def _legacy_attempts(lines: list[dict[str, Any]], metadata: dict[str, Any]) -> list[Attempt]:
    """Attempts of the older project's files, with ids derived from the run and position."""
    if not lines:
        return []
    run_id = "legacy-" + _digest(metadata, lines[0])[:16]
    model = _str(metadata.get("model_username")) or _str(metadata.get("model_identifier"))
    attempts = []
    for index, line in enumerate(lines):
        reasoning = reasoning_text(line.get("reasoning"))
        attempts.append(
            Attempt(
                task_id=str(line.get("task_id") or ""),
                version=_int(line.get("version")),
                reasoning=reasoning,
                record_id=f"{run_id}-{index}",
                run_id=run_id,
                model=model or UNKNOWN_MODEL,
                command=_str(metadata.get("benchmark_type")),
                correct=_correct(line.get("correct")),
                failed=not line.get("task_id") or reasoning.lstrip().lower().startswith("error:"),
                finished_at=None,
            )
        )
    return attempts


def reasoning_text(value: Any) -> str:
    """Reasoning as one text: a string as is, a list (the older format) joined by blank lines,
    its items' `text`/`content`/`reasoning` fields taken when they are objects."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return "\n\n".join(p for p in (reasoning_text(_part(item)) for item in value) if p)
    return orjson.dumps(value).decode()


def _part(item: Any) -> Any:
    if isinstance(item, dict):
        for key in ("text", "content", "reasoning"):
            if isinstance(item.get(key), str):
                return item[key]
    return item


def _model_id(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        for key in _MODEL_KEYS:
            if isinstance(value.get(key), str) and value[key]:
                return str(value[key])
    return None


def _correct(value: Any) -> bool | list[bool | None] | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, list):
        return [c if isinstance(c, bool) else None for c in value]
    return None


def _epoch(value: Any) -> float | None:
    """`finished_at` as Unix seconds, the store's `timestamp` unit (a naive time is UTC)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return None


def _digest(*values: Any) -> str:
    return hashlib.sha256(orjson.dumps(values, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None

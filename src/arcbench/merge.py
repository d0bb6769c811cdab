"""`merge`: put the reasoning of model runs, and the files of earlier stores, into the store.

Every result record with reasoning and no error becomes one trace of its task version, written
by the model (`username` = the model id) with score 0 and a `source` naming the run, the record
and whether the attempt was right. A record of a transformed view (test-time augmentation) is
skipped and counted: its reasoning speaks of rotated or recoloured grids, not of the task. The
record's `record_id` is the trace's identity: merging a run twice, or a run and a copy of it,
adds each trace once, while two runs that happen to give the same text still give two traces.

Inputs, recognised by shape:
- arcbench runs: `results.jsonl` or its run directory (records with a `record_id`; a retried
  attempt's last record supersedes its failure), the model and command taken from `run.json`;
- the older project's JSONL: `{task_id, reasoning, …}` lines and a last line
  `{"entry_type": "metadata", "model_username": …}`; and its JSON: `{"metadata": {…},
  "results": [ … the same lines … ]}`. Older records carry no id, so one is derived from the run
  (its metadata and first record, which appending never changes) and the record's position:
  stable across copies, distinct per run. A reasoning that is a list holds one entry per test
  input, each its own trace; reasoning (or an entry) that starts with "error:", and an empty
  entry of a list, is a failure: skipped and counted, never written into a trace;
- an earlier trace store, `traces_store.json` (`{task_id: [trace, …]}`): its traces come in with
  their ids, authors, texts, scores and voters (a trace already in the store is skipped);
- a variations list (`variations.json`, `dataset.json`, `tasks augment` output): see
  `VariationStore.import_in`.

All of a merge is one transaction: a merge killed at any moment leaves all of it or none.
"""

from __future__ import annotations

import hashlib
import itertools
from codecs import BOM_UTF8
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from arcbench.collector import collector_paused
from arcbench.errors import ResultsFileError
from arcbench.runfiles import RESULTS_FILE, TornLine, iter_results, read_manifest
from arcbench.store import (
    DEFAULT_TIMEOUT_S,
    ImportedEntry,
    Store,
    Trace,
    TraceSource,
    VariationImport,
    legacy_files,
)
from arcbench.store.database import SQLITE_HEADER
from arcbench.store.files import entries_of_document, traces_of_document
from arcbench.store.schema import MAX_INTEGER

UNKNOWN_MODEL = "unknown-model"
_MODEL_KEYS = ("model_id", "served_model_id", "id", "name")
"""Where a run manifest's `model` object may hold the model id, most specific first."""


@dataclass(frozen=True)
class Attempt:
    """One finished attempt of any input shape, reduced to what a trace needs (for the older
    project's list reasoning, one entry of the list: one test input's attempt)."""

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
    other_view: bool = False
    """Asked in a transformed view of the task (`--augment`), not the task as it is."""


@dataclass
class Plan:
    """The traces a set of attempts gives, and how many attempts gave none, by reason."""

    traces: list[Trace] = field(default_factory=list)
    errors: int = 0
    empty: int = 0
    not_correct: int = 0
    other_views: int = 0


@dataclass
class Inputs:
    """What the files given to `merge` hold, read and validated before the store is opened."""

    files: list[Path] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    torn: list[TornLine] = field(default_factory=list)
    traces: list[Trace] = field(default_factory=list)
    """Traces of earlier trace stores, as they were."""
    entries: list[ImportedEntry] = field(default_factory=list)
    seen: dict[tuple[str, str], tuple[str, Trace]] = field(default_factory=dict)
    """The imported traces by id, with where each was (see `traces_of_document`)."""


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
    other_views: int
    torn: list[TornLine]
    variations: VariationImport
    not_imported: list[Path]
    """JSON stores of an earlier arcbench beside a store this merge created, not among its
    inputs: the user most likely wants to import them too."""

    def per_task(self) -> Counter[str]:
        """Traces added per task (`id` or `id@version`), most first."""
        return Counter(
            t.task_id if t.version is None else f"{t.task_id}@{t.version}" for t in self.added
        )


def merge_inputs(
    inputs: Sequence[Path],
    store_path: Path,
    *,
    only_correct: bool = False,
    dry_run: bool = False,
    now: float,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> MergeReport:
    """Merge run results and earlier store files into the store at `store_path` (created if
    missing, except by a dry run), in one transaction. `now` stamps traces whose record has
    no finish time; `only_correct` keeps only runs' attempts that were right."""
    read = read_inputs(inputs)
    plan = plan_traces(read.attempts, only_correct=only_correct, now=now)
    pending = legacy_files(store_path)
    given = {path.resolve() for path in read.files}
    store = (
        Store.in_memory()
        if dry_run and not store_path.exists()
        else Store(store_path, timeout=timeout)
    )
    with store:
        merged, imported = store.merge([*plan.traces, *read.traces], read.entries, dry_run=dry_run)
    return MergeReport(
        files=read.files,
        store=store_path,
        dry_run=dry_run,
        added=merged.added,
        duplicates=merged.duplicates,
        errors=plan.errors,
        empty=plan.empty,
        not_correct=plan.not_correct,
        other_views=plan.other_views,
        torn=read.torn,
        variations=imported,
        not_imported=[path for path in pending if path.resolve() not in given],
    )


def read_inputs(inputs: Iterable[Path]) -> Inputs:
    """Read every input by its shape (see the module docstring)."""
    read = Inputs(files=results_files(inputs))
    for path in read.files:
        if path.suffix == ".json":
            _read_json_input(path, read)
            continue
        torn, attempts = read_attempts(path)
        read.attempts += attempts
        if torn is not None:
            read.torn.append(torn)
    return read


def _read_json_input(path: Path, read: Inputs) -> None:
    """A `.json` input: the older project's result file, a trace store or a variations list."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ResultsFileError(
            f"cannot read {path}: {exc.strerror or exc}; check the path and its permissions"
        ) from exc
    try:
        with collector_paused():
            # a byte order mark, as some Windows editors write, is not JSON but harmless
            document = orjson.loads(memoryview(data)[3:] if data[:3] == BOM_UTF8 else data)
    except orjson.JSONDecodeError as exc:
        raise ResultsFileError(
            f"{path} is not valid JSON ({exc}); repair the file, or give another"
        ) from exc
    del data
    if isinstance(document, dict) and isinstance(document.get("results"), list):
        read.attempts += _legacy_json(path, document)
    elif isinstance(document, list):
        read.entries += entries_of_document(path, document)
    elif isinstance(document, dict) and not {"metadata", "results"} & document.keys():
        read.traces += traces_of_document(path, document, read.seen)
    else:
        raise ResultsFileError(
            f"{path} is not a file merge reads: expected a result file ({{'metadata': {{…}}, "
            "'results': [ … ]}), a traces_store.json ({task_id: [trace, …]}) or a variations "
            "list ([{task_id, version, train, test, …}, …])"
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
            problem = (
                "is not a regular file (a device or pipe)" if path.exists() else "does not exist"
            )
            raise ResultsFileError(
                f"{path} {problem}: give a results.jsonl, a run directory, a result file "
                "of the older project, a traces_store.json or a variations list"
            )
        elif _is_database(path):
            raise ResultsFileError(
                f"{path} is a SQLite database (a store?), not a file merge reads: export it with "
                f"`arcbench store export --store {path} --traces FILE --variations FILE` and "
                "merge those files"
            )
        files.append(path)
    return files


def _is_database(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def read_attempts(path: Path) -> tuple[TornLine | None, list[Attempt]]:
    """The attempts of one JSON Lines file (an arcbench run's, or the older project's), and
    its torn last line if any.

    An arcbench run is read record by record, keeping only each one's `Attempt` (a retried
    attempt's last record replaces its failure), so a run of 100,000 records with long prompts
    is never all in memory at once."""
    torn: list[TornLine] = []
    records = iter_results(path, on_torn=torn.append)
    with collector_paused():
        first = next(records, None)
        if first is None or "record_id" not in first:
            lines = [] if first is None else [first, *records]
            metadata = [r for r in lines if r.get("entry_type") == "metadata"]
            legacy = [r for r in lines if r.get("entry_type") != "metadata"]
            attempts = _legacy_attempts(path, legacy, metadata[-1] if metadata else {})
        else:
            run = _RunInfo.of(read_manifest(path.parent))
            latest: dict[str, Attempt] = {}
            for record in itertools.chain([first], records):
                attempt = run.attempt(path, record)
                latest[attempt.record_id] = attempt
            attempts = list(latest.values())
    return (torn[0] if torn else None), attempts


def plan_traces(attempts: Iterable[Attempt], *, only_correct: bool, now: float) -> Plan:
    """Pure: the trace of each usable attempt, and the tally of the rest."""
    plan = Plan()
    for attempt in attempts:
        if attempt.failed:
            plan.errors += 1
        elif attempt.other_view:
            plan.other_views += 1
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
        if not isinstance(task_id, str) or not task_id or not isinstance(record_id, str):
            raise ResultsFileError(
                f"{path}: record {record_id!r} has no task_id or record_id; "
                "is this a results.jsonl written by arcbench?"
            )
        return Attempt(
            task_id=task_id,
            version=_version(path, f"record {record_id!r}", record.get("version")),
            reasoning=reasoning_text(record.get("reasoning")),
            record_id=record_id,
            run_id=_str(record.get("run_id")) or self.run_id,
            model=_model_id(record.get("model")) or self.model,
            command=_str(record.get("command")) or self.command,
            correct=_correct(record.get("correct")),
            failed=bool(record.get("error")),
            finished_at=_epoch(record.get("finished_at")),
            other_view=record.get("view") not in (None, ["identity"]),
        )


def _legacy_json(path: Path, document: dict[str, Any]) -> list[Attempt]:
    metadata = document.get("metadata")
    lines = [r for r in document["results"] if isinstance(r, dict)]
    return _legacy_attempts(path, lines, metadata if isinstance(metadata, dict) else {})


def _legacy_attempts(
    path: Path, lines: list[dict[str, Any]], metadata: dict[str, Any]
) -> list[Attempt]:
    """Attempts of the older project's files, with ids derived from the run and position: a
    line's, or (reasoning given as a list, one entry per test input) each entry's."""
    if not lines:
        return []
    run_id = "legacy-" + _digest(metadata, lines[0])[:16]
    model = _str(metadata.get("model_username")) or _str(metadata.get("model_identifier"))
    command = _str(metadata.get("benchmark_type"))
    attempts = []
    for index, line in enumerate(lines):
        task_id = line.get("task_id")
        reasoning, correct = line.get("reasoning"), _correct(line.get("correct"))
        if isinstance(reasoning, list):
            texts = [reasoning_text(_part(part)) for part in reasoning]
            parts = [
                (f"-{k}", text, _correct_at(correct, k), not text or _is_error(text))
                for k, text in enumerate(texts)
            ]
        else:
            text = reasoning_text(reasoning)
            parts = [("", text, correct, _is_error(text))]
        for suffix, text, part_correct, failed in parts:
            attempts.append(
                Attempt(
                    task_id=str(task_id or ""),
                    version=_version(path, f"result #{index}", line.get("version")),
                    reasoning=text,
                    record_id=f"{run_id}-{index}{suffix}",
                    run_id=run_id,
                    model=model or UNKNOWN_MODEL,
                    command=command,
                    correct=part_correct,
                    failed=not isinstance(task_id, str) or not task_id or failed,
                    finished_at=None,
                )
            )
    return attempts


def _is_error(text: str) -> bool:
    return text.lstrip().lower().startswith("error:")


def _correct_at(
    correct: bool | list[bool | None] | None, index: int
) -> bool | list[bool | None] | None:
    """The correctness of test input `index`, when a line gives one per input."""
    if isinstance(correct, list):
        return correct[index] if index < len(correct) else None
    return correct


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


def _version(path: Path, where: str, value: Any) -> int | None:
    """A record's task version: null (the original task) or a version number; anything else
    means a damaged file, refused rather than merged as a trace of the wrong task."""
    if value is None or (
        isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_INTEGER
    ):
        return value
    raise ResultsFileError(
        f"{path}: {where} has version {value!r}, which is not a task version (null, or 1 to "
        f"{MAX_INTEGER}); repair the file or leave it out"
    )

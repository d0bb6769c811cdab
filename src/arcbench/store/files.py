"""The original JSON files, at the store's edges: `traces_store.json` (`{task_id: [trace, …]}`,
the project's first format) and `dataset.json`-style variations lists. `arcbench merge` reads
them into the database; `arcbench store export` writes them back, field for field, so that an
export of an import equals the input.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from arcbench.atomic import write_output
from arcbench.errors import ResultsFileError, StoreError
from arcbench.store.traces import Trace, TraceStore
from arcbench.store.variations import ImportedEntry, VariationStore
from arcbench.tasks import VariantEntry

_ENTRY = TypeAdapter(VariantEntry)


def traces_of_document(
    path: Path, document: dict[str, Any], seen: dict[tuple[str, str], tuple[str, Trace]]
) -> list[Trace]:
    """The traces of a `traces_store.json` document, validated; a trace that breaks the
    format stops the import with its file, task, position and field named.

    `seen` holds the traces of the files read before (by `trace_id` and `source.record_id`,
    with where each was): a trace listed twice is imported once, but two different traces
    under one id stop the import, since keeping either would silently drop the other."""
    traces: list[Trace] = []
    for task_id, items in document.items():
        if not isinstance(items, list):
            raise ResultsFileError(
                f"{path}: task {task_id!r} holds a JSON {type(items).__name__}, not a list of "
                "traces; is this a traces_store.json?"
            )
        for index, item in enumerate(items):
            where = f"{path}: task {task_id!r}, trace #{index}"
            if not isinstance(item, dict):
                raise ResultsFileError(f"{where} is a JSON {type(item).__name__}, not an object")
            if item.get("task_id", task_id) != task_id:
                raise ResultsFileError(
                    f"{where} says task_id {item['task_id']!r}: fix the file so that each "
                    "trace is listed under its own task"
                )
            try:
                trace = Trace.model_validate({"task_id": task_id, **item})
            except ValidationError as exc:
                raise ResultsFileError(
                    f"{where} ({item.get('trace_id')!r}): {_first(exc)}"
                ) from None
            _refuse_conflict(where, trace, seen)
            traces.append(trace)
    return traces


def _refuse_conflict(
    where: str, trace: Trace, seen: dict[tuple[str, str], tuple[str, Trace]]
) -> None:
    keys = [("trace_id", trace.trace_id)]
    if trace.source is not None:
        keys.append(("source.record_id", trace.source.record_id))
    for key in keys:
        earlier = seen.setdefault(key, (where, trace))
        if earlier[1] != trace:
            raise ResultsFileError(
                f"{where} reuses the {key[0]} {key[1]!r} of a different trace (at "
                f"{earlier[0]}): give one of them another id, or remove one, and retry"
            )


def entries_of_document(path: Path, document: list[Any]) -> list[ImportedEntry]:
    """The entries of a variations list (`dataset.json`, `variations.json`, `tasks augment`
    output), validated as task versions and kept as written."""
    entries: list[ImportedEntry] = []
    for index, item in enumerate(document):
        task = item.get("task_id") if isinstance(item, dict) else None
        try:
            entry = _ENTRY.validate_python(item)
        except ValidationError as exc:
            raise ResultsFileError(
                f"{path}: entry #{index} (task {task!r}) is not a task version: {_first(exc)}"
            ) from None
        entries.append(ImportedEntry(entry, item))
    return entries


def traces_document(tasks: Iterable[tuple[str, list[dict[str, Any]]]]) -> Iterator[bytes]:
    """`TraceStore.export()`'s tasks as a `traces_store.json` document (two-space indented, as
    the original app wrote it), in pieces, one task at a time."""
    first = True
    for task_id, traces in tasks:
        # One task's `{"id": [...]}` indented as inside the whole object, braces cut off:
        # the pieces joined equal the whole document dumped at once.
        piece = orjson.dumps({task_id: traces}, option=orjson.OPT_INDENT_2)[2:-2]
        yield (b"{\n" if first else b",\n") + piece
        first = False
    yield b"{}" if first else b"\n}"


def export_traces(store: TraceStore, path: Path) -> int:
    """Write every trace as a `traces_store.json` (see `traces_document`), atomically; returns
    how many traces it holds."""
    count = 0

    def counted() -> Iterator[tuple[str, list[dict[str, Any]]]]:
        nonlocal count
        for task_id, traces in store.export():
            count += len(traces)
            yield task_id, traces

    write_export(path, traces_document(counted()))
    return count


def export_variations(store: VariationStore, path: Path) -> int:
    """Write every version not deleted as a `dataset.json` list (compact, as `tasks augment`
    writes it, and readable by `--dataset`), atomically; returns how many it holds."""
    count = 0

    def chunks() -> Iterator[bytes]:
        nonlocal count
        for entry in store.export():
            yield (b"[" if count == 0 else b",") + orjson.dumps(entry)
            count += 1
        yield b"[]" if count == 0 else b"]"

    write_export(path, chunks())
    return count


def write_export(path: Path, chunks: Iterable[bytes]) -> None:
    """Write an export atomically to a file, or straight through to a pipe or a device
    (`--traces /dev/stdout`); an error names the file and what to do."""
    try:
        write_output(path, chunks)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            reason = "the disk is full; free space and retry"
        elif exc.errno == errno.EPIPE:
            reason = "the program reading it stopped (broken pipe)"
        else:
            reason = f"{exc.strerror or exc}; check the path and its permissions"
        raise StoreError(f"cannot write {path}: {reason}") from exc


def _first(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"]) or "value"
    return f"{where}: {error['msg']}"

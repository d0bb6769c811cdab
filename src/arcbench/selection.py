"""Task selection shared by every command: `--task-ids`, `--tasks`, `--max-tasks`, `--shard`.

The steps apply in that order to the dataset's stable order, so a selection means the same tasks
on every machine. Sharding comes last: the shards `1/N` … `N/N` of a selection partition it
exactly (task `k` of the selection goes to shard `k mod N + 1`, which spreads neighbouring, often
similar, task ids across shards).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from arcbench.errors import SelectionError
from arcbench.tasks import Task


@dataclass(frozen=True)
class Selection:
    """Which tasks of a dataset to use. Every field is optional; the default selects all."""

    task_ids: tuple[str, ...] = ()
    start: int | None = None
    end: int | None = None
    max_tasks: int | None = None
    shard: tuple[int, int] | None = None

    @classmethod
    def parse(
        cls,
        task_ids: str | None = None,
        tasks: str | None = None,
        max_tasks: int | None = None,
        shard: str | None = None,
    ) -> Selection:
        """Build a selection from the command-line strings, refusing malformed ones.

        None means the option was not given. A given option that names nothing (`--task-ids ""`,
        `--task-ids ,,`, `--tasks " "`) is refused rather than read as "no restriction", which
        would silently select the whole dataset.
        """
        ids = parse_ids(task_ids) if task_ids is not None else ()
        start, end = parse_range(tasks) if tasks is not None else (None, None)
        if max_tasks is not None and max_tasks < 1:
            raise SelectionError(f"--max-tasks {max_tasks}: give a positive number of tasks")
        return cls(ids, start, end, max_tasks, parse_shard(shard) if shard is not None else None)

    def apply(self, tasks: Sequence[Task], source: str = "the dataset") -> list[Task]:
        """The selected tasks of `source`, in dataset order."""
        chosen = list(tasks)
        if self.task_ids:
            chosen = _by_ids(chosen, self.task_ids, source)
        if self.start is not None or self.end is not None:
            chosen = chosen[self.start : self.end]
        if self.max_tasks is not None:
            chosen = chosen[: self.max_tasks]
        if self.shard is not None:
            index, count = self.shard
            chosen = chosen[index - 1 :: count]
        if not chosen:
            raise SelectionError(
                f"the selection holds no tasks of {source} ({self.describe()}); "
                "check --tasks, --max-tasks and --shard"
            )
        return chosen

    def describe(self) -> str:
        """The options that made this selection, as a user typed them."""
        parts = []
        if self.task_ids:
            parts.append(f"--task-ids {','.join(self.task_ids)}")
        if self.start is not None or self.end is not None:
            start = "" if self.start is None else self.start
            end = "" if self.end is None else self.end
            parts.append(f"--tasks {start}:{end}")
        if self.max_tasks is not None:
            parts.append(f"--max-tasks {self.max_tasks}")
        if self.shard is not None:
            parts.append(f"--shard {self.shard[0]}/{self.shard[1]}")
        return " ".join(parts) or "no options"


def parse_ids(text: str) -> tuple[str, ...]:
    """`ID[,ID…]`, each `ID` or `ID@VERSION`; repeats are dropped, and naming no id is an error."""
    ids = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not ids:
        raise SelectionError(
            f"--task-ids {text!r} names no task: give ids separated by commas, for example "
            "--task-ids 007bbfb7,00d62c1b (or leave the option out to use every task)"
        )
    return ids


def parse_range(text: str) -> tuple[int | None, int | None]:
    """`START:END` (either side may be empty) as Python slice bounds over the dataset's order."""
    start_text, sep, end_text = text.partition(":")
    try:
        if not sep:
            raise ValueError
        start = int(start_text) if start_text.strip() else None
        end = int(end_text) if end_text.strip() else None
    except ValueError:
        raise SelectionError(
            f"--tasks {text}: expected START:END, for example 0:50 (first fifty) or 100: "
        ) from None
    return start, end


def parse_shard(text: str) -> tuple[int, int]:
    """`I/N`, the I-th of N shards (1 ≤ I ≤ N)."""
    index_text, sep, count_text = text.partition("/")
    try:
        if not sep:
            raise ValueError
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise SelectionError(f"--shard {text}: expected I/N, for example 1/4") from None
    if count < 1 or not 1 <= index <= count:
        raise SelectionError(f"--shard {text}: I must be between 1 and N, for example 2/4")
    return index, count


def _by_ids(tasks: list[Task], wanted: tuple[str, ...], source: str) -> list[Task]:
    """Tasks matching the ids, in dataset order. `ID` matches every version, `ID@V` one."""
    by_label = {task.label for task in tasks}
    by_id = {task.id for task in tasks}
    unknown = [w for w in wanted if w not in by_label and w not in by_id]
    if unknown:
        shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
        raise SelectionError(
            f"unknown task id{'s' if len(unknown) > 1 else ''} {shown} in {source}: "
            f"`arcbench tasks list --dataset {source}` shows its ids"
        )
    keep = set(wanted)
    return [task for task in tasks if task.id in keep or task.label in keep]

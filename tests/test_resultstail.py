"""Following a growing results file: only appended bytes are read, a line still being written
waits, hostile lines are skipped and counted, a replaced or shortened file is read afresh."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from arcbench.resultstail import Appended, ResultsTail, Span


def line(n: int, **extra: Any) -> bytes:
    return orjson.dumps({"n": n, **extra}) + b"\n"


class Kept:
    """What a viewer keeps of a file: every record read, in order."""

    def __init__(self, tail: ResultsTail[dict[str, Any]]) -> None:
        self.tail = tail
        self.records: list[tuple[dict[str, Any], Span]] = []

    def refresh(self) -> Appended[dict[str, Any]]:
        appended = self.tail.refresh()
        if appended.restarted:
            self.records = []
        self.records += appended.records
        return appended

    def numbers(self) -> list[int]:
        return [record["n"] for record, _ in self.records]


def keep(value: dict[str, Any]) -> dict[str, Any]:
    return value


def test_only_what_was_appended_is_read(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(line(1) + line(2))
    tail = Kept(ResultsTail(path, keep))
    assert tail.refresh().restarted  # the first read is a read from the start
    assert tail.numbers() == [1, 2]
    assert tail.refresh() == Appended([], False)
    assert not tail.tail.changed()
    with path.open("ab") as handle:
        handle.write(line(3))
    assert tail.tail.changed()
    added = tail.refresh()
    assert not added.restarted
    assert [record["n"] for record, _ in added.records] == [3]
    assert tail.numbers() == [1, 2, 3]


def test_a_line_being_written_waits_until_it_ends(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    whole = line(2, text="x" * 100)
    path.write_bytes(line(1) + whole[:40])
    tail = Kept(ResultsTail(path, keep))
    tail.refresh()
    assert tail.numbers() == [1]
    assert tail.tail.skipped.count == 0
    with path.open("ab") as handle:
        handle.write(whole[40:])
    tail.refresh()
    assert tail.numbers() == [1, 2]


def test_spans_read_each_line_again(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    lines = [line(n, text="é" * n) for n in range(5)]
    path.write_bytes(b"".join(lines))
    tail = Kept(ResultsTail(path, keep))
    tail.refresh()
    assert [tail.tail.read_line(span) + b"\n" for _, span in tail.records] == lines


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (b"{not json\n", "not JSON"),
        (b"\xff\xfe\x00garbage\n", "not JSON"),
        (b'{"n": "\xe9"}\n', "not JSON"),  # Latin-1, not UTF-8
        (b"[1, 2]\n", "a JSON list, not an object"),
        (b"42\n", "a JSON int, not an object"),
        (b'{"no_n": 1}\n', "not a record"),
    ],
)
def test_hostile_lines_are_skipped_and_counted(tmp_path: Path, bad: bytes, why: str) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(line(1) + bad + b"\n" + line(2))

    def parse(value: dict[str, Any]) -> dict[str, Any]:
        if "n" not in value:
            raise ValueError("n is missing")
        return value

    tail = Kept(ResultsTail(path, parse))
    tail.refresh()
    assert tail.numbers() == [1, 2]
    assert tail.tail.skipped.count == 1
    assert tail.tail.skipped.first is not None
    assert tail.tail.skipped.first.startswith("line 2: ")
    assert why in tail.tail.skipped.first
    for record, span in tail.records:
        assert orjson.loads(tail.tail.read_line(span)) == record


def test_a_huge_line_is_skipped_without_holding_it(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    huge = line(2, text="x" * 5_000_000)
    path.write_bytes(line(1) + huge + line(3))
    tail = Kept(ResultsTail(path, keep, max_line=1_000_000))
    tail.refresh()
    assert tail.numbers() == [1, 3]
    assert tail.tail.skipped.first == "line 2: longer than 1000000 bytes"
    assert orjson.loads(tail.tail.read_line(tail.records[1][1])) == {"n": 3}


def test_a_huge_line_still_being_written_is_skipped_once_it_ends(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    huge = line(2, text="y" * 3_000_000)
    path.write_bytes(line(1) + huge[:2_500_000])
    tail = Kept(ResultsTail(path, keep, max_line=1_000_000))
    tail.refresh()
    assert (tail.numbers(), tail.tail.skipped.count) == ([1], 0)
    with path.open("ab") as handle:
        handle.write(huge[2_500_000:] + line(3))
    tail.refresh()
    assert tail.numbers() == [1, 3]
    assert tail.tail.skipped.count == 1


def test_a_replaced_or_shortened_file_is_read_afresh(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(line(1) + line(2) + line(3))
    tail = Kept(ResultsTail(path, keep))
    tail.refresh()
    path.write_bytes(line(7))  # shorter: truncated and rewritten
    assert tail.refresh().restarted
    assert tail.numbers() == [7]
    replacement = tmp_path / "new.jsonl"
    replacement.write_bytes(line(8) + line(9))
    os.replace(replacement, path)  # same size class, another file
    assert tail.refresh().restarted
    assert tail.numbers() == [8, 9]
    path.unlink()
    assert tail.refresh().restarted
    assert tail.numbers() == []


def test_a_symlinked_results_file_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.jsonl"
    secret.write_bytes(line(1))
    path = tmp_path / "run" / "results.jsonl"
    path.parent.mkdir()
    path.symlink_to(secret)
    tail = ResultsTail(path, keep)
    with pytest.raises(OSError, match=r"symbolic links|Too many levels"):
        tail.refresh()

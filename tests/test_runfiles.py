"""Reading results.jsonl: a torn last line (what a kill leaves) is reported and skipped; damage
anywhere else stops the read; `repair_tail` makes the file safe to append to again."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from arcbench.errors import ResultsFileError
from arcbench.runfiles import TornLine, iter_results, read_results, repair_tail

GOOD = b'{"record_id": "a", "n": 1}\n{"record_id": "b", "n": 2}\n'


def test_torn_last_line_is_reported_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    tail = b'{"record_id": "c", "reas'
    path.write_bytes(GOOD + tail)
    torn: list[TornLine] = []

    records = list(iter_results(path, on_torn=torn.append))

    assert [r["record_id"] for r in records] == ["a", "b"]
    assert len(torn) == 1
    assert (torn[0].line_number, torn[0].offset, torn[0].length) == (3, len(GOOD), len(tail))
    assert "torn last line 3" in torn[0].describe()


def test_complete_last_record_without_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(GOOD + b'{"record_id": "c"}')

    read = read_results(path)

    assert [r["record_id"] for r in read.records] == ["a", "b", "c"]
    assert read.torn is None


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(b"\n" + GOOD + b"  \n")
    assert len(read_results(path).records) == 2


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b'{"record_id": "a"}\n{"record_id": "b\n{"record_id": "c"}\n', 2),
        (GOOD + b"[1, 2]\n", 3),
        (GOOD + b'{"torn but terminated\n', 3),
    ],
)
def test_damage_before_the_end_stops_the_read(tmp_path: Path, content: bytes, line: int) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(content)

    with pytest.raises(ResultsFileError, match=rf"results.jsonl, line {line}: not a JSON object"):
        read_results(path)


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ResultsFileError, match=r"cannot read .*nothing\.jsonl"):
        read_results(tmp_path / "nothing.jsonl")


def test_repair_tail_cuts_a_torn_line_so_appends_start_clean(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(GOOD + b'{"record_id": "c", "reas')

    torn = repair_tail(path)
    with path.open("ab") as handle:
        handle.write(orjson.dumps({"record_id": "c"}) + b"\n")

    assert torn is not None
    assert torn.offset == len(GOOD)
    assert [r["record_id"] for r in read_results(path).records] == ["a", "b", "c"]


def test_repair_tail_terminates_a_complete_last_record(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(b'{"record_id": "a"}')

    assert repair_tail(path) is None
    assert path.read_bytes() == b'{"record_id": "a"}\n'
    assert repair_tail(path) is None
    assert path.read_bytes() == b'{"record_id": "a"}\n'

"""Parsing JSON that users give us, refusing an object with a repeated key.

JSON parsers (orjson, the standard library) keep the last of two equal keys without a word, so
`{"aaa": T1, "aaa": T2}` would load one task where the file holds two. `loads` parses with orjson
and then proves that nothing was dropped, at a small fraction of the parse's cost:

every string of a JSON text is a key or a string value, and a repeated key loses at least one of
them (the earlier key, with whatever its value held). So the parsed value holds as many strings as
the text if and only if no key was repeated. The text's strings are counted by its unescaped
quotes; the parsed value's by the unescaped quotes of `orjson.dumps(value)`, which serialises as
fast as orjson parses. Only when the counts differ (or the value is nested too deeply for orjson
to write) does a slower scan look for the repeated key and where it is, for the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

_ESCAPED_QUOTE = re.compile(rb'(\\+)"')
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[{}\[\],:]')
_SHOWN_KEY = 60
_SHOWN_LEVELS = 6


class DuplicateKeyError(ValueError):
    """An object of the text holds the same key twice; says which key, where, and inside what."""

    def __init__(self, key: str, line: int, column: int, inside: str) -> None:
        super().__init__(
            f"the key {_quoted(key)} appears twice in one object {inside}(line {line}, column "
            f"{column}); JSON keeps only the last, so give each entry its own key"
        )
        self.key = key
        self.line = line
        self.column = column


def _quoted(key: str | None) -> str:
    """A key as JSON writes it, shortened for a message."""
    shown = orjson.dumps(key).decode()
    return shown if len(shown) <= _SHOWN_KEY else shown[: _SHOWN_KEY - 2] + '…"'


def loads(data: bytes) -> Any:
    """Parse `data` like `orjson.loads`, raising `DuplicateKeyError` for a repeated key.

    Raises `orjson.JSONDecodeError` for text that is not JSON (including nesting deeper than
    orjson's limit of 1,024 levels).
    """
    value = orjson.loads(data)
    if not isinstance(value, dict | list):
        return value
    try:
        dumped = orjson.dumps(value)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes (255 levels): scan instead
        dumped = None
    if dumped is None or _strings(data) != _strings(dumped):
        duplicate = _find_duplicate(data)
        if duplicate is not None:
            raise duplicate
    return value


def _strings(text: bytes) -> int:
    """The number of strings in a valid JSON text: its unescaped quotes, halved.

    Outside strings a JSON text has no backslashes, so a run of backslashes always precedes a
    quote from inside a string, escaping it when the run is odd.
    """
    quotes = text.count(b'"')
    if b"\\" in text:
        quotes -= sum(1 for match in _ESCAPED_QUOTE.finditer(text) if len(match.group(1)) % 2 == 1)
    return quotes // 2


def _find_duplicate(data: bytes) -> DuplicateKeyError | None:
    """The first repeated key of valid JSON `data`, if any (an iterative scan: no recursion)."""
    frames: list[_Frame] = []
    key: str | None = None
    last_string: tuple[str, int] = ("", 0)
    for match in _TOKEN.finditer(data):
        token = match.group()
        if token[:1] == b'"':
            last_string = (orjson.loads(token), match.start())
        elif token == b":":
            key, offset = last_string
            frame = frames[-1]
            assert frame.keys is not None
            if key in frame.keys:
                line = data.count(b"\n", 0, offset) + 1
                column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
                labels = [f.label for f in frames]
                if len(labels) > _SHOWN_LEVELS:
                    labels = [*labels[:3], "…", *labels[-2:]]
                where = "".join(labels)
                return DuplicateKeyError(key, line, column, f"at {where} " if where else "")
            frame.keys.add(key)
        elif token in (b"{", b"["):
            label = ""
            if frames:
                parent = frames[-1]
                label = f"[{_quoted(key)}]" if parent.keys is not None else f"[{parent.index}]"
            frames.append(_Frame(label, set() if token == b"{" else None))
        elif token in (b"}", b"]"):
            frames.pop()
        elif token == b"," and frames[-1].keys is None:
            frames[-1].index += 1
    return None


@dataclass
class _Frame:
    """An open object (its keys so far) or array (the index of its current item)."""

    label: str
    keys: set[str] | None
    index: int = 0

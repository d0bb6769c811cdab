"""`strictjson.loads` finds exactly the repeated keys the standard library's pairs hook sees."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arcbench import strictjson

_KEYS = st.sampled_from(["a", "b", 'q"', "\\", "\\\\", "é", "a\\u0061", ":", "", "train"])
_SCALARS = (
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(alphabet='ab"\\:{}[],', max_size=4)
)


def _pairs_text(value: Any) -> str:
    """JSON text of `value`, where a list of pairs tagged "obj" becomes an object (keys may
    repeat)."""
    if isinstance(value, tuple):
        return "{" + ", ".join(f"{json.dumps(k)} : {_pairs_text(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_pairs_text(v) for v in value) + "]"
    return json.dumps(value)


_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.lists(st.tuples(_KEYS, inner), max_size=4).map(tuple)
    ),
    max_leaves=20,
)


def _has_duplicate(text: str) -> bool:
    found = False

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        keys = [k for k, _ in pairs]
        found = found or len(keys) != len(set(keys))
        return dict(pairs)

    json.loads(text, object_pairs_hook=hook)
    return found


@settings(max_examples=400, deadline=None)
@given(_VALUES)
def test_repeated_keys_are_found_exactly(value: Any) -> None:
    text = _pairs_text(value)
    if _has_duplicate(text):
        with pytest.raises(strictjson.DuplicateKeyError):
            strictjson.loads(text.encode())
    else:
        assert strictjson.loads(text.encode()) == json.loads(text)


def test_escaped_spellings_of_one_key_are_one_key() -> None:
    with pytest.raises(strictjson.DuplicateKeyError, match=r'the key "ab" appears twice'):
        strictjson.loads(b'{"ab": 1, "a\\u0062": 2}')
    with pytest.raises(strictjson.DuplicateKeyError, match=r'the key "\\"" appears twice'):
        strictjson.loads(b'{"\\"": 1, "\\u0022": 2}')
    assert strictjson.loads(b'{"a\\\\": 1, "a\\\\\\"": 2}') == {"a\\": 1, 'a\\"': 2}


def test_the_message_says_where() -> None:
    text = b'{"t": {"train": [{"input": [[1]]}],\n  "test": [], "test": []}}'
    with pytest.raises(strictjson.DuplicateKeyError) as info:
        strictjson.loads(text)
    assert str(info.value).startswith('the key "test" appears twice in one object at ["t"] ')
    assert "(line 2, column 15)" in str(info.value)


def test_huge_keys_and_deep_paths_are_shortened() -> None:
    key = "k" * 10_000
    text = "[" * 900 + orjson.dumps({key: 1}).decode()[:-1] + f',"{key}":2}}' + "]" * 900
    with pytest.raises(strictjson.DuplicateKeyError) as info:
        strictjson.loads(text.encode())
    assert len(str(info.value)) < 300


def test_scalars_and_invalid_text() -> None:
    assert strictjson.loads(b'"x"') == "x"
    assert strictjson.loads(b"3") == 3
    with pytest.raises(orjson.JSONDecodeError):
        strictjson.loads(b'{"a": 1,}')

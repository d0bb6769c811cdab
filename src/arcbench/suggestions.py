""" "Did you mean …?": the known names closest to a mistyped one, most similar first.

One ranking for every name a user types (models, datasets), so suggestions read the same
everywhere: similarity ignores case, and equally similar names keep the order they are known in
(`LOCAL_0, LOCAL_1, LOCAL_2`, never the reverse).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

CUTOFF = 0.6
"""The least similarity (difflib's ratio, 0 to 1) worth suggesting."""

MARGIN = 0.05
"""Names less similar than the closest by more than this are left out: one clear match is
suggested alone."""


def closest(word: str, known: Iterable[str], n: int = 3, cutoff: float = CUTOFF) -> list[str]:
    """Up to `n` of `known` at least `cutoff` similar to `word` and within `MARGIN` of the
    closest, the most similar first."""
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(word.lower())
    scored = []
    for order, name in enumerate(known):
        matcher.set_seq1(name.lower())
        if matcher.real_quick_ratio() >= cutoff and matcher.quick_ratio() >= cutoff:
            ratio = matcher.ratio()
            if ratio >= cutoff:
                scored.append((-ratio, order, name))
    ranked = sorted(scored)[:n]
    return [name for score, _, name in ranked if score <= ranked[0][0] + MARGIN]


def did_you_mean(word: str, known: Iterable[str], n: int = 3, cutoff: float = CUTOFF) -> str:
    """` Did you mean A, B or C?` (with its leading space), or "" when nothing is close."""
    names = closest(word, known, n, cutoff)
    if not names:
        return ""
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f" Did you mean {listed}?"

"""Small hand-made tasks and writers of task files in every supported shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

TASK_A: dict[str, Any] = {
    "train": [
        {"input": [[1, 0], [0, 0]], "output": [[0, 1], [0, 0]]},
        {"input": [[0, 0], [2, 0]], "output": [[0, 0], [0, 2]]},
    ],
    "test": [{"input": [[3, 0], [0, 0]], "output": [[0, 3], [0, 0]]}],
}
TASK_B: dict[str, Any] = {
    "train": [{"input": [[5]], "output": [[5, 5]]}],
    "test": [{"input": [[6]], "output": [[6, 6]]}, {"input": [[7]]}],
}


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(data))
    return path

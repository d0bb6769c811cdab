"""The one exception tree of arcbench.

Every error a user can cause or fix derives from `ArcbenchError`; the CLI's error boundary turns
it into one line on stderr and a non-zero exit, so a message must say what went wrong *and* what
to do next. Anything else reaching the boundary is a bug and keeps its traceback.

    ArcbenchError
    ├── DataError                 task data cannot be used
    │   ├── DatasetNotFoundError  a dataset spec names nothing that exists
    │   ├── TaskFileError         a file is not JSON or not a recognised shape
    │   └── TaskValidationError   a task breaks a rule (grid size, cell value, missing pair…)
    ├── SelectionError            --task-ids / --tasks / --shard / --max-tasks cannot be satisfied
    └── TransformError            a transform id or colour map is malformed or does not apply
"""

from __future__ import annotations


class ArcbenchError(Exception):
    """Base of every error the CLI reports as a one-line message rather than a traceback."""


class DataError(ArcbenchError):
    """Task data (a bundled set, a directory or a file) cannot be used."""


class DatasetNotFoundError(DataError):
    """The dataset spec is neither a bundled set nor an existing path."""


class TaskFileError(DataError):
    """A file is unreadable, not JSON, or not one of the recognised shapes."""


class TaskValidationError(DataError):
    """A task breaks a rule of the ARC format; the message names file, task, pair and rule."""


class SelectionError(ArcbenchError):
    """A task selection (ids, range, shard, maximum) is malformed or selects an unknown task."""


class TransformError(ArcbenchError):
    """A transform id or colour map is malformed, or a transform cannot apply to a task."""

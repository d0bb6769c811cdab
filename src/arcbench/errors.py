"""The one exception tree of arcbench.

Every error a user can cause or fix derives from `ArcbenchError`; the CLI's error boundary turns
it into one line on stderr and a non-zero exit, so a message must say what went wrong *and* what
to do next. Anything else reaching the boundary is a bug and keeps its traceback.

    ArcbenchError
    ├── DataError                 task data cannot be used
    │   ├── DatasetNotFoundError  a dataset spec names nothing that exists
    │   ├── TaskFileError         a file is not JSON or not a recognised shape
    │   ├── TaskValidationError   a task breaks a rule (grid size, cell value, missing pair…)
    │   └── AnswerUnknownError    a test input without a known output cannot be checked
    ├── SandboxError              the sandbox itself broke (a misbehaving program is an outcome)
    │   └── SandboxUnavailableError  full isolation cannot be set up here and weak was not asked for
    ├── SelectionError            --task-ids / --tasks / --shard / --max-tasks cannot be satisfied
    │   └── TaskNotFoundError     no task (or version, or test input) has the given id
    ├── TransformError            a transform id or colour map is malformed or does not apply
    ├── ResultsFileError          a results file is missing or damaged before its last line
    ├── ReportError               runs that cannot be scored together (they share tasks) or compared
    ├── RunError                  a run directory cannot be created, resumed or written
    │   ├── RunMismatchError      --run-name names a run of another model, dataset or prompt
    │   └── RunOutputError        the run directory or its files cannot be written (fatal)
    ├── StoreError                the trace or variation store refuses a change or cannot be used
    │   ├── StoreCorruptError     not an arcbench database, from a newer arcbench, or damaged
    │   ├── StoreLockedError      another process kept the database locked past the busy timeout
    │   ├── TraceNotFoundError    no trace has the given id
    │   ├── VariationNotFoundError  no stored variation has the given task id and version
    │   └── StorePermissionError  the user may not edit or delete this trace or variation
    ├── ConfigError               settings, models.toml or a registry entry cannot be used
    │   └── UnknownModelError     --model names no registry entry and matches no pattern
    └── ModelError                a model call failed; carries the usage and cost it incurred
        ├── AuthError             no API key, or the server refused it (fatal: stops the run)
        ├── RequestRejectedError  the server refused the request itself (other 4xx; not retried)
        │   └── PaymentRequiredError  402: no credits left (fatal)
        ├── ReplyTooLargeError    a reply beyond the size arcbench reads (not retried)
        └── ModelUnavailableError retries or time ran out (5xx, 429, timeouts, bad replies)

`ModelError.fatal` tells the runner whether one failure must stop the whole run (a refused key
fails every request alike) or becomes that attempt's `error`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from arcbench.usage import Usage


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


class AnswerUnknownError(DataError):
    """A test input's output is not in the data, so an answer to it can be neither checked nor
    revealed."""


class SandboxError(ArcbenchError):
    """The program sandbox failed (a worker would not start or kept dying), not a program."""


class SandboxUnavailableError(SandboxError):
    """Full isolation (bubblewrap namespaces) is unavailable and weak mode was not requested."""


class SelectionError(ArcbenchError):
    """A task selection (ids, range, shard, maximum) is malformed or selects an unknown task."""


class TaskNotFoundError(SelectionError):
    """No task of the dataset has the given id, version or test input."""


class TransformError(ArcbenchError):
    """A transform id or colour map is malformed, or a transform cannot apply to a task."""


class ResultsFileError(ArcbenchError):
    """A results file or run directory cannot be read: missing, or a line other than the last is
    not JSON. (A torn last line is what a kill leaves behind; readers skip it instead.) Also a
    store file given to `merge` (a traces_store.json, a variations list) that breaks its format."""


class ReportError(ArcbenchError):
    """Runs given to `report` cannot be scored together, or compared (no task in common)."""


class RunError(ArcbenchError):
    """A run directory cannot be created, resumed or written."""


class RunMismatchError(RunError):
    """Resuming would mix results of a different model, dataset or prompt into one run."""


class RunOutputError(RunError):
    """The run's files cannot be written; the run stops, keeping what was written."""


class StoreError(ArcbenchError):
    """The trace store or variation store refuses a change or cannot be used."""


class StoreCorruptError(StoreError):
    """The store file is not an arcbench database (another file, another application's
    database), was written by a newer arcbench, or is damaged; it is never modified."""


class StoreLockedError(StoreError):
    """Another process kept the database locked for longer than the busy timeout."""


class TraceNotFoundError(StoreError):
    """No trace in the store has the given trace id."""


class VariationNotFoundError(StoreError):
    """No stored variation has the given task id and version (or it was deleted)."""


class StorePermissionError(StoreError):
    """The user is neither the author (or creator) nor, where allowed, an admin."""


class ConfigError(ArcbenchError):
    """Settings, `models.toml` or a model registry entry is malformed or incomplete."""


class UnknownModelError(ConfigError):
    """A model name is neither a registry entry nor an `openrouter/<vendor>/<model>` name."""


class ModelError(ArcbenchError):
    """A call to a model failed. Messages never contain an API key.

    `usage`, `cost_usd` and `attempts` account for every HTTP request the failed call made, so
    that tokens a server billed for a failed attempt are still recorded; `unmetered` counts those
    of its requests that may have been billed without a usable usage (see `Completion`).
    `fatal` errors stop a run; the others become the failed attempt's record.
    """

    fatal: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        usage: Usage | None = None,
        cost_usd: float = 0.0,
        attempts: int = 0,
        unmetered: int = 0,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.usage = usage
        self.cost_usd = cost_usd
        self.attempts = attempts
        self.unmetered = unmetered


class AuthError(ModelError):
    """The API key is missing, or the server refused it (401/403): every request would fail."""

    fatal = True


class RequestRejectedError(ModelError):
    """The server refused this request (a 4xx other than 401/403/408/429); retrying cannot help."""


class PaymentRequiredError(RequestRejectedError):
    """The provider wants payment (402: OpenRouter credits used up); every request would fail."""

    fatal = True


class ReplyTooLargeError(ModelError):
    """The server sent more than `client.MAX_REPLY_BYTES` for one reply; it was not read, and
    asking again would most likely bring the same."""


class ModelUnavailableError(ModelError):
    """The model gave no usable reply within the retry budget (`--retries`, `--timeout`)."""

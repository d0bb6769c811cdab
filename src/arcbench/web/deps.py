"""What the API's handlers depend on: the store, the task catalogue, the runs and the session.

`Variations` and `Traces` are the one place in the web app that knows the store's API, so that
a change of store touches this module only. Handlers reach everything through `WebContext`,
kept on the application's state, with the FastAPI dependencies at the bottom of this module.
"""

from __future__ import annotations

import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

from arcbench.catalog import IndexedDataset, TaskCatalog, find_version
from arcbench.errors import ArcbenchError, RunError
from arcbench.manifest import RunManifest
from arcbench.merge import MergeReport, merge_inputs
from arcbench.records import TaskKey
from arcbench.runfiles import MANIFEST_FILE, RESULTS_FILE
from arcbench.runindex import RunsIndex, RunState
from arcbench.runview import tasks_of_run
from arcbench.store import Store, Trace, VariationAdded
from arcbench.store.files import traces_document
from arcbench.tasks import Task, VariantEntry
from arcbench.web.session import COOKIE, SessionSigner, User


class Variations:
    """The variation store as the web app uses it: the versions not deleted, adding with
    content-identical signing, soft deletion, export, and the change counter that live
    updates watch. Every call is one transaction of the shared database (`Store`), safe from
    any thread and beside any other process (`arcbench merge`)."""

    def __init__(self, store: Store) -> None:
        self._store = store.variations
        self._index: tuple[int, dict[str, list[int]]] | None = None
        self._index_lock = threading.Lock()

    def live(self, task_id: str | None = None) -> list[VariantEntry]:
        """The versions not deleted, in the order added; of one task, or of every task."""
        return self._store.list_variations(task_id)

    def version_index(self) -> dict[str, list[int]]:
        """`{task_id: [version, …]}` of the live versions, rebuilt only after a change."""
        counter = self.counter()
        with self._index_lock:
            if self._index is None or self._index[0] != counter:
                index: dict[str, list[int]] = {}
                for entry in self.live():
                    if entry.version is not None:
                        index.setdefault(entry.task_id, []).append(entry.version)
                self._index = (counter, index)
            return self._index[1]

    def add(self, task: Task, username: str) -> VariationAdded:
        """Store `task` as the next version of its task, or sign the identical stored one."""
        return self._store.add_variation(task, username)

    def delete(self, task_id: str, version: int, username: str, *, admin: bool) -> None:
        """Soft-delete a version (its creator, or an admin); its number is never reused."""
        self._store.delete_variation(task_id, version, username, admin=admin)

    def export(self) -> list[dict[str, Any]]:
        """The live versions in the variations format (`dataset.json`), as `--dataset` reads."""
        return list(self._store.export())

    def counter(self) -> int:
        """A number that moves whenever the stored variations change, in any process."""
        return self._store.revision()


class Traces:
    """The trace store as the web app uses it: a task version's traces (best first), adding,
    editing (the author only), deleting (the author or an admin), voting (one vote per user, 0
    withdraws), export, and the change counter live updates watch. Every call is one
    transaction of the shared database, so `arcbench merge` running at the same time loses
    nothing and neither does the app."""

    def __init__(self, store: Store) -> None:
        self._store = store.traces

    def of_task(self, task_id: str, version: int | None) -> list[Trace]:
        """The traces written for `version` of a task (None: the original), best score first,
        then oldest first."""
        return self._store.list_traces(task_id, version)

    def add(self, task_id: str, version: int | None, username: str, text: str) -> Trace:
        return self._store.add_trace(task_id, username, text, version)

    def edit(self, trace_id: str, username: str, text: str) -> Trace:
        return self._store.edit_trace(trace_id, username, text)

    def delete(self, trace_id: str, username: str, *, admin: bool) -> None:
        self._store.delete_trace(trace_id, username, admin=admin)

    def vote(self, trace_id: str, username: str, vote: int) -> Trace:
        return self._store.vote(trace_id, username, vote)

    def export(self) -> bytes:
        """Every trace as `traces_store.json`, the bytes `arcbench store export` writes, from
        one snapshot of the store (read on one thread: a snapshot is a thread's transaction)."""
        return b"".join(traces_document(self._store.export()))

    def counter(self) -> int:
        """A number that moves whenever a trace or a vote changes, in any process."""
        return self._store.revision()


class Runs:
    """The run directories under `--runs` as the web app shows them (`RunsIndex`), the grids
    each was scored on (from the datasets this app offers only), and merging a run's traces into
    the store with the same merge `arcbench merge` runs."""

    GRIDS_KEPT = 32
    """Runs whose tasks are kept at hand (each a dict of the run's tasks, shared with the
    catalogue's)."""

    def __init__(self, root: Path, catalog: TaskCatalog, store: Path, store_timeout: float) -> None:
        self.index = RunsIndex(root)
        self._catalog = catalog
        self._store = store
        self._store_timeout = store_timeout
        self._grids: dict[tuple[str, str], tuple[dict[TaskKey, Task], str | None]] = {}
        self._grids_lock = threading.Lock()

    def grids(self, manifest: RunManifest) -> tuple[dict[TaskKey, Task], str | None]:
        """The tasks a run was scored on, or none and why: only from a dataset this app
        offers (a run's manifest never makes the app read a path), and only if it still holds
        what the run saw."""
        cache_key = (manifest.run_id, manifest.dataset.content_hash)
        with self._grids_lock:
            if cache_key in self._grids:
                return self._grids[cache_key]
        spec = self._offered(manifest.dataset.spec)
        if spec is None:
            found: tuple[dict[TaskKey, Task], str | None] = (
                {},
                f"grids not shown: this app does not offer the run's dataset "
                f"{manifest.dataset.spec} (start serve-ui with --dataset {manifest.dataset.spec})",
            )
        else:
            try:
                indexed = self._catalog.dataset(spec)
            except ArcbenchError as exc:
                found = ({}, f"grids not shown ({exc})")
            else:
                tasks = [task for versions in indexed.versions.values() for task in versions]
                found = tasks_of_run(manifest, tasks)
        with self._grids_lock:
            if len(self._grids) >= self.GRIDS_KEPT:
                self._grids.pop(next(iter(self._grids)))
            self._grids[cache_key] = found
        return found

    def _offered(self, spec: str) -> str | None:
        """The spec this app offers that names the same dataset as `spec`, if any."""
        offered = self._catalog.specs
        if spec in offered:
            return spec
        try:
            wanted = Path(spec).resolve(strict=True)
        except (OSError, ValueError):
            return None
        for candidate in offered:
            try:
                if Path(candidate).resolve(strict=True) == wanted:
                    return candidate
            except (OSError, ValueError):
                continue
        return None

    def merge(self, run: RunState) -> MergeReport:
        """Merge a run's traces into the store, as `arcbench merge RUN` does. Its files must be
        regular files inside the run directory (a symlink would take the merge elsewhere)."""
        for name in (RESULTS_FILE, MANIFEST_FILE):
            try:
                found = (run.path / name).lstat()
            except FileNotFoundError:
                if name == MANIFEST_FILE:
                    continue
                raise RunError(
                    f"run {run.name} has no {RESULTS_FILE} yet: nothing to merge"
                ) from None
            if not stat.S_ISREG(found.st_mode):
                raise RunError(f"run {run.name}: {name} is not a regular file; not merged")
        return merge_inputs([run.path], self._store, now=time.time(), timeout=self._store_timeout)

    def counter(self) -> int:
        """A number that moves whenever a run directory appears, goes or changes."""
        return self.index.counter()


@dataclass(frozen=True)
class WebContext:
    """Everything the handlers share, built once per app."""

    catalog: TaskCatalog
    default_dataset: str
    variations: Variations
    traces: Traces
    runs: Runs
    signer: SessionSigner
    admin_token: str | None

    def dataset(self, spec: str | None) -> IndexedDataset:
        """The dataset `spec` names (None: the one shown first)."""
        return self.catalog.dataset(spec or self.default_dataset)

    def task(self, spec: str | None, task_id: str, version: int | None) -> Task:
        """Version `version` of a task (None: the original), from the dataset or the store."""
        return find_version(self.dataset(spec), task_id, version, self.variations.live(task_id))


def get_context(request: Request) -> WebContext:
    context: WebContext = request.app.state.context
    return context


Context = Annotated[WebContext, Depends(get_context)]


def current_user(request: Request, context: Context) -> User | None:
    """The session's user, or None when there is no valid session cookie."""
    return context.signer.verify(request.cookies.get(COOKIE))


def require_user(user: Annotated[User | None, Depends(current_user)]) -> User:
    """The session's user; a change without a session is refused with 401."""
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "sign in first: set a display name (POST /api/session) before making changes",
        )
    return user


CurrentUser = Annotated[User | None, Depends(current_user)]
SignedInUser = Annotated[User, Depends(require_user)]

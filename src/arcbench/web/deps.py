"""What the API's handlers depend on: the variation store, the task catalogue and the session.

`Variations` is the one place in the web app that knows the store's API, so that a change of
store touches this module only. Handlers reach everything through `WebContext`, kept on the
application's state, with the FastAPI dependencies at the bottom of this module.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

from arcbench.catalog import IndexedDataset, TaskCatalog, find_version
from arcbench.errors import StorePermissionError, VariationNotFoundError
from arcbench.store import VARIATIONS_FILE, Change, VariationAdded, VariationState, VariationStore
from arcbench.tasks import Task, VariantEntry
from arcbench.web.session import COOKIE, SessionSigner, User

DELETED_AT = "deleted_at"
DELETED_BY = "deleted_by"


class Variations:
    """The variation store as the web app uses it: live (not deleted) versions, adding with
    content-identical signing, soft deletion, export, and a change counter for live updates.

    The store keeps deleted versions (their numbers are never reused); every read here leaves
    them out.
    """

    def __init__(self, data_dir: Path) -> None:
        self._store = VariationStore(data_dir / VARIATIONS_FILE)
        self._index: tuple[int, dict[str, list[int]]] | None = None
        self._index_lock = threading.Lock()

    def live(self, task_id: str | None = None) -> list[VariantEntry]:
        """The versions not deleted, in the order added; of one task, or of every task."""

        def look(state: VariationState) -> list[VariantEntry]:
            return [
                VariantEntry.model_validate(raw)
                for raw in state.entries
                if not raw.get(DELETED_AT) and (task_id is None or raw["task_id"] == task_id)
            ]

        return self._store.file.query(look)

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
        """Soft-delete a version: its creator may, and so may an admin."""

        def apply(state: VariationState) -> Change[None]:
            raw = next(
                (
                    raw
                    for raw in state.entries
                    if raw["task_id"] == task_id
                    and raw.get("version") == version
                    and not raw.get(DELETED_AT)
                ),
                None,
            )
            if raw is None:
                raise VariationNotFoundError(
                    f"no variation {task_id}@{version} in the store; it may have been deleted, "
                    "reload the versions list"
                )
            creator = raw.get("created_by")
            if not admin and creator != username:
                raise StorePermissionError(
                    f"only {creator!r}, who created {task_id}@{version}, or an admin may delete "
                    f"it (you are {username!r})"
                )
            raw[DELETED_AT] = datetime.now(UTC).isoformat(timespec="seconds")
            raw[DELETED_BY] = username
            return Change(None)

        self._store.file.change(apply)

    def export(self) -> list[dict[str, Any]]:
        """The live versions in the variations format (`dataset.json`), as `--dataset` reads."""
        return [entry.model_dump(mode="json") for entry in self.live()]

    def counter(self) -> int:
        """A number that changes whenever the stored variations change; cheap to read often."""
        try:
            st = self._store.path.stat()
        except FileNotFoundError:
            return 0
        return hash((st.st_ino, st.st_size, st.st_mtime_ns))


@dataclass(frozen=True)
class WebContext:
    """Everything the handlers share, built once per app."""

    catalog: TaskCatalog
    default_dataset: str
    variations: Variations
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

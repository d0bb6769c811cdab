"""The web application: FastAPI routers for the API, the front end's static files, and the
`Guard` middleware in front of both.

`create_app` is what `arcbench serve-ui` serves and what the tests start on a free port.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from arcbench import __version__
from arcbench.catalog import TaskCatalog
from arcbench.errors import (
    AnswerUnknownError,
    ArcbenchError,
    DataError,
    DatasetNotFoundError,
    ResultsFileError,
    RunError,
    StoreError,
    StoreLockedError,
    StorePermissionError,
    TaskNotFoundError,
    TraceNotFoundError,
    TransformError,
    VariationNotFoundError,
)
from arcbench.store import DEFAULT_TIMEOUT_S, Store
from arcbench.web.deps import Runs, Traces, Variations, WebContext
from arcbench.web.guard import Guard, GuardRules
from arcbench.web.live import ChangeFeed
from arcbench.web.routes import events, runs, session, tasks, traces, variations
from arcbench.web.session import SessionSigner

_STATUS: list[tuple[type[ArcbenchError], int]] = [
    (TaskNotFoundError, 404),
    (DatasetNotFoundError, 404),
    (TraceNotFoundError, 404),
    (VariationNotFoundError, 404),
    (AnswerUnknownError, 409),
    (TransformError, 422),
    (StorePermissionError, 403),
    (StoreLockedError, 503),
    (StoreError, 409),
    (RunError, 409),
    (ResultsFileError, 409),
    (DataError, 500),
]
"""The HTTP status of each library error, most specific first; any other is a 400."""


@dataclass(frozen=True)
class AppConfig:
    """What one app serves: datasets, directories, the front end, and its secrets."""

    default_dataset: str
    data_dir: Path
    store: Path
    """The database file (`arcbench.store`), shared with `arcbench merge`."""
    runs_dir: Path
    static_dir: Path
    session_key: bytes
    extra_datasets: tuple[str, ...] = ()
    token: str | None = None
    admin_token: str | None = None
    store_timeout: float = DEFAULT_TIMEOUT_S


def create_app(config: AppConfig) -> FastAPI:
    """The app for `config`; nothing is loaded until the first request needs it."""
    app = FastAPI(
        title="arcbench",
        version=__version__,
        summary="Solve, transform and curate ARC tasks: the API behind arcbench serve-ui.",
        docs_url=None,  # the interactive docs load scripts from a CDN; the schema is enough
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    store = Store(config.store, timeout=config.store_timeout)
    variation_store = Variations(store)
    trace_store = Traces(store)
    catalog = TaskCatalog(extra_specs=config.extra_datasets)
    run_index = Runs(config.runs_dir, catalog, config.store, config.store_timeout)
    topics = {
        "variations": variation_store.counter,
        "traces": trace_store.counter,
        "runs": run_index.counter,
    }
    app.state.context = WebContext(
        catalog=catalog,
        default_dataset=config.default_dataset,
        variations=variation_store,
        traces=trace_store,
        runs=run_index,
        signer=SessionSigner(config.session_key),
        admin_token=config.admin_token,
    )
    app.state.feed = ChangeFeed(topics)
    # Index the run directories now, in the background: the first look at a large runs
    # directory reads every results file once.
    threading.Thread(target=run_index.index.runs, name="arcbench-runs-index", daemon=True).start()
    for module in (tasks, variations, traces, runs, session, events):
        app.include_router(module.router)
    app.add_exception_handler(ArcbenchError, _library_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.mount("/", StaticFiles(directory=config.static_dir, html=True), name="static")
    app.add_middleware(Guard, rules=GuardRules(token=config.token))
    return app


async def _library_error(request: Request, exc: Exception) -> JSONResponse:
    code = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
    return JSONResponse({"detail": str(exc)}, status_code=code)


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """422 with each problem's location and message, never the offending input echoed back."""
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
        for error in exc.errors()[:20]
    ]
    return JSONResponse({"detail": problems}, status_code=422)

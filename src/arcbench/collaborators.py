"""Building what a job is given — the model client and the sandbox — from settings.

Called at the edge (the CLI, the web app), never by the library itself: the library's functions
take a ready client and sandbox (`arcbench.jobs.run_job`), so tests can pass a scripted model.
Here `--base-url`, the API key, the connection pool, the rate limit and the retry policy are
read off `Settings` and the registry entry, and the sandbox's isolation and time limit too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from arcbench.client import ModelClient, RetryEvent, RetryPolicy
from arcbench.jobs.protocol import JobKind
from arcbench.registry import ModelEntry, resolve_api_key
from arcbench.sandbox import Sandbox
from arcbench.settings import Settings


def build_client(
    entry: ModelEntry,
    settings: Settings,
    *,
    on_retry: Callable[[RetryEvent], None] | None = None,
) -> ModelClient:
    """The client a run uses: `--base-url`, key, pool size, rate limit and retries from settings.

    Raises `AuthError` naming the variable to set when the entry needs a key that is not set,
    before any request is made.
    """
    entry = entry.with_base_url(settings.base_url)
    return ModelClient(
        entry,
        api_key=resolve_api_key(entry, settings.secret),
        max_concurrent=settings.max_concurrent,
        policy=RetryPolicy(
            retries=settings.retries,
            timeout=settings.timeout,
            request_timeout=settings.request_timeout,
            wait_initial=settings.retry_wait_initial,
            wait_max=settings.retry_wait_max,
            wait_jitter=settings.retry_wait_jitter,
        ),
        rate_limit=settings.rate_limit,
        connect_timeout=settings.connect_timeout,
        on_retry=on_retry,
    )


@dataclass(frozen=True)
class Collaborators:
    """A job's model client (None for an offline kind) and sandbox (None when it checks no
    programs), open and ready."""

    model: ModelClient | None
    sandbox: Sandbox | None


@asynccontextmanager
async def open_collaborators(
    kind: JobKind,
    entry: ModelEntry,
    settings: Settings,
    *,
    on_retry: Callable[[RetryEvent], None] | None = None,
) -> AsyncIterator[Collaborators]:
    """Start what `kind` needs (the model's served id discovered, the sandbox's workers warm),
    and close it all on the way out."""
    async with AsyncExitStack() as stack:
        model = None
        if not kind.offline:
            model = await stack.enter_async_context(
                build_client(entry, settings, on_retry=on_retry)
            )
        sandbox = None
        if kind.needs_sandbox:
            sandbox = await stack.enter_async_context(
                Sandbox(settings.sandbox, timeout_s=settings.exec_timeout)
            )
        yield Collaborators(model, sandbox)

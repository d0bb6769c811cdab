"""`GET /api/events`: the live-update stream (see `arcbench.web.live`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from arcbench.web.live import ChangeFeed

router = APIRouter(prefix="/api", tags=["live"])


@router.get("/events", response_class=StreamingResponse)
def events(request: Request) -> StreamingResponse:
    """Server-sent events: `event: variations` (and other topics) with the store's change
    counter, whenever it changes. Re-read what is shown when one arrives."""
    feed: ChangeFeed = request.app.state.feed
    return StreamingResponse(
        feed.stream(request.is_disconnected),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )

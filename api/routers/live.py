"""Server-sent events of new and updated violations, for the operators' review queue.

Browsers' EventSource cannot set headers, so the session cookie authenticates it; a heartbeat
comment keeps proxies from closing an idle stream and notices a client that went away.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import StreamingResponse

from api.deps import Reader, scoped_site
from api.live import GAP, Broadcaster
from vision.config import ID_PATTERN

router = APIRouter(tags=["live"])
log = logging.getLogger(__name__)


@router.get(
    "/live",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "events 'violation' (the violation as JSON) and 'dropped'",
        }
    },
    summary="Live stream (SSE) of new and updated violations",
)
async def live(
    request: Request,
    user: Reader,
    site: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    camera: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
) -> StreamingResponse:
    site = scoped_site(user, site)
    broadcaster: Broadcaster = request.app.state.live
    heartbeat: float = request.app.state.settings.live_heartbeat_s
    sub = broadcaster.subscribe(site, camera)

    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 3000\n: connected\n\n"
            while True:
                try:
                    msg = await asyncio.wait_for(sub.queue.get(), timeout=heartbeat)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    continue
                lost = sub.take_dropped()
                if lost:
                    yield f"event: dropped\ndata: {json.dumps({'count': lost})}\n\n"
                if msg is GAP:
                    continue
                try:
                    data = json.dumps(msg.data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
                    data.encode("utf-8")
                except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
                    log.warning("live message for %s cannot be written as JSON; skipped: %s", msg.data.get("id"), exc)
                    continue
                yield f"event: {msg.event}\nid: {msg.data.get('id', '')}\ndata: {data}\n\n"
        finally:
            broadcaster.unsubscribe(sub)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )

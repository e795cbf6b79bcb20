"""Request-body size limits enforced while the body streams in, before anything is parsed or
spooled to disk, so an oversized upload costs the server no more than the limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body is larger than {limit} bytes")
        self.limit = limit


def too_large_body(limit: int) -> bytes:
    return b'{"detail":"request body is larger than ' + str(limit).encode() + b' bytes"}'


class BodySizeLimit:
    def __init__(
        self,
        app: ASGIApp,
        limit_for: Callable[[str, str], int],
        on_reject: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.limit_for = limit_for
        self.on_reject = on_reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            if self.on_reject is not None:
                self.on_reject(scope["path"])
            await _reject(send, limit)
            return
        received = 0
        exceeded = False
        answered = False

        async def limited() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def answer(message: Message) -> None:
            """Once the limit is hit, whatever the app answers becomes the 413: FastAPI turns an
            exception raised while it parses a JSON body into '400 error parsing the body'."""
            nonlocal answered
            if not exceeded:
                await send(message)
                return
            if answered or message["type"] != "http.response.start":
                return
            answered = True
            if message.get("status") != 413 and self.on_reject is not None:
                self.on_reject(scope["path"])
            await _reject(send, limit)

        await self.app(scope, limited, answer)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _reject(send: Send, limit: int) -> None:
    body = too_large_body(limit)
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Headers every response should carry; pure ASGI so streaming responses stay streaming."""

    HEADERS = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
    ]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in self.HEADERS if h[0] not in present
                ]
            await send(message)

        await self.app(scope, receive, with_headers)

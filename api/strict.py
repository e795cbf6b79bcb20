"""Strict input at the door: what every route refuses before a handler or the database sees it.

Python's ``json`` module accepts ``NaN`` and ``Infinity`` (not JSON), lone UTF-16 surrogates
(``"\\ud800"``, which no UTF-8 encoder will write back) and nesting deep enough to exhaust the
interpreter's recursion limit; PostgreSQL refuses NUL characters in text. Each of those used to
surface as a 500 somewhere downstream (a rejected INSERT, a 422 body that could not be rendered).
Here they are refused with a 422 and a plain message, on every route, whatever the database.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.limits import BodyTooLarge, _reject

MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")
JSON_TYPES = ("application/json", "")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class StrictInputError(ValueError):
    """Input the API refuses; the message is plain and never contains the offending value.

    ``malformed``: not JSON at all (as opposed to JSON the API refuses)."""

    def __init__(self, message: str, malformed: bool = False) -> None:
        super().__init__(message)
        self.malformed = malformed


def check_text(value: str, where: str) -> None:
    if "\x00" in value:
        raise StrictInputError(f"{where}: NUL characters are not allowed")
    if _SURROGATE.search(value):
        raise StrictInputError(f"{where}: lone UTF-16 surrogates are not valid text")


def _reject_constant(name: str) -> Any:
    raise StrictInputError(f"{name} is not a JSON number; send a finite number or null")


def check_value(value: Any, where: str = "body", max_depth: int = MAX_DEPTH) -> None:
    """Walk a decoded JSON value (iteratively: no recursion to exhaust) for what the API refuses."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                raise StrictInputError(f"{where}: JSON nested deeper than {max_depth} levels")
            if isinstance(item, dict):
                for k, v in item.items():
                    check_text(str(k), where)
                    stack.append((v, depth + 1))
            else:
                stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, str):
            check_text(item, where)
        elif isinstance(item, float) and not math.isfinite(item):
            raise StrictInputError(f"{where}: NaN and Infinity are not JSON numbers")


def loads(raw: bytes | str, where: str = "body") -> Any:
    """``json.loads`` that refuses what :func:`check_value` refuses, plus invalid UTF-8."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise StrictInputError(f"{where}: not valid UTF-8", malformed=True) from None
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except StrictInputError as exc:
        raise StrictInputError(f"{where}: {exc}") from None
    except RecursionError:
        raise StrictInputError(f"{where}: JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise StrictInputError(f"{where}: not valid JSON", malformed=True) from None
    check_value(value, where)
    return value


def check_url_bytes(raw: bytes, where: str) -> None:
    """A percent-encoded path or query string must decode to UTF-8 text without NUL."""
    decoded = unquote_to_bytes(raw.replace(b"+", b" "))
    if b"\x00" in decoded:
        raise StrictInputError(f"{where}: NUL characters are not allowed")
    try:
        decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise StrictInputError(f"{where}: not valid UTF-8 (lone surrogates included)") from None


def json_safe(value: Any) -> Any:
    """A copy that ``json.dumps(allow_nan=False)`` and UTF-8 can write: non-finite floats become
    ``None``, unwritable text is escaped. For rendering rows stored before strict input, and for
    echoing a refused value in a 422 body."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8") if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {json_safe(str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int):
        return value
    return json_safe(str(value))


def _content_type(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return value.decode("latin-1").split(";")[0].strip().lower()
    return ""


async def _refuse(send: Send, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    """The whole request body (``BodyTooLarge`` from the size limit below us)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _body_problem(body: bytes, ctype: str | None) -> str | None:
    """Why a JSON or form body is refused, or None. A body that is not JSON at all is the route's
    to explain (or to accept, when it came without a content type)."""
    if not body:
        return None
    try:
        if ctype == "application/x-www-form-urlencoded":
            check_url_bytes(body, "form")
        else:
            loads(body)
    except StrictInputError as exc:
        if not exc.malformed:
            return str(exc)
    return None


class StrictInput:
    """Pure ASGI: checks the path and query string of every request, and JSON and form bodies,
    before routing. Multipart bodies pass through (their JSON parts use :func:`loads`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_url_bytes(scope.get("raw_path") or scope["path"].encode("utf-8", "surrogatepass"), "path")
            check_url_bytes(scope.get("query_string", b""), "query string")
        except StrictInputError as exc:
            await _refuse(send, str(exc))
            return
        ctype = _content_type(scope)
        if scope["method"] not in BODY_METHODS or ctype not in (*JSON_TYPES, "application/x-www-form-urlencoded"):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
        except BodyTooLarge as exc:
            await _reject(send, exc.limit)
            return
        problem = _body_problem(body, ctype)
        if problem is not None:
            await _refuse(send, problem)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

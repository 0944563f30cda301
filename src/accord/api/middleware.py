"""Pure-ASGI middleware: path normalisation, body limit, microversion negotiation.

Pure ASGI (not BaseHTTPMiddleware) because it sits on every request's hot path.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException

from accord.api import microversions
from accord.domain.errors import AccordError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Cyborg prepends /v2 to these (so `/device_profiles` works); Accord does the same.
V2_RESOURCES = frozenset({"accelerator_requests", "device_profiles", "devices", "deployables", "attributes"})
# Cyborg is usually published under /accelerator; Accord answers there too, with links to match.
PUBLIC_PREFIX = "/accelerator"


async def send_error(
    send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"error_message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AccordMiddleware:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int, unlimited_suffixes: tuple[str, ...] = ("/file",)
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.unlimited_suffixes = unlimited_suffixes
        self._versions: dict[bytes | None, tuple[microversions.Version, list[tuple[bytes, bytes]]]] = {}

    def _normalise(self, scope: Scope) -> str:
        path: str = scope["path"]
        if path == PUBLIC_PREFIX or path.startswith(PUBLIC_PREFIX + "/"):
            scope["root_path"] = scope.get("root_path", "") + PUBLIC_PREFIX
            path = path[len(PUBLIC_PREFIX) :] or "/"
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/") or "/"
        first = path.split("/", 2)[1] if path != "/" else ""
        if first in V2_RESOURCES:
            path = "/v2" + path
        scope["path"] = path
        scope["raw_path"] = path.encode()
        return path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = self._normalise(scope)
        headers = dict(scope["headers"])
        limited = not path.endswith(self.unlimited_suffixes)
        if limited:
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
                await send_error(send, 413, f"The request body is larger than {self.max_body_bytes} bytes.")
                return
            receive = self._limited(receive)
            if _has_nul_in_url(scope):
                await send_error(send, 400, NUL_MESSAGE)
                return
            try:
                body, more = await _read_small_body(receive)
            except _BodyTooLarge:
                await send_error(send, 413, f"The request body is larger than {self.max_body_bytes} bytes.")
                return
            if _has_nul_in_json(body):
                await send_error(send, 400, NUL_MESSAGE)
                return
            receive = _replay(body, more, receive)
        if not (path == "/v2" or path.startswith("/v2/")):
            await self.app(scope, receive, send)
            return
        raw = headers.get(b"openstack-api-version")
        try:
            version, extra = self._negotiate(raw)
        except AccordError as exc:
            await send_error(
                send, exc.status, exc.message, microversions.response_headers(microversions.MIN_VERSION)
            )
            return
        scope.setdefault("state", {})["microversion"] = version

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _negotiate(self, raw: bytes | None) -> tuple[microversions.Version, list[tuple[bytes, bytes]]]:
        """The version a header asks for and the headers that answer it, remembered per header
        value (clients send the same one on every request)."""
        known = self._versions.get(raw)
        if known is None:
            version = microversions.parse_header(raw.decode("latin-1") if raw is not None else None)
            known = (version, microversions.response_headers(version))
            if len(self._versions) < 256:
                self._versions[raw] = known
        return known

    def _limited(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.max_body_bytes

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge()
            return message

        return limited_receive


# PostgreSQL text cannot hold NUL and no name, uuid or trait legitimately contains one;
# refusing it at the edge keeps both stores answering the same way.
NUL_MESSAGE = "The request contains a NUL character (\\u0000), which no field may hold."


def _has_nul_in_url(scope: Scope) -> bool:
    # scope["path"] is already percent-decoded by the server; the query string is raw.
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope["path"] or b"\x00" in unquote_to_bytes(query)


def _has_nul_in_json(body: bytes) -> bool:
    if b"\x00" in body:
        return True
    if b"\\u0000" not in body:
        return False
    try:
        document = json.loads(body)
    except ValueError:
        return False  # malformed JSON gets its own 400 from the handler
    return _contains_nul(document)


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(v) for v in value)
    return False


async def _read_small_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole body of a size-limited request; `more` is False once the client is done."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay


class _BodyTooLarge(HTTPException):
    """An HTTPException so FastAPI's body parsing lets it through to the 413 handler."""

    def __init__(self) -> None:
        super().__init__(413)

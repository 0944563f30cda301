"""Pure-ASGI middleware: metrics, path normalisation, body limit, microversion negotiation.

Pure ASGI (not BaseHTTPMiddleware), and one layer rather than several, because every request
crosses it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from starlette.exceptions import HTTPException
from starlette.responses import Response

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


class Recorder(Protocol):
    """Where each answered request is counted (`api/metrics.py`'s `Metrics`)."""

    def record(self, method: str, route: str, status: int, seconds: float) -> None: ...


class Entry(Protocol):
    """Runs a request on a route it has a plan for and returns the response, errors already
    mapped (`api/dispatch.py`'s `Dispatcher.respond`); None when it has no plan for it."""

    async def respond(self, scope: Scope, receive: Receive, send: Send) -> Response | None: ...


class AccordMiddleware:
    """The one Accord layer every HTTP request crosses: metrics, path normalisation, body limit,
    NUL refusal, microversion negotiation, and then a planned route entered directly (no
    exception middleware, exit stack or router on the way, and no wrapped `send`: the response
    is built here, so its headers are added before it is sent). Anything else goes on to
    FastAPI's own stack with the same headers added and the same metrics recorded."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        metrics: Recorder | None = None,
        entry: Entry | None = None,
        unlimited_suffixes: tuple[str, ...] = ("/file",),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.entry = entry
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
        started = time.perf_counter()
        status = [500]  # what was answered; 500 until a response starts
        try:
            await self._serve(scope, receive, send, status)
        finally:
            if self.metrics is not None:
                route = getattr(scope.get("route"), "path", "unmatched")
                self.metrics.record(scope["method"], route, status[0], time.perf_counter() - started)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, status: list[int]) -> None:
        path = self._normalise(scope)
        headers = dict(scope["headers"])
        if not path.endswith(self.unlimited_suffixes):
            # Without Content-Length or Transfer-Encoding an HTTP/1.1 request has no body.
            has_body = b"content-length" in headers or b"transfer-encoding" in headers
            if has_body:
                length = headers.get(b"content-length")
                if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
                    await self._refuse(send, status, 413, self._too_large)
                    return
                receive = self._limited(receive)
            if _has_nul_in_url(scope):
                await self._refuse(send, status, 400, NUL_MESSAGE)
                return
            if has_body:
                try:
                    body, more = await _read_small_body(receive)
                except _BodyTooLarge:
                    await self._refuse(send, status, 413, self._too_large)
                    return
                if _has_nul_in_json(body):
                    await self._refuse(send, status, 400, NUL_MESSAGE)
                    return
                receive = _replay(body, more, receive)
        extra: list[tuple[bytes, bytes]] = []
        if path == "/v2" or path.startswith("/v2/"):
            try:
                version, extra = self._negotiate(headers.get(b"openstack-api-version"))
            except AccordError as exc:
                answer = microversions.response_headers(microversions.MIN_VERSION)
                await self._refuse(send, status, exc.status, exc.message, answer)
                return
            scope.setdefault("state", {})["microversion"] = version
        if self.entry is not None:
            response = await self.entry.respond(scope, receive, send)
            if response is not None:
                response.raw_headers.extend(extra)
                status[0] = response.status_code
                await response(scope, receive, send)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                if extra:
                    message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @property
    def _too_large(self) -> str:
        return f"The request body is larger than {self.max_body_bytes} bytes."

    @staticmethod
    async def _refuse(
        send: Send,
        status: list[int],
        code: int,
        message: str,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        status[0] = code
        await send_error(send, code, message, headers)

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
    # scope["path"] is already percent-decoded by the server; the query string is raw, and
    # percent-decoding yields a NUL only from a raw NUL or "%00".
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope["path"] or b"\x00" in query or b"%00" in query


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

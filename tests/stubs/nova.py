"""A tiny Nova on loopback: records `os-server-external-events` and answers server look-ups.

It serves just what the real clients in the tests ask of Nova: the compute version document
(openstacksdk discovers versions before its first call), `GET /servers/{id}` for the servers
it was told about (the OpenStack client's `accelerator arq bind` resolves the server first),
and `POST /os-server-external-events`, which Accord calls when ARQs resolve. `GET /_events`
lists the event posts received so far (path, headers, body), for a process other than the
test's (the Nova driver in `.venv-nova`) to hand them to Nova's own compute code.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class NovaStub:
    url: str
    servers: dict[str, str] = field(default_factory=dict)  # server id -> name
    requests: list[RecordedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_server(self, server_id: str, name: str = "vm") -> None:
        self.servers[server_id] = name

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def event_posts(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/os-server-external-events")]

    def events(self) -> list[dict[str, str]]:
        return [event for post in self.event_posts() for event in post.body["events"]]

    def wait_for_events(self, count: int, timeout: float = 15.0) -> list[dict[str, str]]:
        """Events arrive from Accord's background sender; wait until `count` have come."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events()
            if len(events) >= count:
                return events
            time.sleep(0.05)
        raise AssertionError(f"Nova stub got {len(self.events())} events, expected {count}: {self.events()}")


def _version_document(base: str) -> dict[str, Any]:
    return {
        "version": {
            "id": "v2.1",
            "status": "CURRENT",
            "version": "2.96",
            "min_version": "2.1",
            "links": [{"rel": "self", "href": base + "/v2.1/"}],
        }
    }


def _handler_for(stub: NovaStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _read_json(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            return json.loads(raw) if raw else None

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            body = self._read_json()
            path = self.path.split("?", 1)[0].rstrip("/")
            stub.record(RecordedRequest(self.command, self.path, dict(self.headers.items()), body))
            parts = [p for p in path.split("/") if p and p != "v2.1"]
            if self.command == "POST" and parts == ["os-server-external-events"]:
                events = [{**e, "code": 200} for e in body["events"]]
                self._answer(200, {"events": events})
            elif self.command == "GET" and parts == ["_events"]:
                posts = [{"path": p.path, "headers": p.headers, "body": p.body} for p in stub.event_posts()]
                self._answer(200, {"posts": posts})
            elif self.command == "GET" and not parts:
                self._answer(200, _version_document(stub.url))
            elif self.command == "GET" and len(parts) == 2 and parts[0] == "servers":
                server_id = parts[1]
                if server_id in stub.servers:
                    server = {"id": server_id, "name": stub.servers[server_id], "status": "ACTIVE"}
                    self._answer(200, {"server": server})
                else:
                    self._answer(404, {"itemNotFound": {"code": 404, "message": "Server not found"}})
            else:
                self._answer(404, {"itemNotFound": {"code": 404, "message": f"No stub for {path}"}})

        do_GET = do_POST = do_PUT = do_DELETE = _handle

    return Handler


@contextmanager
def nova_stub() -> Iterator[NovaStub]:
    """A NovaStub listening on a free loopback port for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    stub = NovaStub(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler_for(stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

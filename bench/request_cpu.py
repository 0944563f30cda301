"""App-only CPU per request for the peers kit's bench.py ops, in process (no HTTP server).

Drives the ASGI app directly with bench.py's headers (noauth, `accelerator 2.0`) on a fresh
SQLite database seeded as `bench/peers_bench.py` seeds it, and prints process CPU ms per
request. `--inline` runs sync handlers on the loop instead of the worker-thread pool, so a
`--profile` (cProfile) sees the handlers too and `valgrind --tool=callgrind` counts no idle
loop; the figures then exclude the thread hop (~25 to 40 µs).

    .venv/bin/python bench/request_cpu.py [--ops get,post-delete,arq] [-n 2000] [--inline] [--profile out]

`arq` is bench.py's "ARQ create+delete": a create and a delete by `?arqs=` (two requests).
With `--profile` it also prints the Python function calls per request (cProfile's count).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.scenarios import fpga_host_snapshot  # noqa: E402

from accord.api.app import create_app  # noqa: E402
from accord.config import load_settings  # noqa: E402
from accord.store.db import Database  # noqa: E402
from accord.store.migrate import upgrade  # noqa: E402

HEADERS = [
    (b"host", b"127.0.0.1:6666"),
    (b"user-agent", b"python-requests/2.32"),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept", b"application/json"),
    (b"connection", b"keep-alive"),
    (b"content-type", b"application/json"),
    (b"openstack-api-version", b"accelerator 2.0"),
    (b"x-roles", b"admin,member,reader"),
    (b"x-project-id", b"bench"),
    (b"x-user-id", b"bench"),
]
GROUPS = [{"resources:FPGA": "1"}]


async def call(app: Any, method: str, path: str, body: Any = None, query: bytes = b"") -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else b""
    headers = [*HEADERS, (b"content-length", str(len(data)).encode())] if data else HEADERS
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 6666),
        "client": ("127.0.0.1", 40000),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": headers,
        "state": {},
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": data, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    status = 0
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def operations(app: Any) -> dict[str, Callable[[], Awaitable[int]]]:
    async def get() -> int:
        status, body = await call(app, "GET", "/v2/device_profiles")
        assert status == 200, body
        return 1

    async def post_delete() -> int:
        name = "bench-" + uuid.uuid4().hex[:12]
        status, body = await call(app, "POST", "/v2/device_profiles", [{"name": name, "groups": GROUPS}])
        assert status == 201, body
        status, body = await call(app, "DELETE", "/v2/device_profiles/" + json.loads(body)["uuid"])
        assert status == 204, body
        return 2

    async def arq() -> int:
        status, body = await call(app, "POST", "/v2/accelerator_requests", {"device_profile_name": "seed-0"})
        assert status == 201, body
        arq_uuid = json.loads(body)["arqs"][0]["uuid"]
        status, body = await call(
            app, "DELETE", "/v2/accelerator_requests", query=b"arqs=" + arq_uuid.encode()
        )
        assert status == 204, body
        return 2

    return {"get": get, "post-delete": post_delete, "arq": arq}


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp())
    url = f"sqlite:///{tmp / 'bench.sqlite'}"
    db = Database(url)
    upgrade(db.engine)
    settings = load_settings(env={}, data_dir=tmp, auth="noauth", reconcile_interval_s=0, database_url=url)
    app = create_app(settings, db=db)
    status, body = await call(
        app, "POST", "/v2/hosts/bench-host/inventory", fpga_host_snapshot("bench-host", vfs=64)
    )
    assert status == 200, body
    for i in range(10):
        await call(app, "POST", "/v2/device_profiles", [{"name": f"seed-{i}", "groups": GROUPS}])
    ops = operations(app)
    for op in args.ops.split(","):
        run = ops[op]
        for _ in range(min(args.n, 50)):
            await run()
        profile = cProfile.Profile() if args.profile else None
        if profile is not None:
            profile.enable()
        started, requests = time.process_time(), 0
        for _ in range(args.n):
            requests += await run()
        spent = time.process_time() - started
        calls = ""
        if profile is not None:
            profile.disable()
            profile.dump_stats(f"{args.profile}.{op}")
            # Deterministic, unlike the CPU time: the figure to compare on a busy machine.
            total = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
            calls = f", {total / max(requests, 1):.0f} function calls"
        print(f"{op}: {spent / max(requests, 1) * 1000:.3f} ms CPU per request ({requests} requests{calls})")


def run_inline() -> None:
    """Sync handlers on the loop (for profiles and instruction counts only)."""
    import fastapi.routing

    import accord.api.dispatch

    async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    fastapi.routing.run_in_threadpool = inline  # type: ignore[assignment]
    accord.api.dispatch.run_in_threadpool = inline  # type: ignore[assignment]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", default="get,post-delete,arq")
    parser.add_argument(
        "-n", type=int, default=2000, help="iterations per op (bench.py's op: 1 or 2 requests)"
    )
    parser.add_argument("--inline", action="store_true")
    parser.add_argument("--profile", help="write cProfile stats to PROFILE.<op>")
    arguments = parser.parse_args()
    if arguments.inline:
        run_inline()
    uvloop.run(main(arguments))

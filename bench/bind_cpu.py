"""Server CPU per bind and per unbind, in process on PostgreSQL (no HTTP server, no client threads).

Drives the ASGI app directly (as `bench/request_cpu.py` does) with Nova's requests: a PATCH
bind naming hostname, device_rp_uuid and instance_uuid, then `DELETE ?instance=`. The ARQs are
created before the clock starts. Prints, per request: process CPU ms, Python function calls
(a profile hook counting calls; independent of load) and SQL statements. PostgreSQL runs in
its own processes, so its CPU is not in these figures.

    .venv/bin/python bench/bind_cpu.py [-n 1000] [--threads] [--profile out]

Sync handlers run on the loop (as `request_cpu.py --inline` runs them), so the profile hook, a
`--profile` and `valgrind --tool=callgrind` see the whole request; the figures then exclude the
hop to the worker-thread pool (~25 to 40 µs), which `--threads` puts back (calls then uncounted).
Instructions per request, steady under any load (the timed binds only; divide by their number):

    valgrind --tool=callgrind --toggle-collect=sys_call_tracing --callgrind-out-file=cg.out \
        .venv/bin/python bench/bind_cpu.py -n 200 --collect bind
"""

from __future__ import annotations

import argparse
import cProfile
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import request_cpu  # noqa: E402
from binds import drop_database, make_database  # noqa: E402
from request_cpu import call, run_inline  # noqa: E402
from tests.scenarios import fpga_host_snapshot  # noqa: E402

from accord.api.app import create_app  # noqa: E402
from accord.config import load_settings  # noqa: E402
from accord.store.db import Database  # noqa: E402
from accord.store.migrate import upgrade_in_child  # noqa: E402

HOSTS = 10
DEVICES = 8
# Nova binds with a service token: the peers kit's headers, with the service role.
request_cpu.HEADERS = [(k, b"admin,service") if k == b"x-roles" else (k, v) for k, v in request_cpu.HEADERS]


class Calls:
    """Counts Python function calls while enabled (sys.setprofile)."""

    def __init__(self) -> None:
        self.count = 0

    def _hook(self, _frame: Any, what: str, _arg: Any) -> None:
        if what == "call":
            self.count += 1

    def __enter__(self) -> Calls:
        sys.setprofile(self._hook)
        return self

    def __exit__(self, *_exc: object) -> None:
        sys.setprofile(None)


def measure(args: argparse.Namespace) -> None:
    loop = uvloop.new_event_loop()
    run_async = loop.run_until_complete
    tmp = Path(tempfile.mkdtemp())
    url, name = make_database("postgresql", tmp)
    try:
        upgrade_in_child(url)
        db = Database(url)
        statements = 0

        def seen(*_args: Any) -> None:
            nonlocal statements
            statements += 1

        event.listen(db.engine, "before_cursor_execute", seen)
        settings = load_settings(
            env={}, data_dir=tmp / "data", auth="noauth", reconcile_interval_s=0, database_url=url
        )
        app = create_app(settings, db=db)
        vfs = (2 * args.n + 200) // (HOSTS * DEVICES) + 1
        for h in range(HOSTS):
            status, body = run_async(
                call(
                    app,
                    "POST",
                    f"/v2/hosts/bench-{h}/inventory",
                    fpga_host_snapshot(f"bench-{h}", vfs=vfs, devices=DEVICES),
                )
            )
            assert status == 200, body
        run_async(
            call(app, "POST", "/v2/device_profiles", [{"name": "one", "groups": [{"resources:FPGA": "1"}]}])
        )
        status, body = run_async(call(app, "GET", "/v2/deployables"))
        targets = [(d["name"].rsplit("_", 1)[0], d["rp_uuid"]) for d in json.loads(body)["deployables"]]

        async def create() -> str:
            status, body = await call(app, "POST", "/v2/accelerator_requests", {"device_profile_name": "one"})
            assert status == 201, body
            return str(json.loads(body)["arqs"][0]["uuid"])

        def bind(arq: str, n: int, instance: str) -> Callable[[], Awaitable[None]]:
            host, rp = targets[n % len(targets)]
            ops = [
                {"op": "add", "path": "/hostname", "value": host},
                {"op": "add", "path": "/device_rp_uuid", "value": rp},
                {"op": "add", "path": "/instance_uuid", "value": instance},
            ]

            async def run() -> None:
                status, body = await call(app, "PATCH", "/v2/accelerator_requests", {arq: ops})
                assert status == 202, body

            return run

        def unbind(instance: str) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                status, body = await call(
                    app, "DELETE", "/v2/accelerator_requests", query=f"instance={instance}".encode()
                )
                assert status == 204, body

            return run

        async def each(runs: list[Callable[[], Awaitable[None]]]) -> None:
            for run in runs:
                await run()

        def phase(label: str, key: str, runs: list[Callable[[], Awaitable[None]]], counted: int) -> None:
            nonlocal statements
            warm, timed, hooked = runs[:20], runs[20 : len(runs) - counted], runs[len(runs) - counted :]
            run_async(each(warm))
            profile = cProfile.Profile(time.thread_time) if args.profile else None
            if profile is not None:
                profile.enable()
            statements = 0
            started = time.process_time()
            if key in args.collect:
                # The only `sys.call_tracing` of the run: callgrind's --toggle-collect hook.
                sys.call_tracing(run_async, (each(timed),))
            else:
                run_async(each(timed))
            spent = time.process_time() - started
            per_statement = statements / len(timed)
            if profile is not None:
                profile.disable()
                profile.dump_stats(f"{args.profile}.{key}")
            with Calls() as calls:
                run_async(each(hooked))
            print(
                f"| {label} | {spent / len(timed) * 1000:.3f} | {calls.count / counted:,.0f} "
                f"| {per_statement:.1f} | {len(timed)} |"
            )

        arqs = [run_async(create()) for _ in range(args.n + 40)]
        instances = [str(uuid.uuid4()) for _ in arqs]
        print("| request | CPU ms | Python calls | statements | requests timed |")
        print("|---|---:|---:|---:|---:|")
        phase(
            "PATCH bind (Nova's form)",
            "bind",
            [bind(a, n, i) for n, (a, i) in enumerate(zip(arqs, instances, strict=True))],
            20,
        )
        phase("DELETE ?instance= (bound)", "unbind", [unbind(i) for i in instances], 20)
        db.dispose()
    finally:
        drop_database(name)
        loop.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="binds timed (and unbinds)")
    parser.add_argument("--threads", action="store_true", help="handlers on the worker-thread pool")
    parser.add_argument("--profile", help="write cProfile stats to PROFILE.<request>")
    parser.add_argument(
        "--collect",
        default="bind",
        help="timed phases (bind,unbind) run inside sys.call_tracing, for callgrind's --toggle-collect",
    )
    arguments = parser.parse_args()
    if not arguments.threads:
        run_inline()
    measure(arguments)

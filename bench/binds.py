"""Bind throughput against a real server on PostgreSQL (or SQLite), with N concurrent clients.

Measures Nova-style binds (hostname + device_rp_uuid given) and host-less binds (Accord's
scheduler places them), then checks that no attach handle was booked twice.

    .venv/bin/python bench/binds.py [--backend postgresql|sqlite] [--clients 8] [--binds 800]
        [--generator asyncio|httpx-threads]

Also reports the server's CPU time per bind (its process tree, from /proc), the bench's own CPU
time per bind while it binds (the load generator shares the machine's cores with the server)
and the load average, since wall-clock rates on a shared machine move with what else runs.
`--async-commit` sets `synchronous_commit = off` on the bench's own database only (never the
server's global config), to tell what waiting for the WAL flush at each commit costs.

The generator: `asyncio` (default) is one event loop with one task per client, each on its own
keep-alive HTTP/1.1 connection, sending request bytes built before the clock starts; the
`httpx-threads` generator (the earlier one) is a thread per client with an `httpx.Client`, which
costs several times the CPU per request on the client side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import uvloop
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live_server import live_server  # noqa: E402
from tests.scenarios import fpga_host_snapshot  # noqa: E402

from accord.store.db import Database  # noqa: E402
from accord.store.models import AttachHandle  # noqa: E402

ADMIN = {"X-Project-Id": "bench", "X-User-Id": "bench", "X-Roles": "admin,service"}
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def make_database(backend: str, workdir: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.sqlite'}", None
    name = f"accord_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, name


def drop_database(name: str | None) -> None:
    if name:
        engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def in_process_environment(workdir: Path, url: str) -> None:
    """The settings of an app run in this process on `url` (noauth, no reconciler), with a
    scheduler index that never looks for other workers' changes: a bench counts its requests'
    own statements and calls only."""
    os.environ.update(
        ACCORD_DATA_DIR=str(workdir / "data"),
        ACCORD_DATABASE_URL=url,
        ACCORD_AUTH="noauth",
        ACCORD_RECONCILE_INTERVAL_S="0",
        ACCORD_SCHEDULER_INDEX_MAX_AGE_S="3600",
    )


def seed(client: httpx.Client, hosts: int, devices: int, vfs: int) -> dict[str, str]:
    """Report the fleet; returns rp_uuid → hostname."""
    for i in range(hosts):
        snapshot = fpga_host_snapshot(f"bench-{i:03d}", vfs=vfs, devices=devices)
        client.post(f"/v2/hosts/bench-{i:03d}/inventory", json=snapshot).raise_for_status()
    client.post(
        "/v2/device_profiles", json=[{"name": "one", "groups": [{"resources:FPGA": "1"}]}]
    ).raise_for_status()
    deployables = client.get("/v2/deployables").json()["deployables"]
    return {d["rp_uuid"]: d["name"].rsplit("_", 1)[0] for d in deployables}


def create_arqs(client: httpx.Client, count: int) -> list[str]:
    return [
        client.post("/v2/accelerator_requests", json={"device_profile_name": "one"}).json()["arqs"][0]["uuid"]
        for _ in range(count)
    ]


def bind_bodies(arqs: list[str], hosts_by_rp: dict[str, str], hostless: bool) -> list[dict[str, Any]]:
    """Nova's PATCH body per ARQ: a new instance, and (Nova's form) the host and rp it chose."""
    rps = list(hosts_by_rp)
    bodies = []
    for n, arq in enumerate(arqs):
        ops = [{"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())}]
        if not hostless:
            rp = rps[n % len(rps)]
            ops += [
                {"op": "add", "path": "/hostname", "value": hosts_by_rp[rp]},
                {"op": "add", "path": "/device_rp_uuid", "value": rp},
            ]
        bodies.append({arq: ops})
    return bodies


def run_binds_threads(url: str, bodies: list[dict[str, Any]], clients: int) -> tuple[float, list[float], int]:
    """The earlier generator: one thread per client, each with its own `httpx.Client`."""
    latencies: list[float] = []
    failures = 0

    def worker(index: int) -> None:
        nonlocal failures
        with httpx.Client(base_url=url, headers=ADMIN, timeout=60) as client:
            for n in range(index, len(bodies), clients):
                started = time.perf_counter()
                response = client.patch("/v2/accelerator_requests", json=bodies[n])
                latencies.append(time.perf_counter() - started)
                if response.status_code != 202:
                    failures += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    return time.perf_counter() - started, latencies, failures


def run_binds_asyncio(url: str, bodies: list[dict[str, Any]], clients: int) -> tuple[float, list[float], int]:
    """One event loop, one task per client, each on its own keep-alive HTTP/1.1 connection; the
    request bytes are built before the clock starts, and a response is read as its status line,
    its headers and `Content-Length` bytes of body (the server answers a bind 202, no body)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    head = "".join(f"{k}: {v}\r\n" for k, v in ADMIN.items())
    requests = []
    for body in bodies:
        data = json.dumps(body).encode()
        requests.append(
            (
                f"PATCH /v2/accelerator_requests HTTP/1.1\r\nHost: {host}:{port}\r\n{head}"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
            ).encode()
            + data
        )
    latencies: list[float] = []
    failures = 0

    async def client(index: int) -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for n in range(index, len(requests), clients):
                started = time.perf_counter()
                writer.write(requests[n])
                response = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in response.split(b"\r\n")[1:]:
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if response[9:12] != b"202":
                    failures += 1
        finally:
            writer.close()
            await writer.wait_closed()

    async def all_clients() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(clients)))
        return time.perf_counter() - started

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        elapsed = runner.run(all_clients())
    return elapsed, latencies, failures


GENERATORS = {"asyncio": run_binds_asyncio, "httpx-threads": run_binds_threads}


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process and its live children (the uvicorn workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
        pids.extend(int(c) for c in children)
    return total


def double_bookings(database_url: str) -> int:
    db = Database(database_url)
    with db.read() as session:
        in_use = session.scalar(
            select(func.count()).select_from(AttachHandle).where(AttachHandle.in_use.is_(True))
        )
        holders = session.scalar(
            select(func.count(func.distinct(AttachHandle.arq_id))).where(AttachHandle.in_use.is_(True))
        )
    db.dispose()
    return int(in_use or 0) - int(holders or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--binds", type=int, default=800)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--only", choices=["nova", "host-less"], help="run one kind of bind")
    parser.add_argument(
        "--generator", default="asyncio", choices=sorted(GENERATORS), help="how the clients are run"
    )
    parser.add_argument(
        "--async-commit", action="store_true", help="synchronous_commit=off on the bench database only"
    )
    args = parser.parse_args()
    rows = []
    kinds = {"nova": [False], "host-less": [True], None: [False, True]}[args.only]
    for hostless in kinds:
        with tempfile.TemporaryDirectory() as tmp:
            url_db, name = make_database(args.backend, Path(tmp))
            if args.async_commit and name:
                engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
                with engine.connect() as conn:
                    conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
                engine.dispose()
            try:
                env = {"ACCORD_RECONCILE_INTERVAL_S": "0"}
                with live_server(
                    Path(tmp) / "data", url_db, auth="noauth", env=env, workers=args.workers
                ) as server:
                    with httpx.Client(base_url=server.url, headers=ADMIN, timeout=60) as client:
                        hosts_by_rp = seed(
                            client, args.hosts, devices=8, vfs=max(1, args.binds // (args.hosts * 8) + 1)
                        )
                        arqs = create_arqs(client, args.binds)
                    bodies = bind_bodies(arqs, hosts_by_rp, hostless)
                    cpu_before = tree_cpu_s(server.process.pid)
                    own_before = time.process_time()
                    elapsed, latencies, failures = GENERATORS[args.generator](
                        server.url, bodies, args.clients
                    )
                    client_ms = (time.process_time() - own_before) * 1000 / len(arqs)
                    cpu_ms = (tree_cpu_s(server.process.pid) - cpu_before) * 1000 / len(arqs)
                    load = os.getloadavg()[0]
                    doubles = double_bookings(url_db)
            finally:
                drop_database(name)
        latencies.sort()
        rows.append(
            (
                "host-less" if hostless else "nova (rp given)",
                len(arqs) / elapsed,
                statistics.median(latencies) * 1000,
                latencies[int(len(latencies) * 0.99) - 1] * 1000,
                failures,
                doubles,
                cpu_ms,
                client_ms,
                load,
            )
        )
    print(
        f"binds on {args.backend}, {args.clients} clients, {args.binds} binds, {args.hosts} hosts x 8 devices"
    )
    print(f"machine: {platform.python_version()}, {platform.machine()}")
    print(
        f"server workers: {args.workers}, synchronous_commit: {'off' if args.async_commit else 'on'}, "
        f"generator: {args.generator}"
    )
    print(
        "| bind | binds/s | p50 ms | p99 ms | failed | double bookings | server CPU ms/bind "
        "| client CPU ms/bind | load 1m |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind, rate, p50, p99, failed, doubles, cpu_ms, client_ms, load in rows:
        print(
            f"| {kind} | {rate:.0f} | {p50:.1f} | {p99:.1f} | {failed} | {doubles} "
            f"| {cpu_ms:.2f} | {client_ms:.2f} | {load:.1f} |"
        )


if __name__ == "__main__":
    main()

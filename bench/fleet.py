"""A fleet of simulated hosts reporting into one `accord serve --workers N` on PostgreSQL.

Each host (a mix of GPU with vGPU types, FPGA, QAT and SR-IOV NIC hosts) reports its whole
inventory once, then, like `accord agent`, heartbeats every ACCORD_HEARTBEAT_S (default 15 s)
and sends its full report every --report-s (default 60 s, the agent's interval), changed with
probability --changed. Meanwhile a few users create, bind (host-less) and delete ARQs.

Printed: the cost of one heartbeat, one unchanged report and one changed report (server and
database CPU ms, measured from /proc, and latency at concurrency 1); the sustained heartbeat
and report rates against what the fleet offers, and how late the hosts fell behind; the users'
p50/p99; the database size; the load generator's own CPU and the machine's load average.

The fleet itself is one asyncio loop over --connections keep-alive connections speaking plain
HTTP/1.1 with bodies encoded once per kind of host: at 10,000 hosts (≈ 667 requests/s) a
client library's per-request cost would take a core of the two this machine has.

    .venv/bin/python bench/fleet.py [--hosts 10000] [--duration 120] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.binds import drop_database, make_database  # noqa: E402
from tests.live_server import live_server  # noqa: E402
from tests.scenarios import fpga_device, pci_info  # noqa: E402

ADMIN = {"X-Project-Id": "bench", "X-User-Id": "bench", "X-Roles": "admin,service"}
KINDS = ("gpu", "fpga", "qat", "nic")
WEIGHTS = (3, 2, 2, 3)  # of every 10 hosts
TICK = os.sysconf("SC_CLK_TCK")


# --- what a host reports -------------------------------------------------------------------


def _pf(bus: int) -> str:
    return f"0000:{bus:02x}:00.0"


def _vfs(bus: int, count: int) -> list[str]:
    return [f"0000:{bus + 1:02x}:{i // 8:02x}.{i % 8}" for i in range(count)]


def _device(kind: str, vendor: str, product: str, model: str, pf: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "vendor": vendor,
        "product": product,
        "model": model,
        "pci_address": pf,
        "controlpath_id": {"cpid_type": "PCI", "cpid_info": pci_info(pf)},
        **extra,
    }


def nic(bus: int, vfs: int) -> dict[str, Any]:
    pf = _pf(bus)
    handles = [
        {"attach_type": "PCI", "attach_info": {**pci_info(a), "physical_network": "physnet1"}}
        for a in _vfs(bus, vfs)
    ]
    deployable = {
        "name": pf,
        "num_accelerators": vfs,
        "resource_class": "CUSTOM_NIC",
        "traits": ["CUSTOM_NIC_INTEL_E810", "CUSTOM_PHYSNET_PHYSNET1"],
        "driver_name": "ice",
        "attach_handles": handles,
    }
    return _device("NIC", "8086", "1592", "E810-C", pf, driver="ice", deployables=[deployable])


def qat(bus: int, vfs: int) -> dict[str, Any]:
    pf = _pf(bus)
    handles = [{"attach_type": "PCI", "attach_info": pci_info(a)} for a in _vfs(bus, vfs)]
    deployable = {
        "name": pf,
        "num_accelerators": vfs,
        "resource_class": "CUSTOM_QAT",
        "traits": ["CUSTOM_QAT_4XXX"],
        "driver_name": "qat_4xxx",
        "attach_handles": handles,
    }
    return _device("QAT", "8086", "4940", "QAT 4xxx", pf, driver="4xxx", deployables=[deployable])


def gpu(bus: int, instances: int) -> dict[str, Any]:
    """An NVIDIA GPU offering two vGPU types (each a deployable with its MDEV handles)."""
    pf = _pf(bus)
    deployables = []
    for vgpu_type, count in (("nvidia-35", instances), ("nvidia-36", instances // 2)):
        handles = [
            {
                "attach_type": "MDEV",
                "attach_info": {**pci_info(pf), "asked_type": vgpu_type, "vgpu_mark": f"{vgpu_type}_{i}"},
            }
            for i in range(count)
        ]
        deployables.append(
            {
                "name": f"{pf}-{vgpu_type}",
                "num_accelerators": count,
                "resource_class": "VGPU",
                "traits": ["OWNER_CYBORG", f"CUSTOM_NVIDIA_1EB8_{vgpu_type.upper().replace('-', '_')}"],
                "driver_name": "NVIDIA",
                "attach_handles": handles,
            }
        )
    return _device("GPU", "10de", "1eb8", "Tesla T4", pf, driver="nvidia", deployables=deployables)


def snapshot(hostname: str, kind: str, variant: int = 0) -> dict[str, Any]:
    """A host's whole report; `variant` changes a VF or vGPU count (a changed report)."""
    devices = [nic(0x18, 8 + variant)]
    if kind == "gpu":
        devices += [gpu(0x3B, 4 + variant), gpu(0x5E, 4)]
    elif kind == "fpga":
        devices += [fpga_device(_pf(0x86), 4 + variant), fpga_device(_pf(0xAF), 4)]
    elif kind == "qat":
        devices += [qat(0x6B, 16 + variant), qat(0x70, 16)]
    return {"hostname": hostname, "agent_version": "bench", "devices": devices}


def fleet_kinds(hosts: int) -> list[str]:
    pattern = [k for k, w in zip(KINDS, WEIGHTS, strict=True) for _ in range(w)]
    return [pattern[i % len(pattern)] for i in range(hosts)]


# --- CPU of the server and of its database sessions, from /proc ----------------------------


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _tree(pid: int) -> list[int]:
    found = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in children:
        found += _tree(int(child))
    return found


class CpuMeter:
    """CPU seconds of the server's process tree and of the bench database's PostgreSQL backends.

    Backends come and go (the pool's overflow connections close), so a background thread polls
    every second: a backend first seen after `start` counts from zero, and one that ended
    between polls loses at most its last second."""

    def __init__(self, server_pid: int, pg_url: str, database: str) -> None:
        self.server_pid = server_pid
        self.engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        self.database = database
        self._seen: dict[int, tuple[float, float]] = {}  # pid → (first, last) CPU seconds
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    def _pg_pids(self) -> list[int]:
        with self.engine.connect() as conn:
            query = text("SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()")
            return [int(p) for p in conn.execute(query, {"d": self.database}).scalars()]

    def _poll(self, first: bool) -> None:
        for pid in self._pg_pids():
            cpu = _cpu(pid)
            start = self._seen.get(pid, (cpu if first else 0.0, 0.0))[0]
            self._seen[pid] = (start, cpu)

    def start(self) -> float:
        """Begins a measurement; returns the server's CPU seconds so far."""
        self._seen = {}
        self._poll(first=True)
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(1.0):
                self._poll(first=False)

        self._poller = threading.Thread(target=loop, daemon=True)
        self._poller.start()
        return sum(_cpu(p) for p in _tree(self.server_pid))

    def stop(self, server_before: float) -> dict[str, float]:
        """CPU seconds spent since `start`: the server's, the database's."""
        self._stop.set()
        if self._poller is not None:
            self._poller.join()
        self._poll(first=False)
        server = sum(_cpu(p) for p in _tree(self.server_pid)) - server_before
        return {"server": server, "db": sum(last - first for first, last in self._seen.values())}

    def database_mib(self) -> float:
        with self.engine.connect() as conn:
            size = conn.execute(text("SELECT pg_database_size(:d)"), {"d": self.database}).scalar_one()
        return int(size) / 2**20


# --- load ----------------------------------------------------------------------------------


def enrol(url: str, names: list[str], kinds: list[str], clients: int) -> float:
    bodies = Bodies()
    headers = {**ADMIN, "Content-Type": "application/json"}

    def worker(index: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            for n in range(index, len(names), clients):
                body = bodies.report(names[n], kinds[n], 0)
                client.post(f"/v2/hosts/{names[n]}/inventory", content=body).raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    return time.perf_counter() - started


def measure_costs(
    url: str, meter: CpuMeter, names: list[str], kinds: list[str], count: int
) -> dict[str, dict[str, float]]:
    """Each kind of request `count` times, one at a time, on distinct hosts."""
    chosen = list(range(min(count, len(names))))
    variants = {n: 0 for n in chosen}

    def beat(c: httpx.Client, n: int) -> httpx.Response:
        return c.post(
            f"/v2/hosts/{names[n]}/heartbeat", json={"hostname": names[n], "agent_version": "bench"}
        )

    def same(c: httpx.Client, n: int) -> httpx.Response:
        return c.post(f"/v2/hosts/{names[n]}/inventory", json=snapshot(names[n], kinds[n], variants[n]))

    def changed(c: httpx.Client, n: int) -> httpx.Response:
        variants[n] = 1 - variants[n]
        return same(c, n)

    found: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=url, headers=ADMIN, timeout=120) as client:
        ops: list[tuple[str, Callable[[httpx.Client, int], httpx.Response]]] = [
            ("heartbeat", beat),
            ("unchanged report", same),
            ("changed report", changed),
        ]
        for label, op in ops:
            latencies = []
            before = meter.start()
            for n in chosen:
                started = time.perf_counter()
                op(client, n).raise_for_status()
                latencies.append(time.perf_counter() - started)
            spent = meter.stop(before)
            found[label] = {
                "server_cpu_ms": spent["server"] * 1000 / len(chosen),
                "db_cpu_ms": spent["db"] * 1000 / len(chosen),
                "p50_ms": statistics.median(latencies) * 1000,
            }
    return found


class Bodies:
    """Each request body encoded once per (kind, variant), the hostname put in as bytes."""

    MARK = "@HOST@"

    def __init__(self) -> None:
        self._reports: dict[tuple[str, int], tuple[bytes, bytes]] = {}
        beat = json.dumps({"hostname": self.MARK, "agent_version": "bench"}).encode()
        self._beat = tuple(beat.split(self.MARK.encode()))

    def heartbeat(self, name: str) -> bytes:
        return name.encode().join(self._beat)

    def report(self, name: str, kind: str, variant: int) -> bytes:
        key = (kind, variant)
        if key not in self._reports:
            encoded = json.dumps(snapshot(self.MARK, kind, variant)).encode()
            head, tail = encoded.split(self.MARK.encode())
            self._reports[key] = (head, tail)
        head, tail = self._reports[key]
        return head + name.encode() + tail


class Connection:
    """One keep-alive HTTP/1.1 connection: POST a JSON body, read the status and the body."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.headers = "".join(f"{k}: {v}\r\n" for k, v in ADMIN.items())

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"{self.headers}Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        response = await self.reader.readuntil(b"\r\n\r\n")
        status = int(response.split(b" ", 2)[1])
        length = 0
        for line in response.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


class Fleet:
    """Hosts on a schedule (open loop): each beats every `heartbeat_s`, and every `report_s` sends
    its whole report instead, changed with probability `changed`. One scheduler hands due
    requests to `connections` senders; lateness is when a request went out less when it was due."""

    def __init__(
        self,
        url: str,
        names: list[str],
        kinds: list[str],
        heartbeat_s: float,
        report_s: float,
        changed: float,
    ) -> None:
        self.url, self.names, self.kinds = url, names, kinds
        self.heartbeat_s, self.changed = heartbeat_s, changed
        self.beats_per_report = max(1, round(report_s / heartbeat_s))
        self.counts: Counter[str] = Counter()
        self.lag: list[float] = []
        self.errors = 0
        self.bodies = Bodies()

    def run(self, connections: int, until: float) -> None:
        asyncio.run(self._run(connections, until))

    async def _run(self, connections: int, until: float) -> None:
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        queue: asyncio.Queue[tuple[float, int] | None] = asyncio.Queue(maxsize=connections * 4)
        senders = [
            asyncio.create_task(self._sender(Connection(host, int(port)), queue)) for _ in range(connections)
        ]
        rng = random.Random(13)
        now = time.monotonic()
        due = [(now + rng.uniform(0, self.heartbeat_s), n) for n in range(len(self.names))]
        heapq.heapify(due)
        self.beats = {n: rng.randrange(self.beats_per_report) for n in range(len(self.names))}
        self.variant = dict.fromkeys(self.beats, 0)
        self.rng = rng
        while due:
            at, n = heapq.heappop(due)
            if at >= until or time.monotonic() >= until:  # a fleet that fell behind stops on time too
                break
            wait = at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            await queue.put((at, n))  # blocks while every sender is busy: the fleet falls behind
            heapq.heappush(due, (at + self.heartbeat_s, n))
        for _ in senders:
            await queue.put(None)
        await asyncio.gather(*senders)

    async def _sender(self, connection: Connection, queue: asyncio.Queue[tuple[float, int] | None]) -> None:
        try:
            while (item := await queue.get()) is not None:
                at, n = item
                late = time.monotonic() - at
                self.beats[n] += 1
                name = self.names[n]
                if self.beats[n] % self.beats_per_report == 0:
                    kind = "unchanged report"
                    if self.rng.random() < self.changed:
                        kind, self.variant[n] = "changed report", 1 - self.variant[n]
                    body = self.bodies.report(name, self.kinds[n], self.variant[n])
                    status = await connection.post(f"/v2/hosts/{name}/inventory", body)
                else:
                    kind = "heartbeat"
                    status = await connection.post(f"/v2/hosts/{name}/heartbeat", self.bodies.heartbeat(name))
                self.counts[kind] += 1
                self.lag.append(late)
                self.errors += status != 200
        finally:
            await connection.close()


def users(url: str, clients: int, until: float) -> dict[str, list[float]]:
    """Each user: create an ARQ for one NIC VF, bind it host-less, delete it by instance."""
    timings: dict[str, list[float]] = {"create": [], "bind": [], "delete": []}
    failures: Counter[str] = Counter()

    def timed(op: str, call: Callable[[], httpx.Response], ok: int) -> httpx.Response:
        started = time.perf_counter()
        response = call()
        timings[op].append(time.perf_counter() - started)
        if response.status_code != ok:
            failures[f"{op} {response.status_code}"] += 1
        return response

    def one_arq(client: httpx.Client) -> None:
        body = {"device_profile_name": "fleet-vf"}
        r = timed("create", lambda: client.post("/v2/accelerator_requests", json=body), 201)
        if r.status_code != 201:
            return
        arq, vm = r.json()["arqs"][0]["uuid"], str(uuid.uuid4())
        patch = {arq: [{"op": "add", "path": "/instance_uuid", "value": vm}]}
        timed("bind", lambda: client.patch("/v2/accelerator_requests", json=patch), 202)
        timed("delete", lambda: client.delete(f"/v2/accelerator_requests?instance={vm}"), 204)

    def worker(_index: int) -> None:
        with httpx.Client(base_url=url, headers=ADMIN, timeout=120) as client:
            while time.monotonic() < until:
                one_arq(client)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    if failures:
        print(f"user failures: {dict(failures)}")
    return timings


# Frames of the scheduler index's upkeep (reading hosts for it, building or updating it), in
# the code before and after the index followed host versions.
UPKEEP = ("load_hosts", "read_hosts", "_rebuild", "_rebuild_detached", "_sync", "refresh_hosts", "committed")


def profile_workers(server_pid: int, delay_s: float, seconds: float, out: dict[str, Any]) -> threading.Thread:
    """After `delay_s`, py-spy (from this interpreter's environment) samples each server worker
    for `seconds`; `out` gets, per worker, the share of its samples holding the GIL that were
    the index's upkeep (`UPKEEP`), and the top functions by own samples."""
    spy = str(Path(sys.executable).parent / "py-spy")

    def run() -> None:
        time.sleep(delay_s)
        workers = [pid for pid in _tree(server_pid) if pid != server_pid]
        files, procs = [], []
        for pid in workers:
            path = Path(tempfile.gettempdir()) / f"fleet-pyspy-{pid}.txt"
            files.append(path)
            command = [spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "50"]
            command += ["--gil", "--format", "raw", "--output", str(path), "--nonblocking"]
            procs.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for proc in procs:
            proc.wait()
        for pid, path in zip(workers, files, strict=True):
            total = upkeep = 0
            own: Counter[str] = Counter()
            for line in path.read_text().splitlines() if path.exists() else []:
                stack, _, count = line.rpartition(" ")
                frames = stack.split(";")
                total += int(count)
                if any(frame.split(" (", 1)[0] in UPKEEP for frame in frames):
                    upkeep += int(count)
                own[frames[-1]] += int(count)
            out[str(pid)] = {
                "samples": total,
                "upkeep_share": upkeep / total if total else float("nan"),
                "top": own.most_common(8),
            }

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000 if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of fleet load")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--heartbeat-s", type=float, default=float(os.environ.get("ACCORD_HEARTBEAT_S", 15)))
    parser.add_argument("--report-s", type=float, default=60.0, help="full report interval")
    parser.add_argument("--changed", type=float, default=0.02, help="chance a full report changed")
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--connections", type=int, default=32, help="the fleet's connections to the server")
    parser.add_argument("--enrol-clients", type=int, default=8, help="concurrent first reports")
    parser.add_argument("--cost-samples", type=int, default=200)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--profile", type=float, default=0, help="py-spy each worker this long (s), 20 s into the load"
    )
    args = parser.parse_args()

    names = [f"fleet-{i:05d}" for i in range(args.hosts)]
    kinds = fleet_kinds(args.hosts)
    results: dict[str, Any] = {"conditions": {k: str(v) for k, v in vars(args).items()}}
    with tempfile.TemporaryDirectory() as tmp:
        url_db, name = make_database("postgresql", Path(tmp))
        assert name is not None
        try:
            # No host may turn lost while the others are still sending their first reports (10,000
            # of them take minutes): silence allowed is three report intervals plus that time.
            lost_after = max(120.0, 3 * args.report_s) + args.hosts / 10
            env = {"ACCORD_HOST_LOST_AFTER_S": str(lost_after)}
            with live_server(
                Path(tmp) / "data", url_db, auth="noauth", env=env, workers=args.workers
            ) as server:
                meter = CpuMeter(server.process.pid, url_db.rsplit("/", 1)[0] + "/postgres", name)
                results["load_before"] = os.getloadavg()
                elapsed = enrol(server.url, names, kinds, clients=args.enrol_clients)
                results["enrol"] = {"reports_per_s": args.hosts / elapsed, "seconds": elapsed}
                results["db_mib_after_enrol"] = meter.database_mib()
                profile = [{"name": "fleet-vf", "groups": [{"resources:CUSTOM_NIC": "1"}]}]
                httpx.post(server.url + "/v2/device_profiles", json=profile, headers=ADMIN).raise_for_status()
                results["cost"] = measure_costs(server.url, meter, names, kinds, args.cost_samples)

                fleet = Fleet(server.url, names, kinds, args.heartbeat_s, args.report_s, args.changed)
                until = time.monotonic() + args.duration
                before = meter.start()
                generator_before = time.process_time()
                started = time.monotonic()
                profiles: dict[str, Any] = {}
                profiler = (
                    profile_workers(server.process.pid, 20, args.profile, profiles) if args.profile else None
                )
                user_thread: dict[str, dict[str, list[float]]] = {}
                runner = threading.Thread(
                    target=lambda: user_thread.update(timings=users(server.url, args.users, until))
                )
                runner.start()
                fleet.run(args.connections, until)
                runner.join()
                wall = time.monotonic() - started
                spent = meter.stop(before)
                generator_cpu = time.process_time() - generator_before
                offered = args.hosts / args.heartbeat_s
                results["fleet"] = {
                    "seconds": wall,
                    "offered_per_s": offered,
                    "per_s": {k: v / wall for k, v in fleet.counts.items()},
                    "lag_p50_s": percentile(fleet.lag, 0.5) / 1000,
                    "lag_max_s": max(fleet.lag, default=0.0),
                    "errors": fleet.errors,
                    "server_cpu_share": spent["server"] / wall,
                    "db_cpu_share": spent["db"] / wall,
                    "generator_cpu_share": generator_cpu / wall,
                    "load_after": os.getloadavg(),
                }
                results["users"] = {
                    op: {"count": len(t), "p50_ms": percentile(t, 0.5), "p99_ms": percentile(t, 0.99)}
                    for op, t in user_thread["timings"].items()
                }
                results["db_mib"] = meter.database_mib()
                if profiler is not None:
                    profiler.join()
                    results["profiles"] = profiles
                meter.engine.dispose()
        finally:
            drop_database(name)
    report(results, args)


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"fleet: {args.hosts} hosts, {args.workers} workers, heartbeat {args.heartbeat_s:g} s, "
        f"full report every {args.report_s:g} s ({args.changed:.0%} changed), {args.users} users, "
        f"{args.duration:g} s"
    )
    enrol = results["enrol"]
    after = results["db_mib_after_enrol"]
    print(f"first reports: {enrol['reports_per_s']:.0f}/s; database after them {after:.1f} MiB")
    print("| request (concurrency 1) | server CPU ms | database CPU ms | p50 ms |")
    print("|---|---:|---:|---:|")
    for label, cost in results["cost"].items():
        print(f"| {label} | {cost['server_cpu_ms']:.2f} | {cost['db_cpu_ms']:.2f} | {cost['p50_ms']:.1f} |")
    fleet = results["fleet"]
    rates = ", ".join(f"{k} {v:.1f}/s" for k, v in sorted(fleet["per_s"].items()))
    print(
        f"fleet: offered {fleet['offered_per_s']:.1f} requests/s; sustained {rates}; "
        f"lateness p50 {fleet['lag_p50_s']:.2f} s, max {fleet['lag_max_s']:.2f} s; {fleet['errors']} errors; "
        f"server CPU {fleet['server_cpu_share']:.2f} cores, database {fleet['db_cpu_share']:.2f} cores, "
        f"load generator (fleet + users) {fleet['generator_cpu_share']:.2f} cores"
    )
    load = ", ".join(f"{x:.1f}" for x in results["load_before"])
    after = ", ".join(f"{x:.1f}" for x in fleet["load_after"])
    print(f"load average (1, 5, 15 min): {load} before the first reports, {after} at the end")
    print("| user op | count | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    for op, figures in results["users"].items():
        print(f"| {op} | {figures['count']} | {figures['p50_ms']:.1f} | {figures['p99_ms']:.1f} |")
    print(f"database size: {results['db_mib']:.1f} MiB")
    for pid, profile in results.get("profiles", {}).items():
        print(f"worker {pid}: {profile['samples']} samples, index upkeep {profile['upkeep_share']:.1%}")
        for frame, count in profile["top"]:
            print(f"    {count:6d} {frame}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

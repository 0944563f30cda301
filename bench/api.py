"""API throughput against a real `accord serve` on SQLite and PostgreSQL (issue 3's bench).

Workloads, each at concurrency 1 and 4: GET /v2/device_profiles (10 profiles stored);
POST+DELETE a device profile (one iteration = both); ARQ create+bind+delete (three requests).
Prints req/s (iterations/s for the multi-request ones), p50/p99 latency and the server's RSS,
and compares with Cyborg's figures measured on this kind of machine.

    .venv/bin/python bench/api.py [--duration 5] [--backends sqlite,postgresql] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from binds import ADMIN, drop_database, make_database  # noqa: E402
from tests.live_server import live_server  # noqa: E402
from tests.scenarios import fpga_host_snapshot  # noqa: E402

# Cyborg 17 on this kind of machine (from the issue): the low end of each range.
CYBORG = {
    ("GET profiles", 1): 115,
    ("GET profiles", 4): 180,
    ("POST+DELETE profile", 1): 58,
    ("ARQ create+bind+delete", 1): 20,
}
Iteration = Callable[[httpx.Client, int], None]


def get_profiles(client: httpx.Client, _n: int) -> None:
    client.get("/v2/device_profiles").raise_for_status()


def post_delete_profile(client: httpx.Client, _n: int) -> None:
    name = f"p-{uuid.uuid4().hex[:12]}"
    client.post(
        "/v2/device_profiles", json=[{"name": name, "groups": [{"resources:FPGA": "1"}]}]
    ).raise_for_status()
    client.delete(f"/v2/device_profiles/{name}").raise_for_status()


def make_arq_cycle(rp: str) -> Iteration:
    def arq_cycle(client: httpx.Client, _n: int) -> None:
        arq = client.post("/v2/accelerator_requests", json={"device_profile_name": "bench"}).json()["arqs"][
            0
        ]["uuid"]
        ops = [
            {"op": "add", "path": "/hostname", "value": "bench-host"},
            {"op": "add", "path": "/device_rp_uuid", "value": rp},
            {"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())},
        ]
        assert client.patch("/v2/accelerator_requests", json={arq: ops}).status_code == 202
        assert client.get(f"/v2/accelerator_requests/{arq}").json()["state"] == "Bound"
        client.delete(f"/v2/accelerator_requests?arqs={arq}").raise_for_status()

    return arq_cycle


def measure(url: str, iteration: Iteration, concurrency: int, duration: float) -> tuple[float, float, float]:
    latencies: list[float] = []
    stop = time.monotonic() + duration
    lock = threading.Lock()

    def worker() -> None:
        mine: list[float] = []
        with httpx.Client(base_url=url, headers=ADMIN, timeout=60) as client:
            n = 0
            while time.monotonic() < stop:
                started = time.perf_counter()
                iteration(client, n)
                mine.append(time.perf_counter() - started)
                n += 1
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    return (
        len(latencies) / elapsed,
        statistics.median(latencies) * 1000,
        latencies[int(len(latencies) * 0.99) - 1] * 1000,
    )


def rss_mib(pid: int) -> tuple[float, float]:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def run_backend(backend: str, duration: float) -> list[tuple[str, str, int, float, float, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        url_db, name = make_database(backend, Path(tmp))
        try:
            env = {"ACCORD_RECONCILE_INTERVAL_S": "0"}
            with live_server(Path(tmp) / "data", url_db, auth="noauth", env=env) as server:
                with httpx.Client(base_url=server.url, headers=ADMIN, timeout=60) as client:
                    client.post(
                        "/v2/hosts/bench-host/inventory", json=fpga_host_snapshot("bench-host", vfs=64)
                    ).raise_for_status()
                    for i in range(10):
                        client.post(
                            "/v2/device_profiles",
                            json=[{"name": f"seed-{i}", "groups": [{"resources:FPGA": "1"}]}],
                        )
                    client.post(
                        "/v2/device_profiles", json=[{"name": "bench", "groups": [{"resources:FPGA": "1"}]}]
                    )
                    rp = client.get("/v2/deployables").json()["deployables"][0]["rp_uuid"]
                workloads: list[tuple[str, Iteration]] = [
                    ("GET profiles", get_profiles),
                    ("POST+DELETE profile", post_delete_profile),
                    ("ARQ create+bind+delete", make_arq_cycle(rp)),
                ]
                for label, iteration in workloads:
                    for concurrency in (1, 4):
                        rate, p50, p99 = measure(server.url, iteration, concurrency, duration)
                        rows.append((backend, label, concurrency, rate, p50, p99))
                rss, peak = rss_mib(server.process.pid)
                rows.append((backend, f"server RSS {rss:.0f} MiB (peak {peak:.0f} MiB)", 0, 0.0, 0.0, 0.0))
        finally:
            drop_database(name)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--quick", action="store_true", help="1 s per workload")
    args = parser.parse_args()
    duration = 1.0 if args.quick else args.duration
    machine = f"Python {platform.python_version()}, {os.cpu_count()} CPUs"
    print(f"# API bench: {duration:.0f} s per workload; {machine}")
    print("client threads share the 2 cores with the server and the database\n")
    print("| backend | workload | conc. | per s | p50 ms | p99 ms | vs Cyborg |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for backend in args.backends.split(","):
        for backend_name, label, concurrency, rate, p50, p99 in run_backend(backend, duration):
            if concurrency == 0:
                print(f"| {backend_name} | {label} | | | | | |")
                continue
            cyborg = CYBORG.get((label, concurrency))
            ratio = f"{rate / cyborg:.1f}x" if cyborg else ""
            print(
                f"| {backend_name} | {label} | {concurrency} | {rate:.0f} | {p50:.1f} | {p99:.1f} | {ratio} |"
            )


if __name__ == "__main__":
    main()

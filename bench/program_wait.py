"""What 40 waiting `PATCH /v2/deployables/{uuid}/program` calls cost everyone else (issue 9).

A real `accord serve` (one worker) and a real `accord agent --simulate` on the DFL fixture card,
whose programming tool takes longer than the whole run. `GET /v2/devices` and agent heartbeats
are timed first on their own, then while 40 admin programming calls wait for that tool (each
waits `ACCORD_PROGRAM_WAIT_S`, longer than the measurement). Prints count, p50, p99 and max.

    .venv/bin/python bench/program_wait.py [--duration 10] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from binds import ADMIN, drop_database, make_database  # noqa: E402
from tests.fixtures.sysfs.hosts import FIXTURES, N3000_INTERFACE  # noqa: E402
from tests.live_server import ACCORD, live_server  # noqa: E402

from accord.images.formats.build import build_gbs  # noqa: E402

HOST = "bench-fpga"
AGENT = {"X-User-Id": f"agent-{HOST}", "X-Roles": "agent", "X-Accord-Host": HOST}
WAITERS = 40
AFU = "f7df405c-bd7a-cf72-22f1-44b0b93acd18"
Call = Callable[[], httpx.Response]


def once(call: Call) -> float:
    started = time.perf_counter()
    call().raise_for_status()
    return (time.perf_counter() - started) * 1000


def measure(url: str, duration: float) -> dict[str, list[float]]:
    """GET /v2/devices and a heartbeat, one after the other, from one client, for `duration`."""
    out: dict[str, list[float]] = {"GET /v2/devices": [], "POST …/heartbeat": []}
    with (
        httpx.Client(base_url=url, headers=ADMIN, timeout=120) as admin,
        httpx.Client(base_url=url, headers=AGENT, timeout=120) as agent,
    ):
        stop = time.monotonic() + duration
        while time.monotonic() < stop:
            out["GET /v2/devices"].append(once(lambda: admin.get("/v2/devices")))
            out["POST …/heartbeat"].append(
                once(lambda: agent.post(f"/v2/hosts/{HOST}/heartbeat", json={"hostname": HOST}))
            )
    return out


def summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
    return f"{len(ordered)} | {statistics.median(ordered):.1f} | {p99:.1f} | {ordered[-1]:.1f}"


def approved_image(client: httpx.Client) -> str:
    image = client.post("/v2/images", json={"name": "bench-afu", "kind": "bitstream"}).json()["uuid"]
    client.put(f"/v2/images/{image}/file", content=build_gbs(AFU, N3000_INTERFACE)).raise_for_status()
    client.post(f"/v2/images/{image}/approve").raise_for_status()
    return str(image)


def run_backend(backend: str, duration: float) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        root = workdir / "host"
        shutil.copytree(FIXTURES / "dfl-fpga", root, symlinks=True)
        url_db, name = make_database(backend, workdir)
        env = {"ACCORD_RECONCILE_INTERVAL_S": "1", "ACCORD_PROGRAM_WAIT_S": str(duration + 30)}
        try:
            with live_server(workdir / "data", url_db, auth="noauth", env=env) as server:
                argv = [ACCORD, "agent", "--server", server.url, "--host", HOST, "--sysfs-root", str(root)]
                agent = subprocess.Popen(
                    [*argv, "--simulate", "--state-dir", str(workdir / "agent")],
                    env={**os.environ, "ACCORD_SIM_TOOL_DELAY_S": "3600"},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                try:
                    rows += run_phases(server.url, duration, backend)
                finally:
                    agent.terminate()
                    agent.wait()
        finally:
            drop_database(name)
    return rows


def run_phases(url: str, duration: float, backend: str) -> list[tuple[str, str, str]]:
    admin = httpx.Client(base_url=url, headers=ADMIN, timeout=120)
    while not admin.get("/v2/deployables").json()["deployables"]:  # the agent's first report
        time.sleep(0.2)
    [deployable] = admin.get("/v2/deployables").json()["deployables"]
    image = approved_image(admin)
    rows = [(backend, "alone", label, summary(v)) for label, v in measure(url, duration).items()]
    body = [{"op": "replace", "path": "/program", "value": [{"image_uuid": image}]}]
    answered: list[int] = []

    def wait_for_programming() -> None:
        with httpx.Client(base_url=url, headers=ADMIN, timeout=None) as client:
            answered.append(
                client.patch(f"/v2/deployables/{deployable['uuid']}/program", json=body).status_code
            )

    waiters = [threading.Thread(target=wait_for_programming, daemon=True) for _ in range(WAITERS)]
    for waiter in waiters:
        waiter.start()
    time.sleep(1.0)  # every caller has arrived and queued its operation
    during = measure(url, duration)
    queued = len(admin.get("/v2/operations").json()["operations"])
    label = (
        f"{WAITERS} programming calls ({queued} queued, {WAITERS - len(answered)} still waiting at the end)"
    )
    rows += [(backend, label, name, summary(v)) for name, v in during.items()]
    for waiter in waiters:
        waiter.join()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    machine = f"Python {platform.python_version()}, {os.cpu_count()} CPUs"
    print(f"# Program-wait bench: {args.duration:.0f} s per phase; {machine}\n")
    print("| backend | meanwhile | request | count | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---:|---:|---:|---:|")
    for backend in args.backends.split(","):
        for backend_name, phase, request, figures in run_backend(backend, args.duration):
            print(f"| {backend_name} | {phase} | {request} | {figures} |")


if __name__ == "__main__":
    main()

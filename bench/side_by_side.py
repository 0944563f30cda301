"""Accord and the real Cyborg 17 side by side: interleaved runs of the peers kit's bench.py.

Runs only when the peers kit is given (`--peers DIR` or `PEERS=DIR`, a copy of ../shared/peers
after its setup.sh); otherwise it says it was skipped and exits 0, so `make bench` passes on a
machine without the kit. If Cyborg does not answer on --cyborg-url, the kit is started
(`start.sh mysql`, stub auth) and stopped again at the end.

Equal conditions for both servers: the same bench.py run by the same interpreter, the same
duration, concurrency and device-profile groups, and the same data: each holds exactly
--profiles seeded device profiles (default 10) while `get` lists them (the harness deletes
leftover `bench-*` profiles of earlier aborted runs and records the count it saw). For every
(round, concurrency, op) Cyborg runs first, then Accord, so CPU-speed drift hits both alike.

Server CPU: Cyborg's is the whole stack the kit runs (every data/*.pid: API workers,
conductor, agent, RabbitMQ, MariaDB, placement, stubs), as the kit's README measures it;
Accord's is one `accord serve` process tree (SQLite, one worker). Each run keeps bench.py's
`calib_ms` (a fixed Python loop timed before and after: the VM's CPU speed just then).

    .venv/bin/python bench/side_by_side.py --peers ../peers-kit [--rounds 2] [--duration 10]
        [--concurrency 1,4] [--ops get,post-delete,arq,bind] [--profiles 10] [--out DIR]

Raw JSON goes to --out (default data/bench/side-by-side-<time>/, git-ignored); a markdown
table of the medians over rounds is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from binds import ADMIN  # noqa: E402
from tests.live_server import live_server  # noqa: E402
from tests.scenarios import fpga_host_snapshot  # noqa: E402

# Both servers get the same groups: Cyborg's fake FPGA and Accord's simulated one both offer FPGA.
GROUPS = [{"resources:FPGA": "1"}]
# What bench.py sends in its noauth mode, so seeding acts as the same project and roles.
USER = {
    "X-Roles": "admin,member,reader",
    "X-Project-Id": "8f5e2b1a0c3d4e5f8a9b0c1d2e3f4a5b",
    "X-User-Id": "bench",
    "OpenStack-API-Version": "accelerator 2.0",
}
SEED_PREFIX = "sbs-seed-"
SERVERS = ("cyborg", "accord")


def answers(url: str) -> bool:
    try:
        return httpx.get(url + "/", timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def profiles(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get("/v2/device_profiles")
    response.raise_for_status()
    return list(response.json()["device_profiles"])


def seed_profiles(url: str, count: int) -> int:
    """Make the list hold exactly `count` seed profiles (plus anything not ours); returns the size."""
    with httpx.Client(base_url=url, headers=USER, timeout=60) as client:
        names = set()
        for profile in profiles(client):
            name = profile["name"]
            # bench.py's own profiles outlive a run only when it was killed: not part of the data
            stale_seed = name.startswith(SEED_PREFIX) and int(name[len(SEED_PREFIX) :]) >= count
            if name.startswith("bench-") or stale_seed:
                client.delete(f"/v2/device_profiles/{profile['uuid']}").raise_for_status()
            else:
                names.add(name)
        for i in range(count):
            if f"{SEED_PREFIX}{i}" not in names:
                body = [{"name": f"{SEED_PREFIX}{i}", "groups": GROUPS}]
                client.post("/v2/device_profiles", json=body).raise_for_status()
        return len(profiles(client))


def bench_once(
    args: argparse.Namespace, url: str, server_pids: str, op: str, concurrency: int
) -> dict[str, Any]:
    command = [
        args.client_python,
        str(Path(args.peers) / "bench" / "bench.py"),
        *("--url", url, "--ops", op, "--duration", str(args.duration)),
        *("--concurrency", str(concurrency), "--server-pids", server_pids),
        *("--dp-groups", json.dumps(GROUPS)),
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out)["ops"][op]
    return result


def cyborg_pids(kit: Path) -> str:
    return ",".join(str(p) for p in sorted((kit / "data").glob("*.pid")))


def run_rounds(
    args: argparse.Namespace, urls: dict[str, str], pids: dict[str, str], out_dir: Path
) -> list[dict[str, Any]]:
    runs = []
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    for round_no in range(1, args.rounds + 1):
        for concurrency in concurrencies:
            for op in args.ops.split(","):
                for server in SERVERS:
                    listed = seed_profiles(urls[server], args.profiles) if op == "get" else None
                    load_before = loadavg()
                    result = bench_once(args, urls[server], pids[server], op, concurrency)
                    run = {
                        "server": server,
                        "round": round_no,
                        "op": op,
                        "concurrency": concurrency,
                        "profiles_listed": listed,
                        "loadavg_before": load_before,
                        "loadavg_after": loadavg(),
                        **result,
                    }
                    runs.append(run)
                    name = f"r{round_no}-c{concurrency}-{op}-{server}.json"
                    (out_dir / name).write_text(json.dumps(run, indent=1))
                    cpu = run.get("cpu", {})
                    print(
                        f"# round {round_no} c={concurrency} {op:11} {server:6}: "
                        f"{run.get('req_per_s')} req/s, {cpu.get('server_ms_per_request')} ms CPU/req, "
                        f"errors {run.get('errors')}, calib {cpu.get('calib_ms_before')}/"
                        f"{cpu.get('calib_ms_after')} ms, load {load_before}"
                        + (f", skipped: {run['skipped']}" if "skipped" in run else ""),
                        file=sys.stderr,
                        flush=True,
                    )
    return runs


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}x" if a and b else "-"


def table(runs: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        "| op (bench.py) | c | Cyborg req/s | Accord req/s | ratio | Cyborg CPU ms/req | "
        "Accord CPU ms/req | ratio | calib ms C / A | errors C / A |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for concurrency in [int(c) for c in args.concurrency.split(",")]:
        for op in args.ops.split(","):
            cell: dict[str, dict[str, Any]] = {}
            for server in SERVERS:
                mine = [
                    r
                    for r in runs
                    if r["server"] == server and r["op"] == op and r["concurrency"] == concurrency
                ]
                ok = [r for r in mine if "req_per_s" in r]
                cell[server] = {
                    "rps": median([r["req_per_s"] for r in ok]),
                    "cpu": median(
                        [r["cpu"]["server_ms_per_request"] for r in ok if r["cpu"]["server_ms_per_request"]]
                    ),
                    "calib": median([r["cpu"]["calib_ms_before"] for r in ok]),
                    "errors": sum(r.get("errors", 0) for r in ok) + (len(mine) - len(ok)),
                }
            c, a = cell["cyborg"], cell["accord"]
            lines.append(
                f"| {op} | {concurrency} | {c['rps']} | {a['rps']} | {ratio(a['rps'], c['rps'])} | "
                f"{c['cpu']} | {a['cpu']} | {ratio(c['cpu'], a['cpu'])} | "
                f"{c['calib']} / {a['calib']} | {c['errors']} / {a['errors']} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", default=os.environ.get("PEERS"), help="the peers kit (or PEERS=)")
    parser.add_argument("--cyborg-url", default="http://127.0.0.1:6666")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per op and run")
    parser.add_argument("--concurrency", default="1,4")
    parser.add_argument("--ops", default="get,post-delete,arq,bind")
    parser.add_argument("--profiles", type=int, default=10, help="device profiles both servers hold")
    parser.add_argument("--client-python", default=sys.executable, help="runs bench.py for both")
    parser.add_argument("--out", help="raw JSON directory (default data/bench/side-by-side-<time>)")
    args = parser.parse_args()
    if not args.peers:
        print("side_by_side: skipped (no peers kit; give --peers DIR or PEERS=DIR, see docs/benchmarks.md)")
        return
    kit = Path(args.peers).resolve()
    if not (kit / "bench" / "bench.py").is_file() or not (kit / "cyborg-venv").is_dir():
        raise SystemExit(f"side_by_side: {kit} is not a set-up peers kit (run its setup.sh first)")
    out_dir = Path(args.out or ROOT / "data" / "bench" / f"side-by-side-{time.strftime('%Y%m%dT%H%M%S')}")
    out_dir.mkdir(parents=True, exist_ok=True)
    started_kit = not answers(args.cyborg_url)
    if started_kit:
        print(f"side_by_side: starting the peers kit ({kit}/start.sh mysql)", file=sys.stderr)
        subprocess.run(["bash", str(kit / "start.sh"), "mysql"], check=True)
    load_start = loadavg()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {"ACCORD_RECONCILE_INTERVAL_S": "0"}
            database_url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
            with live_server(Path(tmp) / "data", database_url, auth="noauth", env=env, workers=1) as server:
                snapshot = fpga_host_snapshot("bench-host", vfs=64)
                httpx.post(
                    server.url + "/v2/hosts/bench-host/inventory", json=snapshot, headers=ADMIN, timeout=60
                ).raise_for_status()
                urls = {"cyborg": args.cyborg_url, "accord": server.url}
                pids = {"cyborg": cyborg_pids(kit), "accord": str(server.process.pid)}
                runs = run_rounds(args, urls, pids, out_dir)
    finally:
        if started_kit:
            subprocess.run(["bash", str(kit / "stop.sh")], check=False)
    load_end = loadavg()
    summary = table(runs, args)
    listed = sorted({(r["server"], r["profiles_listed"]) for r in runs if r["profiles_listed"] is not None})
    header = (
        f"# Cyborg 17 (peers kit: MariaDB, 2 gunicorn workers, whole stack's CPU) vs Accord (SQLite, "
        f"1 worker): bench.py, {args.duration:.0f} s per op, median of {args.rounds} interleaved rounds\n"
        f"# device profiles listed during get: {listed}; load average start {load_start}, end {load_end}"
    )
    (out_dir / "summary.md").write_text(header + "\n\n" + summary + "\n")
    print(header)
    print()
    print(summary)
    print(f"\nraw JSON: {out_dir}")


if __name__ == "__main__":
    main()

"""Accord under the peers kit's load generator (`bench.py`), for side-by-side figures with Cyborg.

Starts one `accord serve` (SQLite or PostgreSQL, noauth), reports one simulated FPGA host with
VFs and 10 device profiles, then runs the given `bench.py` once per op with `--server-pids` set
to the server's process tree, so every op reports server CPU ms per request: the figure that
stays honest while other work shares the cores. Optionally records a py-spy profile of the
server meanwhile (threads holding the GIL only: where the CPU goes, not the waits).

    .venv/bin/python bench/peers_bench.py --bench-py /tmp/peers/bench/bench.py \
        [--backend sqlite|postgresql] [--workers 1] [--duration 10] [--concurrency 1,4] \
        [--ops get,post-delete,arq,bind] [--profile out.txt]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from binds import ADMIN, drop_database, make_database  # noqa: E402
from tests.live_server import live_server  # noqa: E402
from tests.scenarios import fpga_host_snapshot  # noqa: E402

GROUPS = [{"resources:FPGA": "1"}]


def seed(url: str) -> None:
    with httpx.Client(base_url=url, headers=ADMIN, timeout=60) as client:
        client.post(
            "/v2/hosts/bench-host/inventory", json=fpga_host_snapshot("bench-host", vfs=64)
        ).raise_for_status()
        for i in range(10):
            client.post("/v2/device_profiles", json=[{"name": f"seed-{i}", "groups": GROUPS}])


def run_ops(args: argparse.Namespace, url: str, pid: int) -> list[dict[str, object]]:
    results = []
    for concurrency in [int(c) for c in args.concurrency.split(",")]:
        for op in args.ops.split(","):
            out = subprocess.run(
                [
                    sys.executable,
                    args.bench_py,
                    "--url",
                    url,
                    "--ops",
                    op,
                    "--duration",
                    str(args.duration),
                    "--concurrency",
                    str(concurrency),
                    "--server-pids",
                    str(pid),
                    "--dp-groups",
                    json.dumps(GROUPS),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            document = json.loads(out)
            result = next(iter(document["ops"].values())) if "ops" in document else document
            results.append({"op": op, "concurrency": concurrency, **result})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-py", required=True, help="the peers kit's bench/bench.py")
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", default="1,4")
    parser.add_argument("--ops", default="get,post-delete,arq,bind")
    parser.add_argument("--profile", help="write a py-spy profile (raw, collapsed stacks) here")
    parser.add_argument("--json", action="store_true", help="print bench.py's full results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database_url, name = make_database(args.backend, Path(tmp))
        try:
            env = {"ACCORD_RECONCILE_INTERVAL_S": "0"}
            with live_server(
                Path(tmp) / "data", database_url, auth="noauth", env=env, workers=args.workers
            ) as server:
                seed(server.url)
                spy = None
                if args.profile:
                    spy = subprocess.Popen(
                        [
                            str(Path(sys.executable).parent / "py-spy"),
                            "record",
                            "--pid",
                            str(server.process.pid),
                            "--subprocesses",
                            # samples only threads holding the GIL: CPU, not a worker thread
                            # waiting for work or the event loop idle in epoll
                            "--gil",
                            "--format",
                            "raw",
                            "--rate",
                            "200",
                            "--output",
                            args.profile,
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                results = run_ops(args, server.url, server.process.pid)
                if spy is not None:
                    spy.send_signal(2)
                    spy.wait(timeout=30)
                status = Path(f"/proc/{server.process.pid}/status").read_text()
                rss = int(status.split("VmRSS:")[1].split()[0]) / 1024
                detail = {k: status.split(k + ":")[1].split()[0] for k in ("RssAnon", "RssFile", "Threads")}
        finally:
            drop_database(name)
    if args.json:
        print(json.dumps(results, indent=1))
    print(f"# Accord ({args.backend}, {args.workers} worker(s)), bench.py {args.duration:.0f} s per op")
    print("| op | conc. | req/s | p50 ms (first request kind) | server CPU ms/req | other CPU s |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        cpu = r["cpu"]  # type: ignore[index]
        latency = next(iter(r["latency_ms"].values()))  # type: ignore[attr-defined]
        print(
            f"| {r['op']} | {r['concurrency']} | {r['req_per_s']} | {latency['p50']} | "
            f"{cpu['server_ms_per_request']} | {cpu['other_s']} |"  # type: ignore[index]
        )
    print(f"server RSS after the run: {rss:.0f} MiB ({detail})")


if __name__ == "__main__":
    main()

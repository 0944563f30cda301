"""Soak: a mixed workload against one real server on PostgreSQL for about ten minutes, with the
server's RSS and the p99 latency sampled every window, to show both stay flat.

Workload per client thread, in a loop: create an ARQ, bind it as Nova does, show it, list ARQs
and devices, heartbeat and re-report a host, unbind or delete by instance, delete. The reconciler
runs (1 s ticks) with its leases, so background work is in the picture too.

    .venv/bin/python bench/soak.py [--minutes 10] [--clients 4] [--window-s 30] [--backend postgresql]

Prints one line per window (requests, errors, p50/p99 ms, server RSS MiB) and a verdict: the
last windows' RSS and p99 against the first ones' (the band is in --rss-band-mib and --p99-band).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.binds import drop_database, make_database  # noqa: E402
from tests.live_server import live_server  # noqa: E402
from tests.reliability.workload import FailoverClient, bind_cycle, prepare  # noqa: E402
from tests.scenarios import fpga_host_snapshot  # noqa: E402


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def agent_traffic(client: FailoverClient, stop: threading.Event) -> None:
    """One agent's heartbeats and whole-host reports, as a live host sends them."""
    snapshot = fpga_host_snapshot("host-a", vfs=8)
    beats = 0
    while not stop.wait(0.5):
        client.request(
            "heartbeat",
            "POST",
            "/v2/hosts/host-a/heartbeat",
            json={"hostname": "host-a", "agent_version": "soak"},
        )
        beats += 1
        if beats % 20 == 0:
            client.request("report", "POST", "/v2/hosts/host-a/inventory", json=snapshot)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--window-s", type=float, default=30)
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--rss-band-mib", type=float, default=15)
    parser.add_argument(
        "--p99-band", type=float, default=2.0, help="last p99 at most this many times the first"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url, dbname = make_database(args.backend, Path(tmp))
        env = {"ACCORD_RECONCILE_INTERVAL_S": "1", "ACCORD_HOST_LOST_AFTER_S": "30"}
        try:
            with live_server(Path(tmp) / "srv", url, auth="noauth", env=env) as server:
                rp = prepare(server.url, handles=8)
                client = FailoverClient([server.url], timeout=30)
                stop = threading.Event()

                def cycles() -> None:
                    while not stop.is_set():
                        bind_cycle(client, rp)

                workers = [threading.Thread(target=cycles) for _ in range(args.clients)]
                workers.append(threading.Thread(target=agent_traffic, args=(client, stop)))
                for worker in workers:
                    worker.start()
                started = time.monotonic()
                windows: list[tuple[float, float, float]] = []
                seen = 0
                print(f"soak: {args.minutes} min, {args.clients} clients + 1 agent, {args.backend}")
                print(" t(s)  requests  errors  p50(ms)  p99(ms)  RSS(MiB)")
                while time.monotonic() - started < args.minutes * 60:
                    time.sleep(args.window_s)
                    with client.lock:
                        batch = client.outcomes[seen:]
                        seen = len(client.outcomes)
                    latencies = [(o.ended - o.started) * 1000 for o in batch]
                    errors = sum(1 for o in batch if o.status == 0 or o.status >= 500)
                    rss = rss_mib(server.process.pid)
                    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
                    windows.append((rss, p50, p99))
                    print(
                        f"{time.monotonic() - started:5.0f}  {len(batch):8d}  {errors:6d}  "
                        f"{p50:7.1f}  {p99:7.1f}  {rss:8.1f}"
                    )
                stop.set()
                for worker in workers:
                    worker.join(timeout=60)
                client.close()
        finally:
            drop_database(dbname)

    third = max(1, len(windows) // 3)
    first, last = windows[:third], windows[-third:]
    rss_growth = statistics.mean(w[0] for w in last) - statistics.mean(w[0] for w in first)
    p99_ratio = statistics.mean(w[2] for w in last) / max(1e-9, statistics.mean(w[2] for w in first))
    flat = rss_growth <= args.rss_band_mib and p99_ratio <= args.p99_band
    print(
        f"RSS grew {rss_growth:+.1f} MiB (band {args.rss_band_mib}), p99 last/first x{p99_ratio:.2f} "
        f"(band x{args.p99_band}): {'flat' if flat else 'NOT flat'}"
    )


if __name__ == "__main__":
    main()

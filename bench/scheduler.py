"""Benchmark: candidate search latency over a synthetic fleet (1k, 10k and 100k hosts x 8 devices).

The fleet is seeded and mixed the way a real one is: racks of identical hosts, devices split over
two NUMA nodes, two FPGA vendors, some devices already programmed with one of two functions and
some devices in use. Each query is timed end to end (solve + ranking + building candidates);
nothing is cached between queries. Reports p50/p99 for:

- `ProviderIndex.find_candidates` (the index kept by the store), 1-group and 8-group profiles;
- one-shot `find_candidates(hosts, ...)`, which rebuilds the shape bucketing each call;
- the issue's identical-devices case: one host, 8 identical devices, 8 groups of one each;
- an adversarial fleet of vGPU pools with random usage, where nearly every host is unique;
- per fleet size: the index's build (= rebuild) time, wall and CPU, and its memory (RSS growth,
  next to the RSS of the Host objects it is built from), and the latency of searches on the old
  index while another thread builds a new one (as `SchedulerCache` does: queries never wait for a
  rebuild, but they share the GIL with it).

    .venv/bin/python bench/scheduler.py [--hosts 1000,10000,100000] [--runs 200]
        [--out docs/benchmarks-scheduler.md]
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import statistics
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from accord.scheduler.candidates import find_candidates
from accord.scheduler.index import ProviderIndex
from accord.scheduler.model import Host, Inventory, Policy, Provider, Request, RequestGroup

VENDORS = ("CUSTOM_FPGA_INTEL", "CUSTOM_FPGA_XILINX")
FUNCTIONS = ("fn-aes", "fn-gzip")
GPU_MODELS = ("CUSTOM_GPU_T4", "CUSTOM_GPU_A100")
ONE_SHOT_MAX_HOSTS = 10_000  # one-shot at 100k is seconds per query: shown up to 10k only


READING = """\
## How to read it

- Targets: issue 6, identical-devices case well under 100 ms and 10k hosts p50 < 20 ms; issue 13,
  100k hosts x 8 devices p50 < 50 ms, with the index's memory and rebuild time stated.
- `ProviderIndex` is what the service queries: hosts are kept bucketed by *shape* (the multiset of
  their provider classes), so a query projects each distinct shape onto the request (which groups
  each class serves or holds, free capacity, NUMA node) and solves each distinct projection once
  (`src/accord/scheduler/candidates.py` explains the algorithm and why it is exact).
- Capacity levels (`src/accord/scheduler/index.py`): shapes are also filed by their total free
  capacity per resource class. Below function and NUMA preference the ranking is by that capacity,
  so a query with a limit whose groups ask for one resource class walks the levels best first
  (pack: least free; spread: most) and stops once `limit` hosts reached the best rank any host
  could (every group some class of the fleet holds held; NUMA-local unless the request isolates
  more groups than any host has on one node). The answer is the full scan's (a property test
  compares them); only the scan is shorter. Requests over several resource classes, or with no
  limit, still scan every shape.
- What is left per query is the levels walked and the winning hosts named: `limit 1000` (the
  API's default) builds 1000 candidates; a multi-group isolate request on the vGPU fleet solves a
  few hundred distinct shapes (a min-cost flow each) before ten NUMA-local hosts turn up.
- "one-shot" is `find_candidates(hosts, ...)`, which rebuilds the buckets on every call; it is for
  tests and small fleets, and its cost is almost all that rebuild (compare the index build time).
  Not run at 100k (seconds per query).
- The FPGA fleet (seeded, mixed): 8 devices per host on 2 NUMA nodes, 1 host in 10 of the other
  vendor, on 30% of hosts about half the devices hold one of two functions, 25% of devices in use,
  1% unusable, 0.5% of hosts lost. The 8-group profile needs an entirely free Intel host and can
  never be NUMA-local (4 devices per node). The Xilinx profile also forbids a trait nobody has.
- The vGPU fleet: 16 vGPUs per device with random usage make almost every host a shape of its
  own (the case where per-shape work is per-host work); one host in four has A100s.
- Rebuild: `build ms` is `ProviderIndex(hosts)` from Host objects already in memory; the server
  also reads the store first (`load_hosts`, not measured here). `index MiB` is the RSS growth of
  the build; the index keeps the Host objects alive, so the server holds both, and during a
  rebuild the old and the new ones together (about twice). `build ms beside searches` is the same
  build in a second thread while the main thread searches the old index every 2 ms: what the
  server's background rebuild costs the requests that arrive meanwhile (they never wait for it,
  but share the GIL with it, so a search can wait up to a switch interval, 5 ms).
- `gc.freeze()` is called after the fleet is loaded (as a long-running server would after building
  its index); without it, a full collection over the static objects lands in some queries.
  Garbage collection is also about half of a build's CPU time (collections traverse the fleet).
- Timings include building the returned `Candidate` objects and are single-threaded CPython; no
  result is cached between queries. Wall-clock figures are noisy on this shared machine; the CPU
  column is the query thread's own CPU time.
"""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def build_fleet(n_hosts: int, seed: int = 6) -> list[Host]:
    rng = random.Random(seed)
    hosts = []
    for h in range(n_hosts):
        name = f"host-{h:05d}"
        vendor = VENDORS[h % 10 == 0]  # one host in ten is Xilinx
        programmed_host = rng.random() < 0.3
        providers = []
        for d in range(8):
            function = rng.choice(FUNCTIONS) if programmed_host and rng.random() < 0.5 else None
            providers.append(
                Provider(
                    uuid=f"rp-{h}-{d}",
                    host=name,
                    device_uuid=f"dev-{h}-{d}",
                    deployable_uuid=f"dep-{h}-{d}",
                    inventories={"FPGA": Inventory(1, used=int(rng.random() < 0.25))},
                    traits=frozenset({vendor, "CUSTOM_FPGA_REGION"}),
                    numa_node=d // 4,
                    function_id=function,
                    usable=rng.random() > 0.01,
                )
            )
        hosts.append(Host(name, tuple(providers), lost=rng.random() < 0.005))
    return hosts


def build_vgpu_fleet(n_hosts: int, seed: int = 7) -> list[Host]:
    """The adversarial case: vGPU pools with random usage make nearly every host's shape unique.
    One host in four has A100s, the rest T4s (a trait the traits profile asks for)."""
    rng = random.Random(seed)
    return [
        Host(
            f"vgpu-{h:06d}",
            tuple(
                Provider(
                    f"vrp-{h}-{d}",
                    f"vgpu-{h:06d}",
                    f"vdev-{h}-{d}",
                    f"vdep-{h}-{d}",
                    {"VGPU": Inventory(16, used=rng.randint(0, 16))},
                    frozenset({GPU_MODELS[h % 4 == 0]}),
                    numa_node=d // 4,
                )
                for d in range(8)
            ),
        )
        for h in range(n_hosts)
    ]


def profile(groups: int, function: str | None) -> Request:
    return Request(
        tuple(
            RequestGroup(i, {"FPGA": 1}, frozenset({"CUSTOM_FPGA_INTEL"}), function_id=function)
            for i in range(groups)
        ),
        group_policy="isolate",
    )


def timed(run: Callable[[], object], runs: int) -> tuple[float, float, object]:
    """(p50 ms, p99 ms, last result), wall clock; the CPU-time median goes to `cpu_p50` (on a
    shared machine it is the steadier figure)."""
    samples = []
    cpu = []
    result: object = None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.thread_time()
        result = run()
        samples.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]
    cpu_p50[0] = statistics.median(cpu)
    return statistics.median(samples), p99, result


cpu_p50 = [0.0]  # the last `timed` call's CPU-time median, ms


def rss_mib() -> float:
    """This process's resident set (MiB), after a full collection so garbage does not count."""
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def built(hosts: list[Host]) -> tuple[ProviderIndex, float, float]:
    """The index, with its build time in ms: wall clock and this process's CPU."""
    wall, cpu = time.perf_counter(), time.process_time()
    index = ProviderIndex(hosts)
    return index, (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def during_rebuild(
    hosts: list[Host], index: ProviderIndex, request: Request, limit: int, runs: int
) -> tuple[float, float, float, int]:
    """Searches on `index` while another thread builds a new index from `hosts`, as the server's
    SchedulerCache does (queries keep the old index; the rebuild shares the GIL with them).
    Returns (p50, p99, the rebuild's wall ms, searches answered during it)."""
    samples: list[float] = []
    started = threading.Event()
    rebuild_ms: list[float] = []

    def rebuild() -> None:
        started.set()
        rebuild_ms.append(built(hosts)[1])

    thread = threading.Thread(target=rebuild)
    thread.start()
    started.wait()
    while thread.is_alive() and len(samples) < runs:
        begin = time.perf_counter()
        index.find_candidates(request, limit, Policy.PACK)
        samples.append((time.perf_counter() - begin) * 1000)
        time.sleep(0.002)  # requests arrive spaced, not back to back
    thread.join()
    samples.sort()
    p99 = samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]
    return statistics.median(samples), p99, rebuild_ms[0], len(samples)


def identical_devices_row(runs: int) -> tuple[str, ...]:
    single = [
        Host(
            "big",
            tuple(
                Provider(
                    f"rp-{d}",
                    "big",
                    f"dev-{d}",
                    f"dep-{d}",
                    {"FPGA": Inventory(1)},
                    frozenset({VENDORS[0]}),
                    0,
                )
                for d in range(8)
            ),
        )
    ]
    p50, p99, found = timed(lambda: find_candidates(single, profile(8, None)), runs)
    assert (
        isinstance(found, list) and len(found) == 1 and len({g.provider_uuid for g in found[0].groups}) == 8
    )
    return (
        "1 host, 8 identical devices",
        "8 groups x FPGA:1",
        "one-shot",
        f"{p50:.3f}",
        f"{p99:.3f}",
        f"{cpu_p50[0]:.3f}",
        "1",
    )


Profiles = list[tuple[str, Request, int, Policy]]


def fpga_profiles(limit: int) -> Profiles:
    xilinx = Request(
        (RequestGroup(0, {"FPGA": 1}, frozenset({VENDORS[1]}), frozenset({"CUSTOM_FPGA_SLOW"}), "fn-gzip"),)
    )
    return [
        ("1 group, fn-aes", profile(1, "fn-aes"), limit, Policy.PACK),
        ("8 groups x FPGA:1", profile(8, None), limit, Policy.PACK),
        ("1 group, Xilinx trait, fn-gzip", xilinx, limit, Policy.PACK),
        ("1 group, fn-aes, limit 1000 (the API's default)", profile(1, "fn-aes"), 1000, Policy.PACK),
    ]


def vgpu_profiles(limit: int) -> Profiles:
    return [
        ("1 group, VGPU:2", Request((RequestGroup(0, {"VGPU": 2}),)), limit, Policy.PACK),
        ("1 group, VGPU:2, spread", Request((RequestGroup(0, {"VGPU": 2}),)), limit, Policy.SPREAD),
        (
            "1 group, VGPU:4 on an A100",
            Request((RequestGroup(0, {"VGPU": 4}, frozenset({GPU_MODELS[1]})),)),
            limit,
            Policy.PACK,
        ),
        (
            "4 groups x VGPU:4, isolate",
            Request(tuple(RequestGroup(i, {"VGPU": 4}) for i in range(4)), "isolate"),
            limit,
            Policy.PACK,
        ),
        (
            "8 groups x VGPU:1, isolate (never NUMA-local)",
            Request(tuple(RequestGroup(i, {"VGPU": 1}) for i in range(8)), "isolate"),
            limit,
            Policy.PACK,
        ),
    ]


class Report:
    def __init__(self, runs: int) -> None:
        self.runs = runs
        self.rows: list[tuple[str, ...]] = []
        self.rebuild_rows: list[tuple[str, ...]] = []
        self.notes: list[str] = []

    def fleet(self, label: str, n: int, make: Callable[[int], list[Host]], profiles: Profiles) -> None:
        before = rss_mib()
        hosts = make(n)
        fleet_mib = rss_mib() - before
        before = rss_mib()
        index, wall_ms, cpu_ms = built(hosts)
        index_mib = rss_mib() - before
        self.notes.append(f"{label}: {index.shape_count} distinct host shapes")
        changed = make(n)[: min(n, 500)] if n <= ONE_SHOT_MAX_HOSTS else []
        if changed:
            start = time.perf_counter()
            for host in changed:
                index.upsert_host(host)
            upsert_us = (time.perf_counter() - start) * 1e6 / len(changed)
            self.notes.append(f"{label}: upsert_host (one host's new state) {upsert_us:.0f} us on average")
        gc.freeze()  # as a server would after loading its index: no full GC pass over the static fleet
        for name, request, limit, policy in profiles:
            p50, p99, found = timed(partial(index.find_candidates, request, limit, policy), self.runs)
            count = len(found) if isinstance(found, list) else 0
            cpu = f"{cpu_p50[0]:.2f}"
            self.rows.append((label, name, "ProviderIndex", f"{p50:.2f}", f"{p99:.2f}", cpu, str(count)))
            if n <= ONE_SHOT_MAX_HOSTS and limit < 1000 and policy is Policy.PACK and "fn-aes" in name:
                runs = max(5, self.runs // 20)
                p50, p99, _ = timed(partial(find_candidates, hosts, request, limit, policy), runs)
                cpu = f"{cpu_p50[0]:.2f}"
                self.rows.append((label, name, "one-shot", f"{p50:.2f}", f"{p99:.2f}", cpu, str(count)))
        name, request, limit, _ = profiles[0]
        p50, p99, rebuild_ms, answered = during_rebuild(hosts, index, request, limit, self.runs)
        self.rebuild_rows.append(
            (
                label,
                f"{wall_ms:.0f}",
                f"{cpu_ms:.0f}",
                f"{index_mib:.0f}",
                f"{fleet_mib:.0f}",
                f"{rebuild_ms:.0f}",
                f"{p50:.2f} / {p99:.2f} ({answered}, {name})",
            )
        )
        gc.unfreeze()
        del hosts, index, changed
        gc.collect()


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="1000,10000,100000")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks-scheduler.md"))
    args = parser.parse_args()

    sizes = [int(x) for x in args.hosts.split(",")]
    report = Report(args.runs)
    report.rows.append(identical_devices_row(args.runs))
    for n in sizes:
        report.fleet(f"{n} hosts x 8", n, build_fleet, fpga_profiles(args.limit))
    for n in sizes:
        report.fleet(f"{n} vGPU hosts x 8 (random usage)", n, build_vgpu_fleet, vgpu_profiles(args.limit))

    searches = table(
        ("fleet", "profile", "path", "p50 ms", "p99 ms", "CPU p50 ms", "candidates"), report.rows
    )
    rebuilds = table(
        (
            "fleet",
            "build ms (wall)",
            "build ms (CPU)",
            "index MiB",
            "Host objects MiB",
            "build ms beside searches",
            "search p50 / p99 ms during the build (searches, profile)",
        ),
        report.rebuild_rows,
    )
    print("\n".join([*searches, "", *rebuilds]))
    print("\n".join(report.notes))
    python = f"{platform.python_implementation()} {platform.python_version()}"
    machine = f"{python}, {platform.machine()}, {_cpu_model()}"
    load = Path("/proc/loadavg").read_text().split()[:3]
    args.out.write_text(
        "# Scheduler benchmark: candidate search\n\n"
        f"Produced by `bench/scheduler.py` (limit={args.limit} unless the profile says otherwise, "
        f"{args.runs} timed queries per index row, {max(5, args.runs // 20)} per one-shot row) on "
        f"{machine}; load average {' / '.join(load)} at the end of the run (2 cores shared with other "
        "work).\n\n"
        + "\n".join(searches)
        + "\n\n## Index build (= rebuild), memory, and searches during a rebuild\n\n"
        + "\n".join(rebuilds)
        + "\n\n"
        + "\n".join(f"- {note}" for note in report.notes)
        + "\n\n"
        + READING
    )


if __name__ == "__main__":
    main()

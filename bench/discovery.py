"""Benchmark: whole-host discovery on a generated host with ~500 PCI functions, and the agent's RSS.

The host (built with the fixture builder in a scratch directory): 8 QAT C62x with 16 VFs each,
8 E810 with 16 VFs each, 4 DFL PAC N3000 with 8 VFs each, 4 T4 GPUs with vGPU types, the usual
server plumbing, and PCIe bridges up to 500 functions. Discovery runs every driver family
through `discover_host`, as the agent does each pass. The agent's peak RSS is measured on the real
`accord agent --once --simulate` process reporting that host to a real server.

    .venv/bin/python bench/discovery.py [--runs 30] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from accord.agent.drivers import all_drivers, discover_host
from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.layouts import fpga, gpu, qat_nic

TARGET_FUNCTIONS = 500


def build_host(root: Path) -> int:
    builder = SysfsBuilder(root)
    qat_nic.server_plumbing(builder)
    for i in range(8):
        qat_nic.qat_c62x(builder, f"0000:{0x20 + i:02x}:00.0", vfs=16)
        qat_nic.e810(builder, f"0000:{0x40 + i:02x}:00.0", vfs=16, ifname=f"ens{i}f0")
    for i in range(4):
        fpga.dfl_n3000(builder, f"0000:{0x60 + 2 * i:02x}:00.0", vfs=8)
        gpu.tesla_t4_with_vgpu(builder, f"0000:{0x80 + i:02x}:00.0")
    count = len(list((root / "sys/bus/pci/devices").iterdir()))
    bus = 0xA0
    while count < TARGET_FUNCTIONS:
        qat_nic.root_port(builder, f"0000:{bus:02x}:{count % 32:02x}.0")
        bus += 1 if count % 32 == 31 else 0
        count += 1
    return count


def measure(root: Path, runs: int) -> tuple[float, float, int]:
    drivers = all_drivers(root, simulate=True)
    discover_host(drivers)  # warm the dentry cache, as a long-running agent has it
    timings = []
    devices: list[object] = []
    for _ in range(runs):
        started = time.perf_counter()
        devices, _ = discover_host(drivers)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1], len(devices)


def agent_rss(root: Path) -> float:
    """Peak RSS (MiB) of `accord agent --once --simulate` reporting the host to a live server."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.live_server import live_server

    accord = str(Path(sys.executable).parent / "accord")
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/bench.sqlite"
        from accord.store.db import Database
        from accord.store.migrate import upgrade

        db = Database(url)
        upgrade(db.engine)
        db.dispose()
        with live_server(Path(scratch) / "srv", url, auth="noauth") as server:
            argv = [accord, "agent", "--server", server.url, "--host", "bench", "--sysfs-root", str(root)]
            agent = subprocess.Popen([*argv, "--once", "--simulate"], stdout=subprocess.DEVNULL)
            peak_kib = 0
            # VmHWM is the peak of the agent's own address space; rusage would also count the
            # memory of this (larger) process that the child had before its exec.
            while agent.poll() is None:
                try:
                    status = Path(f"/proc/{agent.pid}/status").read_text()
                except OSError:
                    break
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        peak_kib = max(peak_kib, int(line.split()[1]))
                time.sleep(0.005)
            if agent.wait() != 0:
                raise SystemExit(f"agent failed with exit code {agent.returncode}")
    return peak_kib / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        functions = build_host(root)
        p50, p95, devices = measure(root, args.runs)
        rss = agent_rss(root)
    lines = [
        f"discovery: {functions} PCI functions, {devices} devices reported, {args.runs} runs, "
        f"{os.cpu_count()} cores",
        f"  p50 {p50:.1f} ms, p95 {p95:.1f} ms (target < 100 ms)",
        f"  agent --once peak RSS {rss:.1f} MiB (target < 40 MiB)",
    ]
    print("\n".join(lines))
    if args.out:
        with args.out.open("a") as out:
            out.write("\n```\n" + "\n".join(lines) + "\n```\n")


if __name__ == "__main__":
    main()

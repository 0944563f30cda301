"""The fleet `accord up --demo` shows on a machine with no accelerators: three simulated hosts,
built once under the data directory from the same layouts as the test fixtures, each reported
by its own agent running the real drivers on the simulated kernel."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.layouts import fpga, gpu, qat_nic

NLB0_AFU = "d8424dc4-a4a9-3c26-9bd6-c0f2eb4a5e3b"
N3000_INTERFACE = "69528db6-eb31-577a-8c36-68f9faa081f6"
U250_XCLBIN = "5a1a7c0e-1d6b-4b43-9d0a-4f0c2b9e7d11"


def _fpga_host(b: SysfsBuilder) -> None:
    qat_nic.server_plumbing(b)
    fpga.dfl_n3000(b, "0000:5e:00.0", vfs=2, afu_id=NLB0_AFU, interface_id=N3000_INTERFACE)
    fpga.alveo_u250(b, "0000:3b:00.0", xclbin_uuid=U250_XCLBIN)


def _gpu_host(b: SysfsBuilder) -> None:
    qat_nic.server_plumbing(b)
    gpu.aspeed_bmc(b)
    gpu.tesla_t4_with_vgpu(b, "0000:3b:00.0")
    gpu.a100_sriov(b, "0000:41:00.0", vfs=4)


def _net_host(b: SysfsBuilder) -> None:
    qat_nic.server_plumbing(b)
    qat_nic.qat_c62x(b, "0000:3d:00.0", vfs=4)
    qat_nic.e810(b, "0000:17:00.0", vfs=4, ifname="ens1f0")
    qat_nic.x710(b, "0000:18:00.0", vfs=4, ifname="ens2f0")


DEMO_HOSTS: dict[str, Callable[[SysfsBuilder], None]] = {
    "demo-fpga": _fpga_host,
    "demo-gpu": _gpu_host,
    "demo-net": _net_host,
}
# The demo NICs' physical networks, as an operator would configure them on the agent.
DEMO_PHYSNETS = (("ens1f0", "physnet1"), ("ens2f0", "physnet2"))


def demo_roots(base: Path) -> dict[str, Path]:
    """Each demo host's sysfs root; built on first use and kept, so operations done in the demo
    (mdevs created, VFs changed, images programmed) survive a restart like on a real host."""
    roots = {}
    for name, build in DEMO_HOSTS.items():
        root = base / name
        marker = root / ".built"
        if not marker.exists():
            build(SysfsBuilder(root))
            marker.write_text("built by accord up --demo\n")
        roots[name] = root
    return roots

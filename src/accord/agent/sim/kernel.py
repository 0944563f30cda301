"""A kernel that lives in a fixture tree: applies sysfs writes and reacts as Linux does.

Reactions modelled (from the kernel's ABI documentation):
- `sriov_numvfs`: changing from one non-zero count to another is EBUSY (write 0 first); a count
  above `sriov_totalvfs` is ERANGE; otherwise the old VFs vanish and N new ones appear.
- `mdev_supported_types/<type>/create` with a uuid: a mediated device appears under the parent
  and in `bus/mdev/devices`, `available_instances` drops; none left is an error.
- `<mdev>/remove` with 1: the mediated device goes away and the instance is available again.
- NVIDIA vGPU types (their description carries `max_instance=`) exclude each other on one GPU,
  across the PF and its VFs: while any vGPU exists, the other types show 0 available; when the
  last goes, all are back. A type never has more than `max_instance` vGPUs on one GPU, and a VF
  hosts one vGPU (NVIDIA's SR-IOV vGPU on Ampere).
Vendor tools (`fpgaconf`, `xbmgmt`, flash utilities) are emulated by functions registered per
tool name, so each driver family brings its own emulation next to its driver. Every run is
recorded as it starts (`tool_runs`), so tests can count flashes, including one killed mid-way.
"""

from __future__ import annotations

import errno
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from accord.agent.hostio import ToolFailed
from accord.agent.sim.builder import SysfsBuilder, relative_link

# tool name -> emulation(root, argv) returning the tool's stdout or raising ToolFailed
ToolEmulation = Callable[[Path, list[str]], str]
TOOLS: dict[str, ToolEmulation] = {}
# Inside the simulated root: one JSON argv per line, for every tool run started.
TOOL_LOG = Path("var/log/accord-sim-tools.log")

# Which driver the kernel binds to a new VF, by the PF's driver (autoprobe on).
VF_DRIVERS = {
    "ice": "iavf",
    "i40e": "iavf",
    "mlx5_core": "mlx5_core",
    "4xxx": "4xxxvf",
    "c6xx": "c6xxvf",
    "nvidia": "nvidia",
    "dfl-pci": "dfl-pci",
    "intel-fpga-pci": "intel-fpga-pci",
}


def register_tool(name: str, emulation: ToolEmulation) -> None:
    TOOLS[name] = emulation


def tool_runs(root: Path) -> list[list[str]]:
    """The argv of every tool run started on this simulated host, oldest first."""
    path = root / TOOL_LOG
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


class SimulatedKernel:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.builder = SysfsBuilder(root)

    def write(self, path: Path, value: str) -> None:
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise PermissionError(errno.EACCES, f"{path} is outside the simulated host")
        if path.name == "sriov_numvfs":
            self._set_vfs(resolved.parent, value)
        elif path.name == "create" and resolved.parent.parent.name == "mdev_supported_types":
            self._create_mdev(resolved.parent, value.strip())
        elif path.name == "remove" and (resolved.parent / "mdev_type").is_symlink():
            self._remove_mdev(resolved.parent)
        else:
            if not resolved.parent.is_dir():
                raise FileNotFoundError(errno.ENOENT, f"no such attribute {path}")
            resolved.write_text(value)

    def run(self, argv: list[str], timeout_s: float = 600.0) -> str:
        del timeout_s
        emulation = TOOLS.get(os.path.basename(argv[0]))
        if emulation is None:
            raise ToolFailed(f"{argv[0]} is not installed on this host")
        log_path = self.root / TOOL_LOG
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a") as log:
            log.write(json.dumps([os.path.basename(argv[0]), *argv[1:]]) + "\n")
        # Real programming and flashing take seconds to minutes; a delay lets the demo and the
        # crash tests see a tool in the middle of its work.
        time.sleep(float(os.environ.get("ACCORD_SIM_TOOL_DELAY_S", "0") or 0))
        return emulation(self.root, argv)

    def _set_vfs(self, device: Path, value: str) -> None:
        wanted = int(value.strip())
        current = int((device / "sriov_numvfs").read_text().strip() or "0")
        total = int((device / "sriov_totalvfs").read_text().strip())
        if wanted and current and wanted != current:
            raise OSError(errno.EBUSY, f"{device.name}: {current} VFs already enabled; write 0 first")
        if wanted < 0 or wanted > total:
            raise OSError(errno.ERANGE, f"{device.name}: {wanted} VFs asked, at most {total}")
        driver_link = device / "driver"
        pf_driver = os.path.basename(os.readlink(driver_link)) if driver_link.is_symlink() else None
        self.builder.enable_vfs(device.name, wanted, VF_DRIVERS.get(pf_driver or ""))

    def _create_mdev(self, type_dir: Path, mdev_uuid: str) -> None:
        parent = type_dir.parent.parent
        available_file = type_dir / "available_instances"
        available = int(available_file.read_text().strip())
        if available <= 0:
            raise OSError(errno.EUSERS, f"no {type_dir.name} instances left on {parent.name}")
        mdev_dir = parent / mdev_uuid
        if mdev_dir.exists():
            raise FileExistsError(errno.EEXIST, f"mediated device {mdev_uuid} exists")
        mdev_dir.mkdir()
        relative_link(mdev_dir / "mdev_type", type_dir)
        (mdev_dir / "remove").write_text("")
        relative_link(self.root / "sys" / "bus" / "mdev" / "devices" / mdev_uuid, mdev_dir)
        relative_link(type_dir / "devices" / mdev_uuid, mdev_dir)
        available_file.write_text(f"{available - 1}\n")
        _settle_gpu(parent)

    def _remove_mdev(self, mdev_dir: Path) -> None:
        type_dir = (mdev_dir / "mdev_type").resolve()
        mdev_uuid = mdev_dir.name
        for link in (
            self.root / "sys" / "bus" / "mdev" / "devices" / mdev_uuid,
            type_dir / "devices" / mdev_uuid,
        ):
            if link.is_symlink():
                link.unlink()
        (mdev_dir / "mdev_type").unlink()
        (mdev_dir / "remove").unlink()
        mdev_dir.rmdir()
        available_file = type_dir / "available_instances"
        available_file.write_text(f"{int(available_file.read_text().strip()) + 1}\n")
        _settle_gpu(type_dir.parent.parent)


def _max_instances(type_dir: Path) -> int:
    description = (type_dir / "description").read_text() if (type_dir / "description").exists() else ""
    match = re.search(r"max_instance=(\d+)", description)
    return int(match.group(1)) if match else 0


def _nvidia_types(types_dir: Path) -> list[Path]:
    """The parent's mdev types that describe themselves as NVIDIA's do (with max_instance)."""
    if not types_dir.is_dir():
        return []
    return [t for t in sorted(types_dir.iterdir()) if t.is_dir() and _max_instances(t) > 0]


def _created(type_dir: Path) -> int:
    devices = type_dir / "devices"
    return sum(1 for _ in devices.iterdir()) if devices.is_dir() else 0


def _settle_gpu(function: Path) -> None:
    """Recompute every NVIDIA type's available_instances on the GPU `function` belongs to (the
    PF, or one of its VFs), as NVIDIA's vGPU manager shows them after a create or a remove."""
    pf = (function / "physfn").resolve() if (function / "physfn").is_symlink() else function
    hosts = [pf] + [link.resolve() for link in sorted(pf.glob("virtfn*")) if link.is_symlink()]
    types = {host: _nvidia_types(host / "mdev_supported_types") for host in hosts}
    created: dict[str, int] = {}
    for type_dirs in types.values():
        for type_dir in type_dirs:
            created[type_dir.name] = created.get(type_dir.name, 0) + _created(type_dir)
    active = {name for name, count in created.items() if count}
    for host, type_dirs in types.items():
        on_vf = host != pf
        vf_busy = on_vf and any(_created(t) for t in type_dirs)
        for type_dir in type_dirs:
            most = _max_instances(type_dir)
            if active and type_dir.name not in active:
                left = 0
            elif on_vf:
                left = 0 if vf_busy or created[type_dir.name] >= most else 1
            else:
                left = max(0, most - _created(type_dir))
            (type_dir / "available_instances").write_text(f"{left}\n")

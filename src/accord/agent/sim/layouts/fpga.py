"""Sysfs layouts of FPGA cards, built the way the kernel and the vendor drivers lay them out.

Intel, upstream DFL (Documentation/fpga/dfl.rst, Documentation/ABI/testing/sysfs-platform-dfl-fme,
sysfs-platform-dfl-port, sysfs-class-fpga-region, drivers/fpga/dfl-pci.c, dfl-fme-pr.c):
the PF (bound to `dfl-pci`) parents a base FPGA region `fpga_region/regionN` holding the feature
devices `dfl-fme.N` (`bitstream_id`, `bitstream_metadata`, `ports_num`) and `dfl-port.M`
(`afu_id`, `id`). The FME's PR code adds `dfl-fme-mgr.N/fpga_manager/fpgaN`,
`dfl-fme-bridge.N/fpga_bridge/brN` and, per port, `dfl-fme-region.N/fpga_region/regionK` whose
`compat_id` is the PR interface id. Ids print as 32 hex digits (`%016llx%016llx`). Regions,
managers and bridges are linked from `sys/class/fpga_region|fpga_manager|fpga_bridge`.

Intel, OPAE out-of-tree driver (`intel-fpga-pci`; OPAE's libopae sysfs.c and Cyborg's
intel sysinfo.py read it): `<pf>/fpga/intel-fpga-dev.N/intel-fpga-fme.N/pr/interface_id` and
`.../intel-fpga-port.N/afu_id`, linked from `sys/class/fpga/intel-fpga-dev.N`.

Xilinx Alveo (XRT xocl/xclmgmt, src/runtime_src/core/pcie/driver/linux): the management PF
(function 0, `xclmgmt`) shows `interface_uuids`/`logic_uuids` and a feature ROM subdevice
`rom.m.<id>/VBNV`; the user PF (function 1, `xocl`) shows `xclbinuuid` (`%pUb`, all zeros when
nothing is loaded), `interface_uuids`, `logic_uuids` and `user_pf`.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from accord.agent.hostio import ToolFailed
from accord.agent.sim.builder import SysfsBuilder, relative_link

ACCELERATOR_CLASS = "120000"  # PCI base class 0x12: processing accelerators
BRIDGE_CLASS = "060400"
NIL_UUID = "0" * 32

# vendor tables (dfl-pci.c, XRT devices.h): PF device -> VF device
INTEL_VF_DEVICE = {"09c4": "09c5", "0b30": "0b31", "0b2b": "0b2c"}
ALVEO = {  # model -> (mgmt device, user device, default shell VBNV)
    "u200": ("5000", "5001", "xilinx_u200_xdma_201830_2"),
    "u250": ("5004", "5005", "xilinx_u250_gen3x16_xdma_shell_3_1"),
    "u280": ("500c", "500d", "xilinx_u280_xdma_201920_3"),
    "u50": ("5020", "5021", "xilinx_u50_gen3x16_xdma_201920_3"),
}


def sysfs_id(value: str | None) -> str:
    """A uuid as the kernel prints afu_id/compat_id: 32 hex digits, no dashes."""
    return uuid.UUID(value).hex if value else NIL_UUID


def _next_index(directory: Path, prefix: str) -> int:
    taken = {
        int(m.group(1))
        for p in directory.glob(f"{prefix}*")
        if (m := re.fullmatch(rf"{prefix}(\d+)", p.name))
    }
    index = 0
    while index in taken:
        index += 1
    return index


def _platform_device(builder: SysfsBuilder, path: Path, driver: str) -> Path:
    """A platform device the DFL framework creates: bus link and bound driver link."""
    path.mkdir(parents=True, exist_ok=True)
    relative_link(builder.sys / "bus" / "platform" / "devices" / path.name, path)
    drivers = builder.sys / "bus" / "platform" / "drivers" / driver
    drivers.mkdir(parents=True, exist_ok=True)
    relative_link(path / "driver", drivers)
    relative_link(drivers / path.name, path)  # the driver's own link to each device it binds
    return path


def _class_device(builder: SysfsBuilder, cls: str, parent: Path, name: str) -> Path:
    path = parent / cls / name
    path.mkdir(parents=True, exist_ok=True)
    relative_link(path / "device", parent)
    builder.class_link(cls, name, path)
    return path


def dfl_card(
    builder: SysfsBuilder,
    pf: str,
    device: str,
    *,
    vfs: int = 0,
    total_vfs: int = 1,
    afu_id: str | None = None,
    interface_id: str | None = None,
    bitstream_id: str = "0x23000410010309",
    numa_node: int = 0,
    ports: int = 1,
    with_fme: bool = True,
) -> Path:
    """An Intel PAC on the upstream DFL driver; returns the PF's directory."""
    pf_dir = builder.pci(pf, "8086", device, ACCELERATOR_CLASS, "dfl-pci", numa_node)
    regions = builder.sys / "class" / "fpga_region"
    platform = builder.sys / "bus" / "platform" / "devices"
    base = _class_device(builder, "fpga_region", pf_dir, f"region{_next_index(regions, 'region')}")
    first_port = _next_index(platform, "dfl-port.")
    port_dirs = []
    for port in range(ports):
        port_dir = _platform_device(builder, base / f"dfl-port.{first_port + port}", "dfl-port")
        builder.files(port_dir, {"afu_id": sysfs_id(afu_id), "id": str(port)})
        port_dirs.append(port_dir)
    if with_fme:
        fme = _platform_device(builder, base / f"dfl-fme.{_next_index(platform, 'dfl-fme.')}", "dfl-fme")
        builder.files(
            fme,
            {"bitstream_id": bitstream_id, "bitstream_metadata": "0x1192710", "ports_num": str(ports)},
        )
        mgr = _platform_device(
            builder, fme / f"dfl-fme-mgr.{_next_index(platform, 'dfl-fme-mgr.')}", "dfl-fme-mgr"
        )
        managers = builder.sys / "class" / "fpga_manager"
        _class_device(builder, "fpga_manager", mgr, f"fpga{_next_index(managers, 'fpga')}")
        for _ in range(ports):  # dfl-fme-pr.c: one bridge and one PR region per port
            br = _platform_device(
                builder, fme / f"dfl-fme-bridge.{_next_index(platform, 'dfl-fme-bridge.')}", "dfl-fme-bridge"
            )
            bridges = builder.sys / "class" / "fpga_bridge"
            _class_device(builder, "fpga_bridge", br, f"br{_next_index(bridges, 'br')}")
            holder = _platform_device(
                builder, fme / f"dfl-fme-region.{_next_index(platform, 'dfl-fme-region.')}", "dfl-fme-region"
            )
            pr = _class_device(builder, "fpga_region", holder, f"region{_next_index(regions, 'region')}")
            builder.write(pr / "compat_id", sysfs_id(interface_id))
    vf_device = INTEL_VF_DEVICE.get(device, device)
    builder.sriov(pf, total_vfs, vf_device, enabled=vfs, vf_driver="dfl-pci")
    return pf_dir


RELEASED = ".accord-sim-released-ports.json"  # beside the FME: the AFU of each port that is away


def _base_region(pf_dir: Path) -> Path:
    return next(r for r in sorted(pf_dir.glob("fpga_region/region*")) if list(r.glob("dfl-fme.*")))


def release_port(root: Path, pf_dir: Path, number: int) -> str:
    """DFL port release: the port leaves the PF; returns the AFU id the region holds."""
    region = _base_region(pf_dir)
    fme = next(iter(region.glob("dfl-fme.*")))
    port = next((p for p in region.glob("dfl-port.*") if (p / "id").read_text().strip() == str(number)), None)
    if port is None:
        raise ToolFailed(f"fpgaport exited 1: port {number} is not assigned to the PF")
    afu = (port / "afu_id").read_text().strip()
    released = json.loads((fme / RELEASED).read_text()) if (fme / RELEASED).exists() else {}
    released[str(number)] = {"afu_id": afu, "name": port.name}
    (fme / RELEASED).write_text(json.dumps(released))
    for link in (root / "sys" / "bus" / "platform").glob(f"*/*/{port.name}"):
        link.unlink()
    for child in port.iterdir():
        child.unlink()
    port.rmdir()
    return afu


def assign_port(root: Path, pf_dir: Path, number: int) -> None:
    """DFL port assign: the released port is the PF's again, with the AFU its region holds."""
    region = _base_region(pf_dir)
    fme = next(iter(region.glob("dfl-fme.*")))
    released = json.loads((fme / RELEASED).read_text()) if (fme / RELEASED).exists() else {}
    away = released.pop(str(number), None)
    if away is None:
        raise ToolFailed(f"fpgaport exited 1: port {number} is not released")
    builder = SysfsBuilder(root)
    port = _platform_device(builder, region / away["name"], "dfl-port")
    builder.files(port, {"afu_id": away["afu_id"], "id": str(number)})
    (fme / RELEASED).write_text(json.dumps(released))


def released_to_vf(builder: SysfsBuilder, pf: str) -> str:
    """What a VM host (or a tenant) leaves: port 0 released, one VF enabled and bound to dfl-pci
    on this host, showing the port under the VF; returns the VF's address."""
    pf_dir = builder.device_dir(pf)
    afu = release_port(builder.root, pf_dir, 0)
    (vf,) = builder.enable_vfs(pf, 1, "dfl-pci")
    vf_dir = builder.device_dir(vf)
    regions = builder.sys / "class" / "fpga_region"
    holder = _class_device(builder, "fpga_region", vf_dir, f"region{_next_index(regions, 'region')}")
    platform = builder.sys / "bus" / "platform" / "devices"
    port = _platform_device(builder, holder / f"dfl-port.{_next_index(platform, 'dfl-port.')}", "dfl-port")
    builder.files(port, {"afu_id": afu, "id": "0"})
    return vf


def dfl_n3000(builder: SysfsBuilder, pf: str = "0000:5e:00.0", **options: Any) -> Path:
    return dfl_card(builder, pf, "0b30", **options)


def dfl_d5005(builder: SysfsBuilder, pf: str = "0000:3b:00.0", **options: Any) -> Path:
    return dfl_card(builder, pf, "0b2b", **options)


def dfl_pac_a10(builder: SysfsBuilder, pf: str = "0000:af:00.0", **options: Any) -> Path:
    return dfl_card(builder, pf, "09c4", **options)


def opae_pac_a10(
    builder: SysfsBuilder,
    pf: str = "0000:af:00.0",
    *,
    vfs: int = 0,
    afu_id: str | None = None,
    interface_id: str | None = None,
    bitstream_id: str = "0x1230000000000",
    numa_node: int = 0,
) -> Path:
    """A PAC Arria 10 GX on OPAE's out-of-tree `intel-fpga-pci` driver (Cyborg's layout)."""
    pf_dir = builder.pci(pf, "8086", "09c4", ACCELERATOR_CLASS, "intel-fpga-pci", numa_node)
    index = _next_index(builder.sys / "class" / "fpga", "intel-fpga-dev.")
    dev = _class_device(builder, "fpga", pf_dir, f"intel-fpga-dev.{index}")
    fme = dev / f"intel-fpga-fme.{index}"
    builder.files(
        fme, {"pr/interface_id": sysfs_id(interface_id), "bitstream_id": bitstream_id, "ports_num": "1"}
    )
    builder.files(dev / f"intel-fpga-port.{index}", {"afu_id": sysfs_id(afu_id)})
    builder.sriov(pf, 1, "09c5", enabled=vfs, vf_driver="intel-fpga-pci")
    return pf_dir


def unbound_fpga(builder: SysfsBuilder, pf: str = "0000:5e:00.0", device: str = "0b30") -> Path:
    """A PAC whose driver is not loaded: the PCI function only, no regions."""
    return builder.pci(pf, "8086", device, ACCELERATOR_CLASS, None)


def pci_bridge(builder: SysfsBuilder, address: str = "0000:00:01.0") -> Path:
    return builder.pci(address, "8086", "2030", BRIDGE_CLASS, "pcieport")


def alveo(
    builder: SysfsBuilder,
    model: str = "u250",
    mgmt: str = "0000:3b:00.0",
    *,
    xclbin_uuid: str | None = None,
    interface_uuid: str = "15b5a8e7-6a0f-4a1c-9e85-7d2a8f6d6c11",
    vbnv: str | None = None,
    numa_node: int = 0,
    mgmt_driver: str | None = "xclmgmt",
    user_driver: str | None = "xocl",
) -> Path:
    """An Alveo card: management PF (function 0) and user PF (function 1); returns the mgmt dir."""
    mgmt_device, user_device, shell = ALVEO[model]
    user = mgmt[:-1] + "1"
    ifc = sysfs_id(interface_uuid)
    logic = uuid.uuid5(uuid.NAMESPACE_OID, f"{model}-logic").hex
    mgmt_dir = builder.pci(mgmt, "10ee", mgmt_device, ACCELERATOR_CLASS, mgmt_driver, numa_node)
    builder.files(mgmt_dir, {"interface_uuids": ifc, "logic_uuids": logic})
    builder.write(mgmt_dir / "rom.m.15360" / "VBNV", vbnv or shell)
    user_dir = builder.pci(user, "10ee", user_device, ACCELERATOR_CLASS, user_driver, numa_node)
    loaded = str(uuid.UUID(xclbin_uuid)) if xclbin_uuid else str(uuid.UUID(int=0))
    builder.files(
        user_dir, {"xclbinuuid": loaded, "interface_uuids": ifc, "logic_uuids": logic, "user_pf": ""}
    )
    return mgmt_dir


def alveo_u250(builder: SysfsBuilder, mgmt: str = "0000:3b:00.0", **options: Any) -> Path:
    return alveo(builder, "u250", mgmt, **options)

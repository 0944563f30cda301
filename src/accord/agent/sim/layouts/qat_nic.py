"""Hosts with QAT, SR-IOV NICs and the ordinary devices every server has, laid out as Linux does.

Sources: Documentation/ABI/testing/sysfs-bus-pci (sriov_* files, virtfnN/physfn links),
sysfs-driver-qat (`qat/state`, `qat/cfg_services` on 4xxx-generation PFs only),
sysfs-class-net (`<pf>/net/<ifname>` with a `device` link back and its `address`,
`class/net/<ifname>`), sysfs-class-infiniband (`fw_ver`), the raw PCI VPD in `<function>/vpd`
(PCI Local Bus 3.0 §6.4; `accord.agent.sim.vpd`); ids and driver names from the kernel's PCI id tables
(drivers/crypto/intel/qat adf_*_hw_data.h, i40e_devids.h, ice_devids.h, mlx5 main.c, igb,
ahci, nvme, xhci-pci) and class codes from the PCI Code and ID Assignment Specification.
VF routing offsets/strides and VF totals are typical values seen on such cards; the real ones
come from each card's SR-IOV capability (its NVM), so they are parameters. So are MAC addresses
(the vendor's OUI and the PF's address) and serial numbers (Intel prints the port's MAC, NVIDIA
Mellanox `MT<yyww>X<nnnnn>`), which are unique per card.
"""

from __future__ import annotations

from pathlib import Path

from accord.agent.sim.builder import SysfsBuilder, relative_link
from accord.agent.sim.vpd import vpd_image

INTEL = "8086"
MELLANOX = "15b3"
COPROCESSOR = "0b4000"
ETHERNET = "020000"


def qat_c62x(b: SysfsBuilder, pf: str, vfs: int = 0, numa_node: int = 0, driver: str | None = "c6xx") -> Path:
    """C62x PF: no qat/ directory (state and cfg_services are 4xxx-only); VFs from devfn +8."""
    path = b.pci(pf, INTEL, "37c8", COPROCESSOR, driver, numa_node)
    b.sriov(pf, total=16, vf_device="37c9", offset=8, enabled=vfs, vf_driver="c6xxvf")
    return path


def qat_4xxx(
    b: SysfsBuilder,
    pf: str,
    vfs: int = 0,
    services: str = "sym;asym",
    state: str = "up",
    device: str = "4940",
    numa_node: int = 0,
    driver: str | None = "4xxx",
) -> Path:
    """4xxx/401xx/402xx PF (4940/4942/4944, VF id one higher) with qat/state and cfg_services."""
    path = b.pci(pf, INTEL, device, COPROCESSOR, driver, numa_node)
    b.files(path / "qat", {"state": state, "cfg_services": services})
    vf_device = f"{int(device, 16) + 1:04x}"
    b.sriov(pf, total=16, vf_device=vf_device, offset=1, enabled=vfs, vf_driver="4xxxvf")
    return path


INTEL_OUI = "b4:96:91"
MELLANOX_OUI = "b8:3f:d2"


def mac_for(oui: str, pf: str) -> str:
    """A MAC under the vendor's OUI, unique per PF address (bus, device, function)."""
    _, bus, rest = pf.split(":")
    device, function = rest.split(".")
    return f"{oui}:{bus}:{device}:{int(function):02x}"


def _netdev(b: SysfsBuilder, path: Path, ifname: str, mac: str = "00:00:00:00:00:00") -> None:
    """`<pf>/net/<ifname>` (with a `device` link back) and `class/net/<ifname>` pointing at it."""
    net = path / "net" / ifname
    b.files(net, {"operstate": "up", "address": mac})
    relative_link(net / "device", path)
    b.class_link("net", ifname, net)


def _sriov_nic(
    b: SysfsBuilder,
    pf: str,
    vendor: str,
    device: str,
    driver: str | None,
    vf_device: str,
    vf_driver: str,
    total: int,
    offset: int,
    vfs: int,
    ifname: str | None,
    numa_node: int,
    mac: str | None = None,
    vpd: bytes | None = None,
) -> Path:
    path = b.pci(pf, vendor, device, ETHERNET, driver, numa_node)
    if ifname and driver:  # only a bound driver registers a netdev
        _netdev(b, path, ifname, mac or "00:00:00:00:00:00")
    if vpd is not None:
        b.write(path / "vpd", vpd)
    b.sriov(pf, total=total, vf_device=vf_device, offset=offset, enabled=vfs, vf_driver=vf_driver)
    return path


def intel_vpd(product: str, part: str, mac: str, serial: str | None = None) -> bytes:
    """Intel's adapters print the first port's MAC as the serial number."""
    sn = serial or mac.replace(":", "").upper()
    return vpd_image(product, {"PN": part, "EC": part, "SN": sn, "V0": "0"})


def x710(b: SysfsBuilder, pf: str, vfs: int = 0, ifname: str | None = "ens2f0", numa_node: int = 0) -> Path:
    mac = mac_for(INTEL_OUI, pf)
    vpd = intel_vpd("Intel(R) Ethernet Converged Network Adapter X710-DA4", "EX710DA4G1P5", mac)
    return _sriov_nic(b, pf, INTEL, "1572", "i40e", "154c", "iavf", 32, 16, vfs, ifname, numa_node, mac, vpd)


def xxv710(b: SysfsBuilder, pf: str, vfs: int = 0, ifname: str | None = "ens2f0", numa_node: int = 0) -> Path:
    return _sriov_nic(b, pf, INTEL, "158b", "i40e", "154c", "iavf", 64, 16, vfs, ifname, numa_node)


def e810(
    b: SysfsBuilder,
    pf: str,
    vfs: int = 0,
    ifname: str | None = "ens1f0",
    device: str = "159b",
    driver: str | None = "ice",
    numa_node: int = 0,
    serial: str | None = None,
) -> Path:
    """E810 (ice); its VPD's SN is `serial` (default: the port's MAC, as Intel prints it)."""
    mac = mac_for(INTEL_OUI, pf)
    vpd = intel_vpd("Intel(R) Ethernet Network Adapter E810-XXV-2", "K91258-010", mac, serial)
    return _sriov_nic(b, pf, INTEL, device, driver, "1889", "iavf", 128, 8, vfs, ifname, numa_node, mac, vpd)


def connectx6(
    b: SysfsBuilder,
    pf: str,
    vfs: int = 0,
    ifname: str | None = "enp59s0f0np0",
    device: str = "101d",
    fw_ver: str | None = "22.36.1010",
    numa_node: int = 0,
    serial: str = "MT2113X00042",
) -> Path:
    """ConnectX-5/6 (1017/1019/101b/101d; VF id one higher); `fw_ver` as mlx5_ib shows it; a
    BlueField-class card's VPD (`SN` = `serial`) on the PF."""
    vf_device = f"{int(device, 16) + 1:04x}"
    mac = mac_for(MELLANOX_OUI, pf)
    vpd = vpd_image("ConnectX-6 Dx EN adapter card, 100GbE", {"PN": "MCX623106AN-CDAT", "SN": serial})
    path = _sriov_nic(
        b, pf, MELLANOX, device, "mlx5_core", vf_device, "mlx5_core", 8, 2, vfs, ifname, numa_node, mac, vpd
    )
    if fw_ver:
        ib = path / "infiniband" / "mlx5_0"
        b.files(ib, {"fw_ver": fw_ver})
        b.class_link("infiniband", "mlx5_0", ib)
    return path


def root_port(b: SysfsBuilder, address: str = "0000:00:01.0") -> Path:
    return b.pci(address, INTEL, "2030", "060400", "pcieport")


def ahci(b: SysfsBuilder, address: str = "0000:00:17.0") -> Path:
    return b.pci(address, INTEL, "a182", "010601", "ahci")


def nvme(b: SysfsBuilder, address: str = "0000:5e:00.0") -> Path:
    return b.pci(address, INTEL, "0a54", "010802", "nvme")


def xhci(b: SysfsBuilder, address: str = "0000:00:14.0") -> Path:
    return b.pci(address, INTEL, "a1af", "0c0330", "xhci_hcd")


def i350(b: SysfsBuilder, address: str = "0000:02:00.0", ifname: str = "eno1") -> Path:
    """On-board I350 (igb): SR-IOV capable (7 VFs, igbvf) but none enabled, the host's own NIC."""
    path = b.pci(address, INTEL, "1521", ETHERNET, "igb")
    _netdev(b, path, ifname)
    b.sriov(address, total=7, vf_device="1520", offset=128, stride=4, enabled=0)
    return path


def server_plumbing(b: SysfsBuilder) -> None:
    """What any server has besides accelerators; no driver family may report these by default."""
    root_port(b)
    ahci(b)
    nvme(b)
    xhci(b)
    i350(b)


def qat_nic_host(root: Path) -> SysfsBuilder:
    """A QAT + SR-IOV NIC server: one C62x with 4 VFs, one 4xxx without VFs, an E810 with 2 VFs
    on physnet-ready ens1f0, a ConnectX-6 Dx without VFs, and the usual plumbing."""
    b = SysfsBuilder(root)
    server_plumbing(b)
    qat_c62x(b, "0000:3d:00.0", vfs=4)
    qat_4xxx(b, "0000:6b:00.0", vfs=0)
    e810(b, "0000:17:00.0", vfs=2, ifname="ens1f0")
    connectx6(b, "0000:3b:00.0", vfs=0, ifname="enp59s0f0np0")
    return b

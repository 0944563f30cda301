"""SR-IOV NICs: one device per Ethernet PF, one accelerator and one PCI handle per enabled VF.

A PF (class 0200) is reported when it has VFs enabled, or when the operator allow-lists it in
`DriverConfig.passthrough` (so Accord can enable its VFs; until then it offers 0). An on-board
NIC without VFs is the host's own network and is left alone.

Known models get a name and an expected driver (ids from the kernel's PCI id tables:
i40e_devids.h, ice_devids.h, mlx5 main.c): X710 8086:1572 and XXV710 158b on i40e (VF 154c,
iavf); E810 1592/1593/159b on ice (VF 1889, iavf); ConnectX-5 15b3:1017/1019, ConnectX-6
101b/101d on mlx5_core (VFs 1018/101a/101c/101e, mlx5_core). Other Ethernet PFs with VFs
are reported too, with no expected driver.

The physical network comes from DriverConfig.physnets, keyed by PF address or netdev name (the
entry under the PF's `net/` directory). It is added to each handle as "physical_network" and as
a `CUSTOM_<PHYSNET>` trait when the name has any trait-safe characters. Each VF handle also
carries the SmartNIC facts Nova names `card_serial_number`, `pf_mac_address` and `vf_num`, when
sysfs has them (`smartnic`).

Firmware: sysfs has no NIC firmware version in general (ethtool/devlink report it). mlx5 is
the exception when mlx5_ib is loaded: `infiniband/<dev>/fw_ver` (sysfs-class-infiniband).
The family has no FlashesFirmware capability: NVM updates need vendor tools (nvmupdate,
mstflint) that this agent does not drive.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from accord.agent.drivers import common, smartnic
from accord.agent.drivers.base import DriverConfig, OperationNotSupported
from accord.agent.drivers.common import board_info, controlpath, kernel_health
from accord.agent.drivers.generic_pci import allowed, parse_passthrough_list
from accord.agent.hostio import HostIO
from accord.agent.sysfs import PciFunction, pci_info, physical_functions, read_function, read_text
from accord.domain import naming
from accord.schemas.inventory import AttachHandleReport, DeployableReport, DeviceReport, Health

ETHERNET = "0200"


@dataclass(frozen=True)
class NicModel:
    name: str
    pf_drivers: tuple[str, ...]


MODELS = {
    ("8086", "1572"): NicModel("Intel Ethernet X710", ("i40e",)),
    ("8086", "158b"): NicModel("Intel Ethernet XXV710", ("i40e",)),
    ("8086", "1592"): NicModel("Intel Ethernet E810-C QSFP", ("ice",)),
    ("8086", "1593"): NicModel("Intel Ethernet E810-C SFP", ("ice",)),
    ("8086", "159b"): NicModel("Intel Ethernet E810-XXV SFP", ("ice",)),
    ("15b3", "1017"): NicModel("Mellanox ConnectX-5", ("mlx5_core",)),
    ("15b3", "1019"): NicModel("Mellanox ConnectX-5 Ex", ("mlx5_core",)),
    ("15b3", "101b"): NicModel("Mellanox ConnectX-6", ("mlx5_core",)),
    ("15b3", "101d"): NicModel("Mellanox ConnectX-6 Dx", ("mlx5_core",)),
}


def netdev(function: PciFunction) -> str | None:
    """The PF's interface name: the entry under its `net/` directory."""
    try:
        names = sorted(p.name for p in (function.path / "net").iterdir())
    except OSError:
        return None
    return names[0] if names else None


def firmware_version(function: PciFunction) -> str | None:
    for fw in sorted(function.path.glob("infiniband/*/fw_ver")):
        return read_text(fw)
    return None


class SriovNicDriver:
    """Discovers, ProbesHealth, ManagesVfs. NICs are shared through VFs, not mediated devices, and
    are not programmed; NVM updates need the vendor's tool (Intel nvmupdate, NVIDIA mstflint),
    which this agent does not drive, so firmware is not flashed here."""

    name = "sriov_nic"

    def __init__(self, root: Path, io: HostIO, config: DriverConfig | None = None) -> None:
        self.root = root
        self.io = io
        self.config = config or DriverConfig()
        self.matchers = parse_passthrough_list(self.config.passthrough)

    def _claims(self, function: PciFunction) -> bool:
        if function.is_vf or not function.pci_class.startswith(ETHERNET):
            return False
        return bool(function.virtfns) or allowed(self.matchers, function)

    def discover(self) -> list[DeviceReport]:
        return [self._report(f) for f in physical_functions(self.root) if self._claims(f)]

    def physnet(self, function: PciFunction) -> str | None:
        by_address = self.config.physnets.get(function.address)
        if by_address:
            return by_address
        ifname = netdev(function)
        return self.config.physnets.get(ifname) if ifname else None

    def _health(self, function: PciFunction) -> Health:
        model = MODELS.get((function.vendor, function.device))
        return kernel_health(function, model.pf_drivers if model else ())

    def _vf_handle(
        self, pf: PciFunction, vf: PciFunction, ifname: str | None, extra: dict[str, str]
    ) -> AttachHandleReport:
        info = {**pci_info(vf.address), **extra}
        facts = smartnic.vf_facts(pf, vf, ifname)
        return AttachHandleReport(attach_type="PCI", attach_info=smartnic.with_facts(info, facts))

    def _report(self, function: PciFunction) -> DeviceReport:
        vfs = common.enabled_vfs(self.root, function)
        physnet = self.physnet(function)
        extra = {"physical_network": physnet} if physnet else {}
        ifname = netdev(function)
        traits = [
            naming.custom_trait("VF"),
            naming.vendor_trait("NIC", function.vendor),
            naming.product_trait("NIC", function.device),
        ]
        physnet_trait = naming.physnet_trait(physnet) if physnet else None
        if physnet_trait:
            traits.append(physnet_trait)
        deployable = DeployableReport(
            name=function.address,
            num_accelerators=len(vfs),
            resource_class=naming.RC_NIC,
            traits=traits,
            driver_name=self.name,
            attach_handles=[self._vf_handle(function, vf, ifname, extra) for vf in vfs],
        )
        info = board_info(function)
        if ifname:
            info["netdev"] = ifname
        if physnet:
            info["physical_network"] = physnet
        info["sriov_numvfs"] = str(len(vfs))
        info["sriov_totalvfs"] = str(function.sriov_totalvfs or 0)
        model = MODELS.get((function.vendor, function.device))
        return DeviceReport(
            type="NIC",
            vendor=function.vendor,
            product=function.device,
            model=model.name if model else f"Ethernet {function.vendor}:{function.device}",
            pci_address=function.address,
            numa_node=function.numa_node,
            driver=function.driver,
            firmware_version=firmware_version(function),
            health=self._health(function),
            controlpath_id=controlpath(function),
            vendor_board_info=info,
            deployables=[deployable],
        )

    def _pf(self, pci_address: str) -> PciFunction:
        function = read_function(self.root, pci_address)
        if not function.path.exists() or not self._claims(function):
            raise ValueError(f"{pci_address} is not an SR-IOV NIC this agent manages")
        return function

    def health(self, pci_address: str) -> Health:
        return self._health(self._pf(pci_address))

    def set_num_vfs(self, pci_address: str, count: int) -> None:
        function = self._pf(pci_address)
        if function.driver is None:
            # The kernel only enables VFs through the PF driver's sriov_configure.
            raise OperationNotSupported(f"{pci_address} has no kernel driver bound; cannot enable VFs")
        common.set_num_vfs(self.io, self.root, pci_address, count)

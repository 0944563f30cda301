"""Intel QuickAssist (QAT): one device per PF, one accelerator and one PCI handle per enabled VF.

Ids and driver names are the in-tree kernel's (drivers/crypto/intel/qat/, adf_*_hw_data.h and
each family's adf_drv.c): C62x PF 8086:37c8 bound to `c6xx`, VF 37c9 bound to `c6xxvf`;
4xxx PFs 4940/4942/4944 (4xxx, 401xx, 402xx) bound to `4xxx` (module qat_4xxx), VFs
4941/4943/4945. The in-tree kernel has no 4xxx VF driver (VFs go to vfio-pci); Intel's
out-of-tree package binds them to `4xxxvf`. A VF's driver does not matter here: the VF is
handed to a guest through vfio either way.

Documentation/ABI/testing/sysfs-driver-qat: `qat/state` (up|down) and `qat/cfg_services`
("sym;asym", "dc", ...) exist on 4xxx-generation PFs only; C62x has neither, so its health is
the kernel driver binding alone and it gets no service traits.

A PF with no VFs enabled is reported with num_accelerators 0 and `ok` health: nothing is wrong
with the device, it offers nothing until VFs are enabled (set_num_vfs), and vendor_board_info
says how many VFs are enabled out of how many.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from accord.agent.drivers import common
from accord.agent.drivers.base import DriverConfig, OperationNotSupported
from accord.agent.drivers.common import board_info, controlpath, kernel_health, pci_handle
from accord.agent.hostio import HostIO
from accord.agent.sysfs import PciFunction, physical_functions, read_function, read_text
from accord.domain import naming
from accord.schemas.inventory import DeployableReport, DeviceReport, Health

INTEL = "8086"


@dataclass(frozen=True)
class QatModel:
    family: str  # the kernel's device name, used in traits: CUSTOM_QAT_<FAMILY>
    pf_drivers: tuple[str, ...]
    vf_device: str


MODELS = {
    "37c8": QatModel("c62x", ("c6xx",), "37c9"),
    "4940": QatModel("4xxx", ("4xxx", "qat_4xxx"), "4941"),
    "4942": QatModel("401xx", ("4xxx", "qat_4xxx"), "4943"),
    "4944": QatModel("402xx", ("4xxx", "qat_4xxx"), "4945"),
}


def services(function: PciFunction) -> list[str]:
    """The PF's configured services from qat/cfg_services ("sym;asym" -> ["sym", "asym"])."""
    text = read_text(function.path / "qat" / "cfg_services") or ""
    return [s for s in (part.strip() for part in text.split(";")) if s]


def qat_health(function: PciFunction, model: QatModel) -> Health:
    health = kernel_health(function, model.pf_drivers)
    if health.state != "ok":
        return health
    state = read_text(function.path / "qat" / "state")
    if state == "down":
        return Health(
            state="unusable",
            reasons=[f"{function.address}: qat/state is down (device stopped; write 'up' to start it)"],
        )
    return health


class QatDriver:
    """Discovers, ProbesHealth, ManagesVfs. QAT is shared through VFs, not mediated devices; it is
    not programmable, and the kernel driver loads its firmware from /lib/firmware."""

    name = "intel_qat"

    def __init__(self, root: Path, io: HostIO, config: DriverConfig | None = None) -> None:
        self.root = root
        self.io = io
        self.config = config or DriverConfig()

    @staticmethod
    def _model(function: PciFunction) -> QatModel | None:
        if function.vendor != INTEL or function.is_vf:
            return None
        return MODELS.get(function.device)

    def discover(self) -> list[DeviceReport]:
        reports = []
        for function in physical_functions(self.root):
            model = self._model(function)
            if model is not None:
                reports.append(self._report(function, model))
        return reports

    def _report(self, function: PciFunction, model: QatModel) -> DeviceReport:
        vfs = common.enabled_vfs(self.root, function)
        configured = services(function)
        traits = [naming.custom_trait("QAT"), naming.custom_trait("QAT", model.family)]
        traits += [naming.custom_trait("QAT", s) for s in configured]
        deployable = DeployableReport(
            name=function.address,
            num_accelerators=len(vfs),
            resource_class=naming.RC_QAT,
            traits=traits,
            driver_name=self.name,
            attach_handles=[pci_handle(vf.address) for vf in vfs],
        )
        info = board_info(function)
        info["sriov_numvfs"] = str(len(vfs))
        info["sriov_totalvfs"] = str(function.sriov_totalvfs or 0)
        if configured:
            info["cfg_services"] = ";".join(configured)
        state = read_text(function.path / "qat" / "state")
        if state:
            info["state"] = state
        return DeviceReport(
            type="QAT",
            vendor=function.vendor,
            product=function.device,
            model=f"Intel QAT {model.family.upper()}",
            pci_address=function.address,
            numa_node=function.numa_node,
            driver=function.driver,
            # The kernel loads QAT firmware from /lib/firmware and shows no version in sysfs.
            firmware_version=None,
            health=qat_health(function, model),
            controlpath_id=controlpath(function),
            vendor_board_info=info,
            deployables=[deployable],
        )

    def _pf(self, pci_address: str) -> tuple[PciFunction, QatModel]:
        function = read_function(self.root, pci_address)
        model = self._model(function) if function.path.exists() else None
        if model is None:
            raise ValueError(f"{pci_address} is not an Intel QAT physical function on this host")
        return function, model

    def health(self, pci_address: str) -> Health:
        return qat_health(*self._pf(pci_address))

    def set_num_vfs(self, pci_address: str, count: int) -> None:
        function, _ = self._pf(pci_address)
        if function.driver is None:
            # The kernel only enables VFs through the PF driver's sriov_configure.
            raise OperationNotSupported(f"{pci_address} has no kernel driver bound; cannot enable VFs")
        common.set_num_vfs(self.io, self.root, pci_address, count)

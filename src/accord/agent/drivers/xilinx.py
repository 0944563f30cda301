"""Xilinx Alveo cards under XRT: a management PF (function 0, `xclmgmt`) and a user PF (function 1,
`xocl`) per card (XRT src/runtime_src/core/pcie/driver/linux/include/devices.h).

The device is reported at the management PF, which stays with the host (it flashes the shell);
the user PF is the one attach handle, since that is what a VM's XRT talks to. Cyborg reports
both PFs as handles of one accelerator; Accord does not hand out the management PF.
Facts read (XRT xocl_sysfs.c, mgmt_sysfs.c, feature_rom.c): user PF `xclbinuuid` (the loaded
xclbin, all zeros when none), mgmt PF `interface_uuids` (the shell's PR interface, first line),
and the feature ROM's `VBNV` (the shell flashed on the card, i.e. its firmware).
"""

from __future__ import annotations

from pathlib import Path

from accord.agent.drivers.base import DriverConfig
from accord.agent.drivers.common import board_info, controlpath, kernel_health, pci_handle
from accord.agent.drivers.intel_fpga import uuid_from_sysfs
from accord.agent.hostio import HostIO
from accord.agent.sysfs import PCI_DEVICES, PciFunction, physical_functions, read_function, read_text
from accord.domain import naming
from accord.schemas.inventory import DeployableReport, DeviceReport, Health

VENDOR = "10ee"
# management PF device id -> (user PF device id, model); XRT devices.h
CARDS = {
    "5000": ("5001", "Alveo U200"),
    "5004": ("5005", "Alveo U250"),
    "500c": ("500d", "Alveo U280"),
    "5020": ("5021", "Alveo U50"),
}
MGMT_DRIVER = "xclmgmt"
USER_DRIVER = "xocl"


def user_address(mgmt: str) -> str:
    return mgmt[:-1] + "1"


def loaded_xclbin(user: PciFunction) -> str | None:
    return uuid_from_sysfs(read_text(user.path / "xclbinuuid"))


def shell_interface(mgmt: PciFunction, user: PciFunction | None) -> str | None:
    for function in (mgmt, user):
        text = read_text(function.path / "interface_uuids") if function else None
        if text:
            return uuid_from_sysfs(text.split()[0])
    return None


def shell_vbnv(mgmt: PciFunction) -> str | None:
    roms = sorted(mgmt.path.glob("rom.*"))
    return read_text(roms[0] / "VBNV") if roms else None


def is_alveo_mgmt(function: PciFunction) -> bool:
    return function.vendor == VENDOR and function.device in CARDS and not function.is_vf


def user_pf(root: Path, mgmt: PciFunction) -> PciFunction | None:
    address = user_address(mgmt.address)
    if not (root / PCI_DEVICES / address).exists():
        return None
    user = read_function(root, address)
    return user if user.vendor == VENDOR and user.device == CARDS[mgmt.device][0] else None


def card_health(mgmt: PciFunction, user: PciFunction | None) -> Health:
    health = kernel_health(mgmt, (MGMT_DRIVER,))
    if health.state != "ok":
        return health
    if user is None:
        return Health(
            state="unusable", reasons=[f"{mgmt.address}: the user PF {user_address(mgmt.address)} is missing"]
        )
    return kernel_health(user, (USER_DRIVER,))


class XilinxDriver:
    """Discovers, ProbesHealth, Programs (xbutil), FlashesFirmware (xbmgmt). No mediated devices;
    VFs are not modelled (the user PF is the one handle), so VF counts are not managed here."""

    name = "xilinx"

    def __init__(self, root: Path, io: HostIO, config: DriverConfig | None = None) -> None:
        self.root = root
        self.io = io
        self.config = config or DriverConfig()

    def discover(self) -> list[DeviceReport]:
        return [self._report(f) for f in physical_functions(self.root) if is_alveo_mgmt(f)]

    def _report(self, mgmt: PciFunction) -> DeviceReport:
        user = user_pf(self.root, mgmt)
        health = card_health(mgmt, user)
        function = loaded_xclbin(user) if user else None
        interface = shell_interface(mgmt, user)
        traits = [naming.fpga_vendor_trait(self.name), naming.product_trait("FPGA", mgmt.device)]
        if function:
            traits += naming.function_traits(self.name, function)
        handles = [pci_handle(user.address)] if user and health.state != "unusable" else []
        info = board_info(mgmt)
        if user:
            info["user_pf"] = user.address
        vbnv = shell_vbnv(mgmt)
        return DeviceReport(
            type="FPGA",
            vendor=mgmt.vendor,
            product=mgmt.device,
            model=CARDS[mgmt.device][1],
            pci_address=mgmt.address,
            numa_node=mgmt.numa_node,
            driver=mgmt.driver,
            firmware_version=vbnv,
            health=health,
            controlpath_id=controlpath(mgmt),
            vendor_board_info=info,
            deployables=[
                DeployableReport(
                    name=mgmt.address,
                    num_accelerators=len(handles),
                    resource_class=naming.RC_FPGA,
                    traits=traits,
                    driver_name=self.name,
                    function_id=function,
                    interface_id=interface,
                    attach_handles=handles,
                )
            ],
        )

    def health(self, pci_address: str) -> Health:
        mgmt = read_function(self.root, pci_address)
        return card_health(mgmt, user_pf(self.root, mgmt))

    def _card(self, pci_address: str) -> tuple[PciFunction, PciFunction]:
        mgmt = read_function(self.root, pci_address)
        user = user_pf(self.root, mgmt)
        health = card_health(mgmt, user)
        if user is None or health.state == "unusable":
            raise RuntimeError(f"{pci_address} cannot be changed: {'; '.join(health.reasons)}")
        return mgmt, user

    def program(self, pci_address: str, region: str, image_path: Path) -> str:
        """`xbutil program --device <user bdf> --user <xclbin>` (XRT 2021.1+ xbutil)."""
        _, user = self._card(pci_address)
        self.io.run(["xbutil", "program", "--device", user.address, "--user", str(image_path)])
        loaded = loaded_xclbin(read_function(self.root, user.address))
        if loaded is None:
            raise RuntimeError(f"{user.address}: xbutil finished but no xclbin uuid is shown")
        return loaded

    def update_firmware(self, pci_address: str, image_path: Path) -> str:
        """`xbmgmt program --device <mgmt bdf> --base --image <file>` flashes the shell."""
        mgmt, _ = self._card(pci_address)
        self.io.run(["xbmgmt", "program", "--device", mgmt.address, "--base", "--image", str(image_path)])
        version = shell_vbnv(read_function(self.root, mgmt.address))
        if not version:
            raise RuntimeError(f"{mgmt.address}: no VBNV to read back after flashing")
        return version

"""Emulations of the FPGA vendor tools, registered with the simulated kernel on import.

- `fpgaconf [--segment S] --bus B --device D --function F <gbs>` (OPAE): refuses an image whose
  PR interface id differs from the FME's, as the real tool does, else the port shows the AFU id.
- `fpgasupdate <image> <bdf>` (OPAE secure update): the FME's `bitstream_id` shows the new version.
- `fpgaport assign|release <bdf> <port>` (OPAE; DFL's port assign/release ioctls): release
  takes the port away from the PF (SR-IOV must be off, as the kernel wants), assign gives it back;
  the AFU loaded in the region survives both (kept beside the FME while the port is away).
- `xbutil program --device <user bdf> --user <xclbin>` (XRT): refuses an xclbin built for another
  shell interface, else the user PF's `xclbinuuid` shows the xclbin's uuid.
- `xbmgmt program --device <mgmt bdf> --base --image <file>` (XRT): flashes the shell; the
  feature ROM's `VBNV` shows the new version.
Images are read with Accord's own header parsers, so a malformed image fails like it would.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from accord.agent.drivers.intel_fpga import read_card
from accord.agent.drivers.xilinx import shell_interface, user_address
from accord.agent.hostio import ToolFailed
from accord.agent.sim.firmware import BadFirmwareImage, read_sim_firmware
from accord.agent.sim.kernel import register_tool
from accord.agent.sim.layouts.fpga import assign_port, release_port
from accord.agent.sysfs import PCI_DEVICES, pci_functions, read_function
from accord.images.formats.gbs import parse_gbs
from accord.images.formats.model import ImageFormatError
from accord.images.formats.xclbin import parse_xclbin

_SHORT = {
    "-S": "--segment",
    "-B": "--bus",
    "-D": "--device",
    "-F": "--function",
    "-d": "--device",
    "-u": "--user",
}


def _options(tool: str, argv: list[str], flags: tuple[str, ...] = ()) -> tuple[dict[str, str], list[str]]:
    """`--name value` pairs (short forms too) and the positional arguments."""
    options: dict[str, str] = {}
    positional: list[str] = []
    args = iter(argv[1:])
    for arg in args:
        name = _SHORT.get(arg, arg)
        if name in flags:
            options[name] = ""
        elif name.startswith("--"):
            value = next(args, None)
            if value is None:
                raise ToolFailed(f"{tool}: option {name} needs a value")
            options[name] = value
        else:
            positional.append(arg)
    return options, positional


def _device_dir(root: Path, tool: str, address: str) -> Path:
    path = root / PCI_DEVICES / address
    if not path.exists():
        raise ToolFailed(f"{tool}: no device at {address}")
    return path


def fpgaconf(root: Path, argv: list[str]) -> str:
    options, files = _options("fpgaconf", argv)
    if len(files) != 1:
        raise ToolFailed("fpgaconf: exactly one GBS file is required")
    wanted = {
        k: int(options[f"--{k}"], 16) for k in ("segment", "bus", "device", "function") if f"--{k}" in options
    }
    cards = []
    for function in pci_functions(root):
        domain, bus, rest = function.address.split(":")
        device, fn = rest.split(".")
        have = {
            "segment": int(domain, 16),
            "bus": int(bus, 16),
            "device": int(device, 16),
            "function": int(fn, 16),
        }
        card = read_card(function.path)
        if card and card.fme and all(have[k] == v for k, v in wanted.items()):
            cards.append(card)
    if len(cards) != 1:
        raise ToolFailed(f"fpgaconf exited 1: {len(cards)} FPGA devices match; select exactly one")
    try:
        with open(files[0], "rb") as handle:
            image = parse_gbs(handle)
    except (OSError, ImageFormatError) as exc:
        raise ToolFailed(f"fpgaconf exited 1: {exc}") from exc
    card = cards[0]
    if image.interface_id != card.interface_id:
        raise ToolFailed(
            f"fpgaconf exited 1: Interface id {image.interface_id} of the GBS does not match "
            f"the FPGA's {card.interface_id}"
        )
    if not card.ports or image.function_id is None:
        raise ToolFailed("fpgaconf exited 1: no port to configure")
    (card.ports[0].path / "afu_id").write_text(uuid.UUID(image.function_id).hex + "\n")
    return f"Programmed {Path(files[0]).name}\n"


def fpgasupdate(root: Path, argv: list[str]) -> str:
    if len(argv) != 3:
        raise ToolFailed("fpgasupdate: usage: fpgasupdate <file> <pci address>")
    card = read_card(_device_dir(root, "fpgasupdate", argv[2]))
    if card is None or card.fme is None:
        raise ToolFailed(f"fpgasupdate exited 1: {argv[2]} is not a secure-update capable FPGA")
    try:
        version, _ = read_sim_firmware(Path(argv[1]))
    except (OSError, BadFirmwareImage) as exc:
        raise ToolFailed(f"fpgasupdate exited 1: {exc}") from exc
    (card.fme / "bitstream_id").write_text(version + "\n")
    return f"Total time: 0:00:01\nSecure update OK ({version})\n"


def fpgaport(root: Path, argv: list[str]) -> str:
    if len(argv) != 4 or argv[1] not in ("assign", "release") or not argv[3].isdigit():
        raise ToolFailed("fpgaport: usage: fpgaport {assign,release} <pci address> <port>")
    action, address, number = argv[1], argv[2], int(argv[3])
    pf = _device_dir(root, "fpgaport", address)
    card = read_card(pf)
    if card is None or card.fme is None or card.layout != "dfl":
        raise ToolFailed(f"fpgaport exited 1: {address} has no DFL FME")
    if (pf / "sriov_numvfs").exists() and (pf / "sriov_numvfs").read_text().strip() not in ("", "0"):
        raise ToolFailed(f"fpgaport exited 1: {address}: disable SR-IOV first (Device or resource busy)")
    if action == "release":
        release_port(root, pf, number)
    else:
        assign_port(root, pf, number)
    return f"port {number} {action}d\n"


def xbutil(root: Path, argv: list[str]) -> str:
    options, rest = _options("xbutil", argv)
    if rest != ["program"] or "--device" not in options or "--user" not in options:
        raise ToolFailed("xbutil: only `program --device <user bdf> --user <xclbin>` is emulated")
    user = read_function(root, options["--device"])
    _device_dir(root, "xbutil", user.address)
    mgmt = read_function(root, user.address[:-1] + "0")
    try:
        with open(options["--user"], "rb") as handle:
            image = parse_xclbin(handle)
    except (OSError, ImageFormatError) as exc:
        raise ToolFailed(f"xbutil exited 1: {exc}") from exc
    shell = shell_interface(mgmt, user)
    if image.interface_ids and shell not in image.interface_ids:
        raise ToolFailed(
            f"xbutil exited 1: xclbin built for interface {image.interface_id}, the shell has {shell}"
        )
    (user.path / "xclbinuuid").write_text(f"{image.function_id}\n")
    return "INFO: xbutil program succeeded.\n"


def xbmgmt(root: Path, argv: list[str]) -> str:
    options, rest = _options("xbmgmt", argv, flags=("--base",))
    if (
        rest != ["program"]
        or "--base" not in options
        or "--device" not in options
        or "--image" not in options
    ):
        raise ToolFailed("xbmgmt: only `program --device <mgmt bdf> --base --image <file>` is emulated")
    mgmt = _device_dir(root, "xbmgmt", options["--device"])
    if not (root / PCI_DEVICES / user_address(options["--device"])).exists():
        raise ToolFailed(f"xbmgmt exited 1: {options['--device']} is not an Alveo management PF")
    try:
        version, _ = read_sim_firmware(Path(options["--image"]))
    except (OSError, BadFirmwareImage) as exc:
        raise ToolFailed(f"xbmgmt exited 1: {exc}") from exc
    roms = sorted(mgmt.glob("rom.*"))
    if not roms:
        raise ToolFailed(f"xbmgmt exited 1: {options['--device']} has no feature ROM")
    (roms[0] / "VBNV").write_text(version + "\n")
    return "Shell is updated successfully. Cold reboot machine to load new shell.\n"


register_tool("fpgaconf", fpgaconf)
register_tool("fpgasupdate", fpgasupdate)
register_tool("fpgaport", fpgaport)
register_tool("xbutil", xbutil)
register_tool("xbmgmt", xbmgmt)

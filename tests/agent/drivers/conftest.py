"""Shared pieces of the driver tests: a builder and a simulated kernel on the test's own tree."""

from __future__ import annotations

from pathlib import Path

import pytest

import accord.agent.sim.tools_fpga  # noqa: F401  (registers the simulated vendor tools)
from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.kernel import SimulatedKernel
from accord.schemas.inventory import AttachHandleReport, DeviceReport


class RecordingKernel(SimulatedKernel):
    """The simulated kernel, remembering which attributes the driver wrote and tools it ran."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.commands: list[list[str]] = []
        self.writes: list[tuple[str, str]] = []

    def write(self, path: Path, value: str) -> None:
        self.writes.append((path.name, value))
        super().write(path, value)

    def run(self, argv: list[str], timeout_s: float = 600.0) -> str:
        self.commands.append(list(argv))
        return super().run(argv, timeout_s)


@pytest.fixture
def builder(tmp_path: Path) -> SysfsBuilder:
    return SysfsBuilder(tmp_path)


@pytest.fixture
def kernel(tmp_path: Path) -> RecordingKernel:
    return RecordingKernel(tmp_path)


def pci(address: str) -> AttachHandleReport:
    domain, bus, rest = address.split(":")
    device, function = rest.split(".")
    return AttachHandleReport(
        attach_type="PCI", attach_info={"domain": domain, "bus": bus, "device": device, "function": function}
    )


def only(devices: list[DeviceReport]) -> DeviceReport:
    assert len(devices) == 1, devices
    return devices[0]

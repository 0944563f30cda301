"""Whether a firmware image's own target fits a device: the pure check every flash path runs."""

from __future__ import annotations

import pytest

from accord.domain.errors import InvalidInput
from accord.domain.firmware import DeviceIdentity, FirmwareTarget, check_target, target_mismatch

N3000 = DeviceIdentity("FPGA", "8086", "0b30", "Intel FPGA PAC N3000")
U250 = DeviceIdentity("FPGA", "10ee", "5004", "Alveo U250")
T4 = DeviceIdentity("GPU", "10de", "1eb8", "Tesla T4")


@pytest.mark.parametrize(
    ("target", "device"),
    [
        (FirmwareTarget("accord-sim", model="Intel FPGA PAC N3000"), N3000),
        (FirmwareTarget("accord-sim", model="intel fpga pac n3000"), N3000),
        (FirmwareTarget("accord-sim", model="PAC N3000"), N3000),
        (FirmwareTarget("accord-sim", model="8086:0b30"), N3000),
        (FirmwareTarget("accord-sim"), T4),  # a simulated image with no target fits anything
        (FirmwareTarget("xsabin", "10ee", "FPGA", "u250"), U250),
        (FirmwareTarget("intel-secure-update", "8086", "FPGA"), N3000),
        (None, T4),  # recorded before firmware was checked: nothing to compare
    ],
)
def test_fits(target: FirmwareTarget | None, device: DeviceIdentity) -> None:
    assert target_mismatch(target, device) is None


@pytest.mark.parametrize(
    ("target", "device", "reason"),
    [
        (FirmwareTarget("accord-sim", model="Alveo U250"), N3000, "for 'Alveo U250'"),
        (FirmwareTarget("accord-sim", model="N30"), N3000, "for 'N30'"),  # a word, not a prefix
        (FirmwareTarget("xsabin", "10ee", "FPGA", "u280"), U250, "for 'u280'"),
        (FirmwareTarget("xsabin", "10ee", "FPGA", "u250"), N3000, "PCI vendor 10ee"),
        (FirmwareTarget("intel-secure-update", "8086", "FPGA"), U250, "PCI vendor 8086"),
        (FirmwareTarget("accord-sim", device_type="FPGA"), T4, "for a FPGA"),
    ],
)
def test_misfits_name_why(target: FirmwareTarget, device: DeviceIdentity, reason: str) -> None:
    found = target_mismatch(target, device)
    assert found is not None and reason in found
    with pytest.raises(InvalidInput, match="cannot be flashed onto device d1"):
        check_target("d1", "i1", target, device)


def test_targets_come_from_recorded_facts() -> None:
    facts = {"firmware_format": "xsabin", "target": "u250", "target_vendor": "10ee", "target_type": "FPGA"}
    assert FirmwareTarget.from_facts(facts) == FirmwareTarget("xsabin", "10ee", "FPGA", "u250")
    assert FirmwareTarget.from_facts({}) is None
    assert FirmwareTarget.from_facts({"format": "gbs"}) is None

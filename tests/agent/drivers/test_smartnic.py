"""SmartNIC facts from sysfs: the VPD serial number, the PF's MAC and the VF number, on trees
laid out like the kernel's, including the broken and missing cases a real host has."""

from __future__ import annotations

import json
from pathlib import Path

from accord.agent.drivers import smartnic
from accord.agent.drivers.base import DriverConfig
from accord.agent.drivers.sriov_nic import SriovNicDriver
from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.layouts.qat_nic import connectx6, e810, x710
from accord.agent.sim.vpd import vpd_image
from accord.agent.sysfs import read_function
from tests.agent.drivers.conftest import RecordingKernel

E810 = "0000:17:00.0"
CX6 = "0000:3b:00.0"
GOOD = vpd_image("Adapter", {"PN": "P1", "SN": "SN-12345", "V0": "x"})


def handles(root: Path, physnets: dict[str, str] | None = None) -> list[dict[str, str]]:
    driver = SriovNicDriver(root, RecordingKernel(root), DriverConfig(physnets=physnets or {}))
    return [h.attach_info for d in driver.discover() for h in d.deployables[0].attach_handles]


def test_vpd_serial_number_and_read_only_fields() -> None:
    assert smartnic.vpd_serial_number(GOOD) == "SN-12345"
    assert smartnic.vpd_read_only_fields(GOOD) == {"PN": b"P1", "SN": b"SN-12345", "V0": b"x"}


def test_serial_is_trimmed_of_padding() -> None:
    assert smartnic.vpd_serial_number(vpd_image("A", {"SN": "MT2113X00042   "})) == "MT2113X00042"
    assert smartnic.vpd_serial_number(vpd_image("A", {"SN": "   "})) is None


def test_corrupt_vpd_gives_no_serial() -> None:
    wrong_checksum = bytearray(GOOD)
    wrong_checksum[GOOD.index(b"SN-12345")] ^= 0x01  # one flipped bit in the serial itself
    assert smartnic.vpd_serial_number(bytes(wrong_checksum)) is None
    assert smartnic.vpd_read_only_fields(GOOD[:20]) is None  # truncated inside a resource
    assert smartnic.vpd_serial_number(b"\xff" * 64) is None  # an erased EEPROM
    assert smartnic.vpd_serial_number(b"") is None
    assert smartnic.vpd_serial_number(b"\x00" * 16) is None  # small tags of length 0, no end tag
    bad_keyword = GOOD.replace(b"PN\x02", b"p!\x02")
    assert smartnic.vpd_read_only_fields(bad_keyword) is None
    overlong = GOOD.replace(b"SN\x08", b"SN\xff")  # a keyword running past its section
    assert smartnic.vpd_read_only_fields(overlong) is None


def test_vpd_without_read_only_section_or_serial() -> None:
    identifier_only = bytes([0x82, 3, 0]) + b"NIC" + bytes([0x78])
    assert smartnic.vpd_read_only_fields(identifier_only) == {}
    assert smartnic.vpd_serial_number(identifier_only) is None
    assert smartnic.vpd_serial_number(vpd_image("A", {"PN": "P1"})) is None


def test_e810_vfs_carry_serial_mac_and_vf_number(tmp_path: Path) -> None:
    e810(SysfsBuilder(tmp_path), E810, vfs=3, ifname="ens1f0")
    infos = handles(tmp_path, {E810: "physnet1"})
    assert [i["vf_num"] for i in infos] == ["0", "1", "2"]
    assert {i["pf_mac_address"] for i in infos} == {"b4:96:91:17:00:00"}
    assert {i["card_serial_number"] for i in infos} == {"B49691170000"}
    assert {i["physical_network"] for i in infos} == {"physnet1"}


def test_vf_with_its_own_vpd_wins_over_the_pf(tmp_path: Path) -> None:
    b = SysfsBuilder(tmp_path)
    connectx6(b, CX6, vfs=2, serial="MT2113X00042")
    vf = read_function(tmp_path, CX6).virtfns[1]
    b.write(b.device_dir(vf) / "vpd", vpd_image("ConnectX-6 Dx VF", {"SN": "MT2113X00042-VF1"}))
    assert [i["card_serial_number"] for i in handles(tmp_path)] == ["MT2113X00042", "MT2113X00042-VF1"]
    assert [i["pf_mac_address"] for i in handles(tmp_path)] == ["b8:3f:d2:3b:00:00"] * 2


def test_missing_or_unreadable_facts_are_left_out(tmp_path: Path) -> None:
    b = SysfsBuilder(tmp_path)
    e810(b, E810, vfs=1, ifname="ens1f0")
    pf = b.device_dir(E810)
    (pf / "vpd").unlink()
    (pf / "net" / "ens1f0" / "address").write_text("not a mac\n")
    # Without a MAC the VF number is left out too: Nova uses them only as a pair.
    assert handles(tmp_path) == [{"domain": "0000", "bus": "17", "device": "01", "function": "0"}]

    (pf / "net" / "ens1f0" / "address").write_text("00:00:00:00:00:00\n")
    (pf / "vpd").mkdir()  # reading fails (EISDIR), as a device refusing VPD reads gives EIO
    assert "pf_mac_address" not in handles(tmp_path)[0]
    assert "card_serial_number" not in handles(tmp_path)[0]


def test_pf_without_netdev_still_gives_the_serial(tmp_path: Path) -> None:
    x710(SysfsBuilder(tmp_path), "0000:18:00.0", vfs=1, ifname=None)
    [info] = handles(tmp_path)
    assert info["card_serial_number"] == "B49691180000"
    assert "pf_mac_address" not in info and "vf_num" not in info


def test_vf_number_only_for_a_vf_of_this_pf(tmp_path: Path) -> None:
    b = SysfsBuilder(tmp_path)
    e810(b, E810, vfs=2, ifname="ens1f0")
    pf = read_function(tmp_path, E810)
    assert smartnic.vf_number(pf, "0000:17:01.1") == 1
    assert smartnic.vf_number(pf, "0000:17:09.0") is None


def test_facts_that_would_overflow_attach_info_are_dropped() -> None:
    info = {"domain": "0000", "bus": "17", "device": "01", "function": "0", "physical_network": "p" * 64}
    facts = {"card_serial_number": "S" * 80, "pf_mac_address": "b4:96:91:17:00:00", "vf_num": "0"}
    merged = smartnic.with_facts(info, facts)
    assert "card_serial_number" not in merged
    assert merged["vf_num"] == "0"
    assert len(json.dumps(merged, sort_keys=True, separators=(", ", ": "))) <= 255
    huge = {**info, "physical_network": "p" * 200}
    assert smartnic.with_facts(huge, facts) == huge
    assert smartnic.with_facts(info, {"vf_num": "3"}) == {**info, "vf_num": "3"}

"""SmartNIC facts of an SR-IOV VF, for off-path (remote-managed) Neutron ports: the card's serial
number, the PF's MAC address and the VF's number on its PF.

These are what Nova puts in a VF port's binding profile (`card_serial_number`, `pf_mac_address`,
`vf_num`) so that the SmartNIC's own control plane (its DPU) can find the VF to plumb; Accord adds
them, under the same names, to the attach handle info an ARQ shows. Where each comes from:

- the serial number: the `SN` keyword of the read-only section of the PCI Vital Product Data,
  which the kernel exposes raw in the function's `vpd` file (PCI Local Bus 3.0 §6.4 and
  appendix I: large resources 0x82 identifier string, 0x90 VPD-R, 0x91 VPD-W, small end tag
  0x78; keywords are two ASCII characters, a length byte and the data; `RV` carries the checksum
  byte that makes every byte from the start of the VPD through it sum to zero). The VF's own
  VPD is used when it has one, else its PF's, as Nova does through libvirt.
- the PF's MAC address: the `address` file of the PF's netdev (sysfs-class-net).
- the VF number: N of the PF's `virtfnN` link that points at the VF (sysfs-bus-pci).

Nova's rule is kept: the PF MAC and the VF number are given together or not at all. Every
reader returns None for anything missing, unreadable or malformed; a corrupt VPD (bad lengths,
a wrong checksum) gives no serial number rather than a wrong one.
"""

from __future__ import annotations

import json
import os
import re

from accord.agent.sysfs import PciFunction, read_text

# The VPD address register has 15 bits: no VPD is larger.
VPD_MAX_BYTES = 32768
LARGE_VPD_R = 0x10
SMALL_END = 0x0F
KEYWORD = re.compile(rb"^[A-Z0-9]{2}$")
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
VIRTFN = re.compile(r"^virtfn(\d+)$")
# Cyborg's attach_info column (and Accord's) holds 255 characters of JSON.
ATTACH_INFO_MAX = 255


def vpd_read_only_fields(data: bytes) -> dict[str, bytes] | None:
    """The keywords of the VPD-R section, or None when the VPD is malformed or fails its
    checksum. A VPD without a read-only section gives {}."""
    fields: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        tag = data[pos]
        if not tag & 0x80:
            if (tag >> 3) & 0x0F == SMALL_END:
                return fields
            pos += 1 + (tag & 0x07)
            continue
        if pos + 3 > len(data):
            return None
        start = pos + 3
        end = start + (data[pos + 1] | data[pos + 2] << 8)
        if end > len(data):
            return None
        if tag & 0x7F == LARGE_VPD_R and not _read_keywords(data, start, end, fields):
            return None
        pos = end
    return fields


def _read_keywords(data: bytes, start: int, end: int, fields: dict[str, bytes]) -> bool:
    pos = start
    while pos + 3 <= end:
        key, length = data[pos : pos + 2], data[pos + 2]
        value_end = pos + 3 + length
        if not KEYWORD.match(key) or value_end > end:
            return False
        if key == b"RV":
            # The checksum byte is the first byte of RV's data; what follows it is reserved.
            return length >= 1 and sum(data[: pos + 4]) & 0xFF == 0
        fields[key.decode()] = data[pos + 3 : value_end]
        pos = value_end
    return True


def vpd_serial_number(data: bytes) -> str | None:
    fields = vpd_read_only_fields(data)
    raw = (fields or {}).get("SN")
    if raw is None:
        return None
    try:
        serial = raw.decode("ascii").strip(" \x00")
    except UnicodeDecodeError:
        return None
    return serial if serial.isprintable() and serial else None


def read_vpd(function: PciFunction) -> bytes | None:
    try:
        with open(function.path / "vpd", "rb") as handle:
            return handle.read(VPD_MAX_BYTES)
    except OSError:
        # No VPD capability, or the device does not answer VPD reads (EIO).
        return None


def card_serial_number(vf: PciFunction, pf: PciFunction) -> str | None:
    for function in (vf, pf):
        data = read_vpd(function)
        serial = vpd_serial_number(data) if data else None
        if serial:
            return serial
    return None


def pf_mac_address(pf: PciFunction, ifname: str | None) -> str | None:
    if not ifname:
        return None
    mac = (read_text(pf.path / "net" / ifname / "address") or "").lower()
    # All zeros is a netdev with no address assigned, not one Neutron could match.
    return mac if MAC.match(mac) and mac != "00:00:00:00:00:00" else None


def vf_number(pf: PciFunction, vf_address: str) -> int | None:
    try:
        names = os.listdir(pf.path)
    except OSError:
        return None
    for name in names:
        match = VIRTFN.match(name)
        if match:
            try:
                target = os.path.basename(os.readlink(pf.path / name))
            except OSError:
                continue
            if target == vf_address:
                return int(match.group(1))
    return None


def vf_facts(pf: PciFunction, vf: PciFunction, ifname: str | None) -> dict[str, str]:
    """The SmartNIC keys for one VF's attach handle, with Nova's names; only those known."""
    facts: dict[str, str] = {}
    serial = card_serial_number(vf, pf)
    if serial:
        facts["card_serial_number"] = serial
    mac, number = pf_mac_address(pf, ifname), vf_number(pf, vf.address)
    if mac is not None and number is not None:
        facts["pf_mac_address"] = mac
        facts["vf_num"] = str(number)
    return facts


def with_facts(info: dict[str, str], facts: dict[str, str]) -> dict[str, str]:
    """`info` plus the facts that fit: attach_info is stored as at most 255 characters of JSON,
    so a long serial number is left out before the MAC and VF number are."""
    for drop in ((), ("card_serial_number",), ("card_serial_number", "pf_mac_address", "vf_num")):
        merged = {**info, **{k: v for k, v in facts.items() if k not in drop}}
        if len(json.dumps(merged, sort_keys=True, separators=(", ", ": "))) <= ATTACH_INFO_MAX:
            return merged
    return info

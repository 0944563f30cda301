"""PCI Vital Product Data images as a card's EEPROM holds them and the kernel's `vpd` file shows
them (PCI Local Bus 3.0 §6.4, appendix I): the identifier string (large resource 0x82), the
read-only section (0x90) with its keywords and the `RV` checksum, and the end tag (0x78)."""

from __future__ import annotations


def _large(tag: int, body: bytes) -> bytes:
    return bytes([tag, len(body) & 0xFF, len(body) >> 8]) + body


def _keyword(key: str, value: bytes) -> bytes:
    return key.encode() + bytes([len(value)]) + value


def vpd_image(product_name: str, read_only: dict[str, str]) -> bytes:
    """A valid VPD: `read_only` keywords (PN, EC, SN, V0…) then RV, whose checksum byte makes all
    bytes from the start through it sum to zero."""
    keywords = b"".join(_keyword(k, v.encode()) for k, v in read_only.items())
    head = _large(0x82, product_name.encode())
    # The section's length covers RV's 3-byte header and its data (checksum + 1 reserved byte).
    section_len = len(keywords) + 3 + 2
    prefix = head + bytes([0x90, section_len & 0xFF, section_len >> 8]) + keywords + b"RV\x02"
    checksum = (-sum(prefix)) & 0xFF
    return prefix + bytes([checksum, 0]) + bytes([0x78])

"""Parsers of .gbs, xclbin2 and .bit headers, on images the tests build themselves."""

from __future__ import annotations

import io
import json
import struct
import uuid
from pathlib import Path

import pytest

from accord.images.formats import (
    ImageContradiction,
    ImageFormatError,
    check_declared,
    detect_and_parse,
    fdt,
    parse_bit,
    parse_gbs,
    parse_image,
    parse_xclbin,
)
from accord.images.formats.bit import same_part
from accord.images.formats.build import build_bit, build_gbs, build_gbs_raw, build_xclbin, gbs_metadata
from accord.images.formats.xclbin import AXLF_HEADER_OFFSET, SECTION_HEADER, SECTIONS_OFFSET

# Ids as OPAE's own test data uses them (NLB0 AFU on an SKX-P interface).
AFU_ID = "d8424dc4-a4a3-c413-f89e-433683f9040b"
PR_INTERFACE = "1a422218-6dba-448e-b302-425cbcde1406"
XCLBIN_ID = "5c1f0b4e-1d7a-4f35-9c2e-3f6c2c1d7a10"
SHELL_INTERFACE = "862c7020-a250-293e-3203-6f19956669e5"
VBNV = "xilinx_u250_gen3x16_xdma_shell_4_1"


class CountingReader(io.RawIOBase):
    """A real file whose reads are counted, to show parsers read only the header."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self.bytes_read += len(data)
        return data

    def close(self) -> None:
        self._file.close()
        super().close()


# --- GBS ---------------------------------------------------------------------------------------


def test_gbs_yields_afu_id_interface_platform_and_clocks() -> None:
    image = build_gbs(AFU_ID.upper(), PR_INTERFACE, clock_high_mhz=312, clock_low_mhz=156, name="nlb_400")
    parsed = parse_gbs(image)
    assert parsed.format == "gbs"
    assert parsed.vendor == "intel"
    assert parsed.function_id == AFU_ID
    assert parsed.interface_id == PR_INTERFACE
    assert parsed.platform == "PAC"
    assert parsed.design_name == "nlb_400"
    assert parsed.clocks_mhz == {"high": 312.0, "low": 156.0}
    assert parsed.metadata["json"]["afu-image"]["magic-no"] == 488605312


def test_gbs_accepts_clock_given_as_string_as_old_packager_docs_show() -> None:
    metadata = gbs_metadata(AFU_ID, PR_INTERFACE)
    metadata["afu-image"]["clock-frequency-high"] = "200"
    assert parse_gbs(build_gbs_raw(json.dumps(metadata).encode())).clocks_mhz == {"high": 200.0}


@pytest.mark.parametrize("cut", [0, 8, 16, 18, 20, 60])
def test_gbs_truncated_inside_header_is_rejected_as_truncated(cut: int) -> None:
    image = build_gbs(AFU_ID, PR_INTERFACE)
    with pytest.raises(ImageFormatError, match="truncated"):
        parse_gbs(image[:cut])


def test_gbs_without_payload_after_metadata_is_rejected() -> None:
    image = build_gbs(AFU_ID, PR_INTERFACE, payload=b"")
    with pytest.raises(ImageFormatError, match="no bitstream payload"):
        parse_gbs(image)


def test_gbs_wrong_magic_is_rejected() -> None:
    image = bytearray(build_gbs(AFU_ID, PR_INTERFACE))
    image[0] ^= 0xFF
    with pytest.raises(ImageFormatError, match="wrong magic") as info:
        parse_gbs(bytes(image))
    assert info.value.format == "gbs"


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"version": 1}', "no afu-image"),
    ],
)
def test_gbs_bad_metadata_is_rejected_with_reason(metadata: bytes, reason: str) -> None:
    with pytest.raises(ImageFormatError, match=reason):
        parse_gbs(build_gbs_raw(metadata))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda img: img.update({"magic-no": 1}), "magic-no"),
        (lambda img: img.update({"interface-uuid": "nope"}), "interface-uuid"),
        (lambda img: img.pop("interface-uuid"), "interface-uuid"),
        (lambda img: img.update({"accelerator-clusters": []}), "accelerator-clusters"),
        (lambda img: img["accelerator-clusters"][0].pop("accelerator-type-uuid"), "accelerator-type-uuid"),
        (lambda img: img.update({"clock-frequency-low": "fast"}), "clock-frequency-low"),
    ],
)
def test_gbs_afu_image_with_missing_or_bad_fields_is_rejected(change: object, reason: str) -> None:
    metadata = gbs_metadata(AFU_ID, PR_INTERFACE)
    change(metadata["afu-image"])  # type: ignore[operator]
    with pytest.raises(ImageFormatError, match=reason):
        parse_gbs(build_gbs_raw(json.dumps(metadata).encode()))


def test_gbs_metadata_length_zero_or_huge_is_rejected() -> None:
    with pytest.raises(ImageFormatError, match="length is 0"):
        parse_gbs(build_gbs_raw(b""))
    huge = build_gbs(AFU_ID, PR_INTERFACE)[:16] + struct.pack("<I", 0xFFFFFFF0) + b"{}" * 8
    with pytest.raises(ImageFormatError, match="exceeds"):
        parse_gbs(huge)


# --- xclbin ------------------------------------------------------------------------------------


def test_xclbin_yields_uuid_platform_and_interface_from_partition_metadata() -> None:
    parsed = parse_xclbin(build_xclbin(XCLBIN_ID, SHELL_INTERFACE, VBNV, timestamp=1700000000))
    assert parsed.format == "xclbin"
    assert parsed.vendor == "xilinx"
    assert parsed.function_id == XCLBIN_ID
    assert parsed.interface_id == SHELL_INTERFACE
    assert parsed.interface_ids == (SHELL_INTERFACE,)
    assert parsed.platform == VBNV
    assert parsed.metadata["timestamp"] == 1700000000
    kinds = [s["kind_name"] for s in parsed.metadata["sections"]]
    assert kinds == ["BITSTREAM", "PARTITION_METADATA"]


def test_xclbin_interface_uuid_in_header_is_read() -> None:
    parsed = parse_xclbin(build_xclbin(XCLBIN_ID, SHELL_INTERFACE, VBNV, interface_in_header=True))
    assert parsed.interface_ids == (SHELL_INTERFACE,)
    assert [s["kind_name"] for s in parsed.metadata["sections"]] == ["BITSTREAM"]


def test_xclbin_without_interface_has_none() -> None:
    parsed = parse_xclbin(build_xclbin(XCLBIN_ID, None, VBNV))
    assert parsed.interface_id is None
    assert parsed.interface_ids == ()


def test_xclbin_header_offsets_match_xrt_layout() -> None:
    image = build_xclbin(XCLBIN_ID, SHELL_INTERFACE, VBNV)
    assert image[:8] == b"xclbin2\0"
    assert struct.unpack_from("<Q", image, AXLF_HEADER_OFFSET)[0] == len(image)  # m_length
    assert image[AXLF_HEADER_OFFSET + 48 : AXLF_HEADER_OFFSET + 48 + len(VBNV)] == VBNV.encode()
    assert uuid.UUID(bytes=image[AXLF_HEADER_OFFSET + 112 : AXLF_HEADER_OFFSET + 128]) == uuid.UUID(XCLBIN_ID)
    assert struct.unpack_from("<I", image, AXLF_HEADER_OFFSET + 144)[0] == 2  # m_numSections
    assert SECTIONS_OFFSET == 456


@pytest.mark.parametrize("cut", [4, 100, 310, 450, 470, -10])
def test_xclbin_truncated_at_several_points_is_rejected(cut: int) -> None:
    image = build_xclbin(XCLBIN_ID, SHELL_INTERFACE, VBNV)
    with pytest.raises(ImageFormatError, match="truncated"):
        parse_xclbin(image[:cut])


def test_xclbin_wrong_and_legacy_magic_are_rejected() -> None:
    image = build_xclbin(XCLBIN_ID, SHELL_INTERFACE, VBNV)
    with pytest.raises(ImageFormatError, match="wrong magic"):
        parse_xclbin(b"xclbin9\0" + image[8:])
    with pytest.raises(ImageFormatError, match="legacy xclbin0"):
        parse_xclbin(b"xclbin0\0" + image[8:])


def _patched(image: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(image)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def test_xclbin_bad_lengths_are_rejected() -> None:
    image = build_xclbin(XCLBIN_ID, SHELL_INTERFACE, VBNV)
    with pytest.raises(ImageFormatError, match="trailing data"):
        parse_xclbin(image + b"\0" * 8)
    too_many = _patched(image, AXLF_HEADER_OFFSET + 144, "<I", 0x10001)
    with pytest.raises(ImageFormatError, match="m_numSections"):
        parse_xclbin(too_many)
    section_past_end = _patched(image, SECTIONS_OFFSET + 32, "<Q", len(image))  # first section's size
    with pytest.raises(ImageFormatError, match="runs past m_length"):
        parse_xclbin(section_past_end)


def test_xclbin_with_zero_uuid_is_rejected() -> None:
    with pytest.raises(ImageFormatError, match="all zeros"):
        parse_xclbin(build_xclbin(str(uuid.UUID(int=0)), SHELL_INTERFACE, VBNV))


def test_xclbin_with_corrupt_partition_metadata_is_rejected() -> None:
    image = bytearray(build_xclbin(XCLBIN_ID, SHELL_INTERFACE, VBNV))
    dtb_offset = struct.unpack_from("<Q", image, SECTIONS_OFFSET + SECTION_HEADER.size + 24)[0]
    image[dtb_offset] ^= 0xFF  # DTB magic
    with pytest.raises(ImageFormatError, match="PARTITION_METADATA is not a valid device tree"):
        parse_xclbin(bytes(image))


def test_fdt_round_trips_nested_properties() -> None:
    blob = fdt.build({"interfaces/@0": {"interface_uuid": b"abc\0"}, "partition_info": {"x": b"\0\0\0\1"}})
    assert fdt.properties(blob) == {"interfaces/@0/interface_uuid": b"abc\0", "partition_info/x": b"\0\0\0\1"}


# --- .bit --------------------------------------------------------------------------------------


def test_bit_yields_design_part_and_vivado_attributes() -> None:
    parsed = parse_bit(build_bit("top;UserID=0XFFFFFFFF;Version=2020.2", "7a35tcpg236", date="2021/03/04"))
    assert parsed.format == "bit"
    assert parsed.vendor == "xilinx"
    assert parsed.design_name == "top"
    assert parsed.platform == "7a35tcpg236"
    assert parsed.function_id is None
    assert parsed.metadata["attributes"] == {"UserID": "0XFFFFFFFF", "Version": "2020.2"}
    assert parsed.metadata["date"] == "2021/03/04"


@pytest.mark.parametrize("cut", [5, 14, 16, 30, 60, -1])
def test_bit_truncated_at_several_points_is_rejected(cut: int) -> None:
    image = build_bit("top", "xcvu9p-flga2104", payload=b"\xaa" * 40)
    with pytest.raises(ImageFormatError, match="truncated"):
        parse_bit(image[:cut])


def test_bit_wrong_preamble_and_field_order_are_rejected() -> None:
    image = build_bit("top", "7a35tcpg236")
    with pytest.raises(ImageFormatError, match="wrong preamble"):
        parse_bit(b"\x00\x09\x0f\xf0\x0f\xf0\x0f\xf0\x0f\xf1" + image[10:])
    swapped = bytearray(image)
    swapped[13] = ord("b")  # the 'a' tag
    with pytest.raises(ImageFormatError, match="expected field 'a'"):
        parse_bit(bytes(swapped))


# --- detection and whole files -----------------------------------------------------------------


def test_detect_and_parse_sniffs_each_format_from_files(tmp_path: Path) -> None:
    images = {
        "a.gbs": build_gbs(AFU_ID, PR_INTERFACE),
        "b.xclbin": build_xclbin(XCLBIN_ID, SHELL_INTERFACE, VBNV),
        "c.bit": build_bit("top", "7a35tcpg236"),
    }
    formats = {}
    for name, data in images.items():
        (tmp_path / name).write_bytes(data)
        parsed = detect_and_parse(tmp_path / name)
        assert parsed is not None
        assert parsed == parse_image(data)
        formats[name] = parsed.format
    assert formats == {"a.gbs": "gbs", "b.xclbin": "xclbin", "c.bit": "bit"}


def test_detect_and_parse_returns_none_for_unknown_bytes(tmp_path: Path) -> None:
    (tmp_path / "fw.bin").write_bytes(b"\x7fELF" + b"\0" * 100)
    (tmp_path / "empty").write_bytes(b"")
    assert detect_and_parse(tmp_path / "fw.bin") is None
    assert detect_and_parse(tmp_path / "empty") is None


def test_detect_and_parse_raises_for_known_magic_with_broken_header(tmp_path: Path) -> None:
    (tmp_path / "broken.gbs").write_bytes(build_gbs(AFU_ID, PR_INTERFACE)[:30])
    with pytest.raises(ImageFormatError, match="truncated"):
        detect_and_parse(tmp_path / "broken.gbs")


@pytest.mark.parametrize("fmt", ["gbs", "xclbin", "bit"])
def test_parsers_read_only_the_header_of_a_large_image(tmp_path: Path, fmt: str) -> None:
    payload_size = 32 << 20
    if fmt == "gbs":
        head = build_gbs(AFU_ID, PR_INTERFACE, payload=b"")
    elif fmt == "bit":
        head = build_bit("top", "7a35tcpg236", payload=b"\0" * payload_size)[:-payload_size]
    else:
        head = b""
    path = tmp_path / "big"
    if fmt == "xclbin":
        path.write_bytes(build_xclbin(XCLBIN_ID, SHELL_INTERFACE, VBNV, payload=b"\0" * payload_size))
    else:
        with open(path, "wb") as out:
            out.write(head)
            out.truncate(len(head) + payload_size)  # a sparse payload
    reader = CountingReader(path)
    try:
        parsed = parse_image(reader)  # type: ignore[arg-type]
    finally:
        reader.close()
    assert parsed is not None and parsed.format == fmt
    assert reader.bytes_read < 64 * 1024


# --- declared metadata -------------------------------------------------------------------------


def test_matching_declarations_pass() -> None:
    gbs = parse_gbs(build_gbs(AFU_ID, PR_INTERFACE))
    check_declared(gbs, {"function_id": AFU_ID.replace("-", ""), "target": PR_INTERFACE, "vendor": "Intel"})
    xclbin = parse_xclbin(build_xclbin(XCLBIN_ID, SHELL_INTERFACE, VBNV))
    check_declared(xclbin, {"function_id": XCLBIN_ID, "interface_id": SHELL_INTERFACE, "vendor": "0x10ee"})
    check_declared(xclbin, {"target": VBNV.upper(), "vendor": "AMD"})
    bit = parse_bit(build_bit("top", "7a35tcpg236"))
    check_declared(bit, {"target": "xc7a35tcpg236-1", "vendor": "xilinx", "function_id": AFU_ID})
    check_declared(bit, {})


@pytest.mark.parametrize(
    ("declared", "field"),
    [
        ({"function_id": "c000c966-0d82-4272-9aef-fe5f84570612"}, "function_id"),
        ({"function_id": "not-a-uuid"}, "function_id"),
        ({"interface_id": "f64e598b-ea11-517f-a28e-7bc65d885104"}, "interface_id"),
        ({"target": "f64e598b-ea11-517f-a28e-7bc65d885104"}, "target interface id"),
        ({"vendor": "xilinx"}, "vendor"),
        ({"target": "D5005"}, "target"),
    ],
)
def test_gbs_contradicting_declarations_are_named(declared: dict[str, str], field: str) -> None:
    parsed = parse_gbs(build_gbs(AFU_ID, PR_INTERFACE))
    with pytest.raises(ImageContradiction) as info:
        check_declared(parsed, declared)
    assert info.value.field == field


def test_xclbin_and_bit_targets_contradicting_are_rejected() -> None:
    xclbin = parse_xclbin(build_xclbin(XCLBIN_ID, SHELL_INTERFACE, VBNV))
    with pytest.raises(ImageContradiction, match="xilinx_u280"):
        check_declared(xclbin, {"target": "xilinx_u280_xdma_201920_3"})
    with pytest.raises(ImageContradiction, match="vendor"):
        check_declared(xclbin, {"vendor": "8086"})
    bit = parse_bit(build_bit("top", "7a35tcpg236"))
    with pytest.raises(ImageContradiction, match="xcvu9p"):
        check_declared(bit, {"target": "xcvu9p-flga2104-2-i"})


@pytest.mark.parametrize(
    ("header_part", "declared", "same"),
    [
        ("7a35tcpg236", "xc7a35tcpg236-1", True),
        ("xcvu9p-flga2104-2-i", "XCVU9P-FLGA2104", True),
        ("xcvu9p-flga2104-2-i", "xcvu9p-flga2104-1-i", False),
        ("xcvu9p-flga2104-2-i", "xcvu13p-flga2104-2-i", False),
        ("7a35tcpg236", "7a35tcsg324-1", False),
    ],
)
def test_bit_part_comparison_ignores_prefix_case_and_missing_grades(
    header_part: str, declared: str, same: bool
) -> None:
    assert same_part(header_part, declared) is same
    parsed = parse_bit(build_bit("top", header_part))
    if same:
        check_declared(parsed, {"target": declared})
    else:
        with pytest.raises(ImageContradiction):
            check_declared(parsed, {"target": declared})

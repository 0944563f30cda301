"""Just enough of the flattened device tree (DTB) format to read and write xclbin PARTITION_METADATA.

XRT stores a shell's interface uuids in that section as a DTB: `/interfaces/<name>/interface_uuid`
(a NUL-terminated hex string). The DTB layout is the Devicetree Specification's: a big-endian header,
a structure block of tokens, and a strings block holding property names.
"""

from __future__ import annotations

import struct

FDT_MAGIC = 0xD00DFEED
FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END = 1, 2, 3, 4, 9
_HEADER = struct.Struct(">10I")


class FdtError(ValueError):
    """The blob is not a well-formed flattened device tree."""


def _cstring(blob: bytes, offset: int) -> tuple[str, int]:
    end = blob.find(b"\0", offset)
    if end < 0:
        raise FdtError(f"unterminated string at {offset}")
    return blob[offset:end].decode("utf-8", "replace"), end + 1


def _align4(n: int) -> int:
    return (n + 3) & ~3


def properties(blob: bytes) -> dict[str, bytes]:
    """Every property as {"/node/path/prop": raw value}."""
    if len(blob) < _HEADER.size:
        raise FdtError("shorter than the DTB header")
    magic, total, off_struct, off_strings, _, _, _, _, size_strings, size_struct = _HEADER.unpack_from(blob)
    if magic != FDT_MAGIC:
        raise FdtError(f"wrong DTB magic {magic:#x}")
    if total > len(blob) or off_struct + size_struct > total or off_strings + size_strings > total:
        raise FdtError("DTB header offsets point past its end")
    strings = blob[off_strings : off_strings + size_strings]
    pos, end = off_struct, off_struct + size_struct
    path: list[str] = []
    props: dict[str, bytes] = {}
    while pos + 4 <= end:
        (token,) = struct.unpack_from(">I", blob, pos)
        pos += 4
        if token == FDT_BEGIN_NODE:
            name, after = _cstring(blob, pos)
            path.append(name)
            pos = _align4(after)
        elif token == FDT_END_NODE:
            if not path:
                raise FdtError("unbalanced end of node")
            path.pop()
        elif token == FDT_PROP:
            if pos + 8 > end:
                raise FdtError("property header past the structure block")
            length, name_off = struct.unpack_from(">II", blob, pos)
            value = blob[pos + 8 : pos + 8 + length]
            if len(value) != length:
                raise FdtError("property value past the structure block")
            prop_name, _ = _cstring(strings, name_off)
            props["/".join([*path, prop_name]).lstrip("/")] = value
            pos = _align4(pos + 8 + length)
        elif token == FDT_END:
            return props
        elif token != FDT_NOP:
            raise FdtError(f"unknown token {token:#x} at {pos - 4}")
    raise FdtError("structure block has no end token")


def build(nodes: dict[str, dict[str, bytes]]) -> bytes:
    """A DTB with one level of child nodes under the root: {"interfaces/a": {"prop": b"v\\0"}}.

    Node names may be paths; intermediate nodes are opened as needed.
    """
    strings = bytearray()
    name_offsets: dict[str, int] = {}
    struct_block = bytearray()

    def token(value: int) -> None:
        struct_block.extend(struct.pack(">I", value))

    def open_node(name: str) -> None:
        token(FDT_BEGIN_NODE)
        struct_block.extend(name.encode() + b"\0")
        struct_block.extend(b"\0" * (_align4(len(struct_block)) - len(struct_block)))

    open_node("")
    for node_path, props in nodes.items():
        parts = node_path.strip("/").split("/")
        for part in parts:
            open_node(part)
        for prop, value in props.items():
            if prop not in name_offsets:
                name_offsets[prop] = len(strings)
                strings.extend(prop.encode() + b"\0")
            token(FDT_PROP)
            struct_block.extend(struct.pack(">II", len(value), name_offsets[prop]) + value)
            struct_block.extend(b"\0" * (_align4(len(struct_block)) - len(struct_block)))
        for _ in parts:
            token(FDT_END_NODE)
    token(FDT_END_NODE)
    token(FDT_END)
    off_rsvmap = _HEADER.size
    off_struct = off_rsvmap + 16  # one empty reservation entry (two u64 zeros)
    off_strings = off_struct + len(struct_block)
    total = off_strings + len(strings)
    header = _HEADER.pack(
        FDT_MAGIC, total, off_struct, off_strings, off_rsvmap, 17, 16, 0, len(strings), len(struct_block)
    )
    return header + b"\0" * 16 + bytes(struct_block) + bytes(strings)

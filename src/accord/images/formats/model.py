"""What a format parser returns, the errors it raises, and bounded reading of an image's header.

Parsers never read a whole image: they ask a `HeaderSource` for specific byte ranges, each bounded by a
per-format limit, so a multi-gigabyte bitstream costs a few kilobytes of memory to inspect.
"""

from __future__ import annotations

import io
import os
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO, Literal

ImageFormat = Literal["gbs", "xclbin", "bit"]


class ImageFormatError(ValueError):
    """The bytes are not a well-formed image of the format being parsed; `reason` says precisely why."""

    def __init__(self, fmt: str, reason: str) -> None:
        super().__init__(f"invalid {fmt} image: {reason}")
        self.format = fmt
        self.reason = reason


class ImageContradiction(ValueError):
    """What the image's bytes say contradicts what the admin declared for it."""

    def __init__(self, field_name: str, declared: str, found: str) -> None:
        super().__init__(f"declared {field_name} {declared!r} but the image says {found!r}")
        self.field = field_name
        self.declared = declared
        self.found = found


@dataclass(frozen=True)
class ParsedImage:
    """Facts read from an image header. Ids are canonical lowercase dashed UUID strings."""

    format: ImageFormat
    vendor: Literal["intel", "xilinx"]
    function_id: str | None
    interface_id: str | None
    interface_ids: tuple[str, ...] = ()
    platform: str | None = None
    design_name: str | None = None
    clocks_mhz: dict[str, float] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, for storing beside the catalog record."""
        data = asdict(self)
        data["interface_ids"] = list(self.interface_ids)
        return data


def canonical_uuid(value: object) -> str | None:
    """`value` as a lowercase dashed UUID, accepting the 32-hex form sysfs and DTBs use; None if not one."""
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return None


class HeaderSource:
    """Random access to an image's leading bytes, from an in-memory buffer or a seekable binary file.

    A buffer is taken to be the whole image, so anything the header points past its end is truncation.
    """

    def __init__(self, data: bytes | bytearray | memoryview | BinaryIO) -> None:
        if isinstance(data, bytes | bytearray | memoryview):
            self._file: BinaryIO = io.BytesIO(bytes(data))
        else:
            self._file = data
        start = self._file.tell()
        self.size = self._file.seek(0, os.SEEK_END)
        self._file.seek(start)

    def read(self, fmt: str, offset: int, length: int, what: str) -> bytes:
        """Exactly `length` bytes at `offset`, or an ImageFormatError naming `what` was cut short."""
        if offset + length > self.size:
            needed = f"bytes {offset}..{offset + length}"
            raise ImageFormatError(fmt, f"truncated: {what} needs {needed} but the image has {self.size}")
        self._file.seek(offset)
        chunk = self._file.read(length)
        if len(chunk) != length:
            raise ImageFormatError(fmt, f"truncated: short read of {what} at offset {offset}")
        return chunk

    def peek(self, length: int) -> bytes:
        """Up to `length` leading bytes, for sniffing the format."""
        self._file.seek(0)
        return self._file.read(length)

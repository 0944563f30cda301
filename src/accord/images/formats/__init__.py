"""Own parsers of FPGA image headers (Intel .gbs, Xilinx xclbin2 and .bit) and builders of valid images.

Parsers read only the header, raise `ImageFormatError` with a precise reason, and return a
`ParsedImage`; `check_declared` raises `ImageContradiction` when the bytes disagree with the catalog
record. Format facts and their public sources: docs/image-formats.md.
"""

from accord.images.formats.bit import parse_bit
from accord.images.formats.detect import check_declared, detect_and_parse, detect_format, parse_image
from accord.images.formats.gbs import parse_gbs
from accord.images.formats.model import ImageContradiction, ImageFormat, ImageFormatError, ParsedImage
from accord.images.formats.xclbin import parse_xclbin

__all__ = [
    "ImageContradiction",
    "ImageFormat",
    "ImageFormatError",
    "ParsedImage",
    "check_declared",
    "detect_and_parse",
    "detect_format",
    "parse_bit",
    "parse_gbs",
    "parse_image",
    "parse_xclbin",
]

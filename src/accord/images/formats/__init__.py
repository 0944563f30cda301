"""Own parsers of FPGA image headers (Intel .gbs, Xilinx xclbin2 and .bit) and of firmware containers
(Intel secure-update, Xilinx xsabin, Accord's simulated firmware), and builders of valid images.

Parsers read only the header, raise `ImageFormatError` with a precise reason, and return a
`ParsedImage`; `check_declared` raises `ImageContradiction` when the bytes disagree with the catalog
record. Format facts and their public sources: docs/image-formats.md.
"""

from accord.images.formats.bit import parse_bit
from accord.images.formats.build_firmware import build_sim_firmware, build_sim_firmware_for
from accord.images.formats.detect import check_declared, detect_and_parse, detect_format, parse_image
from accord.images.formats.firmware import FirmwareFacts, parse_firmware, parse_firmware_file
from accord.images.formats.gbs import parse_gbs
from accord.images.formats.model import ImageContradiction, ImageFormat, ImageFormatError, ParsedImage
from accord.images.formats.xclbin import parse_xclbin

__all__ = [
    "FirmwareFacts",
    "ImageContradiction",
    "ImageFormat",
    "ImageFormatError",
    "ParsedImage",
    "build_sim_firmware",
    "build_sim_firmware_for",
    "check_declared",
    "detect_and_parse",
    "detect_format",
    "parse_bit",
    "parse_firmware",
    "parse_firmware_file",
    "parse_gbs",
    "parse_image",
    "parse_xclbin",
]

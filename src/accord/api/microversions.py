"""Microversions of the accelerator API, one line each with what it changed (Cyborg's history).

2.0  base v2 API.
2.1  PATCH of ARQs may carry /project_id (admins only).
2.2  GET /v2/device_profiles/{id} accepts a name as well as a uuid.
2.3  devices show `status` (enabled | maintaining).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from accord.domain.errors import NotAcceptable

SERVICE_TYPE = "accelerator"
HEADER = "OpenStack-API-Version"


class Version(NamedTuple):
    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


MIN_VERSION = Version(2, 0)
MAX_VERSION = Version(2, 3)
PROJECT_ID_ON_BIND = Version(2, 1)
PROFILE_BY_NAME = Version(2, 2)
DEVICE_STATUS = Version(2, 3)

_VERSION = re.compile(r"^(\d+)\.(\d+)$")


def _out_of_range(raw: str) -> NotAcceptable:
    return NotAcceptable(
        f"Version {raw} was requested but the minor version is not supported by this version "
        f"of the API. The supported version range is: [{MIN_VERSION}, {MAX_VERSION}]."
    )


def parse_header(value: str | None) -> Version:
    """`accelerator 2.3`, a bare `2.3` (Cyborg accepts it too), or `latest`; none means 2.0.

    A header naming only other services (`compute 2.1`) means the default.
    """
    if value is None or not value.strip():
        return MIN_VERSION
    chosen: str | None = None
    for part in value.split(","):
        words = part.strip().split()
        if len(words) == 2 and words[0].lower() == SERVICE_TYPE:
            chosen = words[1]
        elif len(words) == 1 and (words[0].lower() == "latest" or chosen is None):
            chosen = words[0]
        elif len(words) not in (1, 2):
            raise NotAcceptable(f"Invalid {HEADER} header {value!r}: use 'accelerator 2.x'.")
    if chosen is None:
        return MIN_VERSION
    if chosen.lower() == "latest":
        return MAX_VERSION
    match = _VERSION.match(chosen)
    if match is None:
        raise NotAcceptable(
            f"Invalid {HEADER} header {value!r}: the version must look like 2.x. "
            f"The supported version range is: [{MIN_VERSION}, {MAX_VERSION}]."
        )
    version = Version(int(match.group(1)), int(match.group(2)))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise _out_of_range(chosen)
    return version


def response_headers(version: Version) -> list[tuple[bytes, bytes]]:
    return [
        (b"openstack-api-minimum-version", str(MIN_VERSION).encode()),
        (b"openstack-api-maximum-version", str(MAX_VERSION).encode()),
        (b"openstack-api-version", f"{SERVICE_TYPE} {version}".encode()),
        (b"vary", HEADER.encode()),
    ]

"""`GET /` and `GET /v2`: version discovery, no authentication (as keystonemiddleware skips them)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from accord.api.microversions import MAX_VERSION, MIN_VERSION
from accord.api.state import base_url

DESCRIPTION = (
    "Cyborg is the OpenStack project for lifecycle management of hardware accelerators, such as "
    "GPUs,FPGAs, AI chips, security accelerators, etc."
)


def _version(request: Request, vid: str, trailing: str) -> dict[str, Any]:
    return {
        "id": vid,
        "status": "CURRENT",
        "max_version": str(MAX_VERSION),
        "min_version": str(MIN_VERSION),
        "links": [{"href": f"{base_url(request)}/v2{trailing}", "rel": "self"}],
    }


def root(request: Request) -> dict[str, Any]:
    version = _version(request, "v2", "")
    return {
        "name": "OpenStack Cyborg API",
        "description": DESCRIPTION,
        "versions": [version],
        "default_version": version,
    }


def v2(request: Request) -> dict[str, Any]:
    return _version(request, "v2.0", "/")

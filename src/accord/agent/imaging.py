"""Agent side of programming and firmware: fetch the image, prove it is the vetted one, then
let the driver touch the device, and read back what is really there.

Every check that can refuse runs before the driver is called: the sha256 of the downloaded
bytes against the catalog's, the detached signature against the trusted keys the server sent,
and the region's PR interface id against the image's.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from accord.agent.drivers.base import FlashesFirmware, Programs

# Download an image by uuid into a path; returns the sha256 of the bytes received.
Fetch = Callable[[str, Path], str]


class Refused(Exception):
    """The image failed a check; the device was not touched."""


def fetch_verified(
    fetch: Fetch, image_uuid: str, sha256: str, signature: str, keys: list[str], workdir: Path
) -> Path:
    path = workdir / f"{image_uuid}.img"
    got = fetch(image_uuid, path)
    if not sha256 or got != sha256:
        raise Refused(
            f"image {image_uuid} arrived with sha256 {got}, the catalog says {sha256 or 'nothing'}; "
            "not using it"
        )
    if signature:
        # Imported here: most agents never see a signed image, and cryptography costs ~10 MiB.
        from accord.images.signatures import SignatureError, verify_signature

        try:
            verify_signature(keys, sha256, signature)
        except SignatureError as exc:
            raise Refused(f"image {image_uuid} signature does not verify: {exc}") from exc
    return path


def local_region(region: str, hostname: str) -> str:
    """Deployable names are `<host>_<local name>`; drivers know the local part."""
    prefix = f"{hostname}_"
    return region[len(prefix) :] if region.startswith(prefix) else region


def program(
    driver: Programs,
    fetch: Fetch,
    params: dict[str, Any],
    region_interface: str | None,
    hostname: str,
) -> dict[str, Any]:
    wanted = params.get("interface_id") or ""
    if wanted and region_interface and wanted != region_interface:
        raise Refused(f"image is built for PR interface {wanted}, the region has {region_interface}")
    with tempfile.TemporaryDirectory(prefix="accord-image-") as workdir:
        path = fetch_verified(
            fetch,
            params["image_uuid"],
            params.get("sha256", ""),
            params.get("signature", ""),
            list(params.get("trusted_keys", [])),
            Path(workdir),
        )
        loaded = driver.program(params["pci_address"], local_region(params["region"], hostname), path)
    return {"function_id": loaded}


def flash(driver: FlashesFirmware, fetch: Fetch, params: dict[str, Any]) -> dict[str, Any]:
    """Flash, verify the version; on failure put the previous image back when one is kept."""
    with tempfile.TemporaryDirectory(prefix="accord-firmware-") as workdir:
        path = fetch_verified(fetch, params["image_uuid"], params.get("sha256", ""), "", [], Path(workdir))
        try:
            version = driver.update_firmware(params["pci_address"], path)
            if version != params.get("version"):
                raise RuntimeError(f"read back version {version!r}, expected {params.get('version')!r}")
            return {"version": version}
        except Exception as failure:
            previous = params.get("previous_image_uuid") or ""
            if not previous:
                raise
            old = fetch_verified(fetch, previous, params.get("previous_sha256", ""), "", [], Path(workdir))
            restored = driver.update_firmware(params["pci_address"], old)
            raise FlashFailedButRestored(str(failure), restored) from failure


class FlashFailedButRestored(Exception):
    def __init__(self, reason: str, version: str) -> None:
        super().__init__(f"{reason}; previous firmware {version} restored")
        self.version = version

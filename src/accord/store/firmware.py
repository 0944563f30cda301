"""Firmware lifecycle: an operator action on a drained device, never through ARQs.

Refused unless the device is disabled and none of its handles is in use; no downgrade (or
re-flash of the same version) without `force`. The agent flashes, reads the version back and,
on failure, restores the previous image when one is kept; the completion records the verified
version, or quarantines the device when there was no way back. A flash whose agent went silent
(or restarted) mid-write is never flashed again on its own: the device is quarantined as "flash
interrupted" and an operator decides.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.domain.device_profile import looks_like_uuid
from accord.domain.errors import Conflict, InvalidInput, NotFound
from accord.domain.firmware import DeviceIdentity, FirmwareTarget, check_flash_allowed, check_target
from accord.domain.image import check_usable
from accord.domain.operation import FLASH_INTERRUPTED
from accord.store.inventory import forget_report
from accord.store.models import AcceleratorRequest, AttachHandle, Deployable, Device, Image, Operation
from accord.store.operations import SUCCEEDED, queue_operation


def firmware_image(session: Session, image_uuid: object) -> Image:
    """The approved, versioned firmware image a flash or a rollout names."""
    if not isinstance(image_uuid, str) or not looks_like_uuid(image_uuid):
        raise InvalidInput("'image_uuid' must be the uuid of an approved firmware image.")
    image = session.scalar(select(Image).where(Image.uuid == image_uuid.lower()))
    if image is None:
        raise NotFound(f"Image {image_uuid} could not be found.")
    if image.kind != "firmware":
        raise InvalidInput(
            f"Image {image.uuid} is a {image.kind}, not firmware; program bitstreams through ARQs."
        )
    check_usable(image.uuid, image.state, "flashed")
    if not image.version:
        raise InvalidInput(
            f"Firmware image {image.uuid} declares no version, so the flash could not be verified."
        )
    return image


def identity(device: Device) -> DeviceIdentity:
    return DeviceIdentity(type=device.type, vendor=device.vendor, product=device.product, model=device.model)


def _check_drained(session: Session, device: Device, require_disabled: bool = True) -> None:
    if require_disabled and device.status != "maintaining":
        raise Conflict(
            f"Device {device.uuid} is enabled; disable it first so nothing new binds while it is flashed."
        )
    if handles_in_use(session, device):
        raise Conflict(f"Device {device.uuid} still has attach handles in use; release them before flashing.")
    busy = operation_in_progress(session, device)
    if busy is not None:
        raise Conflict(f"Device {device.uuid} has operation {busy} in progress.")


def handles_in_use(session: Session, device: Device) -> bool:
    in_use = session.scalar(
        select(AttachHandle.id)
        .join(Deployable, Deployable.id == AttachHandle.deployable_id)
        .where(Deployable.device_id == device.id, AttachHandle.in_use.is_(True))
        .limit(1)
    )
    return in_use is not None


def operation_in_progress(session: Session, device: Device) -> str | None:
    return session.scalar(
        select(Operation.uuid)
        .where(Operation.device_id == device.id, Operation.state.in_(("pending", "running")))
        .limit(1)
    )


def request_flash(
    session: Session,
    device: Device,
    image_uuid: str,
    force: bool,
    requested_by: str | None,
    require_disabled: bool = True,
) -> Operation:
    """`require_disabled=False`: a bare-metal node being cleaned or serviced, which nothing else
    can bind to; unused handles and no running operation are still required."""
    image = firmware_image(session, image_uuid)
    check_target(device.uuid, image.uuid, FirmwareTarget.from_facts(image.parsed), identity(device))
    _check_drained(session, device, require_disabled)
    current = device.firmware_version
    check_flash_allowed(device.uuid, current, image.version or "", image.uuid, force)
    previous = None
    if current:
        previous = session.scalar(
            select(Image).where(Image.kind == "firmware", Image.state == "approved", Image.version == current)
        )
    return queue_operation(
        session,
        "firmware",
        device.hostname,
        {
            "pci_address": device.pci_address,
            "image_uuid": image.uuid,
            "sha256": image.sha256 or "",
            "version": image.version,
            "previous_version": current or "",
            "previous_image_uuid": previous.uuid if previous else "",
            "previous_sha256": (previous.sha256 or "") if previous else "",
        },
        device_id=device.id,
        image_id=image.id,
        requested_by=requested_by,
    )


def complete_flash(session: Session, operation: Operation) -> list[AcceleratorRequest]:
    """Firmware is no ARQ's business: nothing to resolve, only the device to update."""
    _record_flash(session, operation)
    return []


def _record_flash(session: Session, operation: Operation) -> None:
    device = session.get(Device, operation.device_id) if operation.device_id else None
    if device is None:
        return
    forget_report(session, device_id=device.id)  # the agent's next report says what is there
    expected = operation.params.get("version")
    read_back = (operation.result or {}).get("version")
    if operation.state == SUCCEEDED and read_back == expected:
        device.firmware_version = read_back
        device.quarantine_reason = None
        return
    if operation.state == SUCCEEDED:
        operation.state = "failed"
        operation.error = f"read back firmware version {read_back!r}, expected {expected!r}"
    if (operation.result or {}).get("interrupted"):
        device.status = "maintaining"
        reason = operation.error or ""
        if FLASH_INTERRUPTED not in reason:
            reason = f"{FLASH_INTERRUPTED}: {reason}"
        device.quarantine_reason = f"{reason} (flashing {expected}); check the card, then flash it again"
        return
    if (operation.result or {}).get("restored"):
        device.firmware_version = (operation.result or {}).get("version") or device.firmware_version
        return
    device.status = "maintaining"
    device.quarantine_reason = (
        f"firmware flash to {expected} failed with no image to restore: {operation.error}"
    )

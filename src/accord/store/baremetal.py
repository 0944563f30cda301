"""Bare-metal nodes as Accord hosts: enrolment, and the operations a node's ramdisk starts for
itself (an Ironic deploy, clean or service step) instead of claiming them from a queue.

The same refusals as the operator's paths apply before anything is queued (unapproved image,
wrong kind, wrong PR interface, handles in use, another operation running on the device); the
operation is leased to the node at once and tried once: a ramdisk that went silent mid-step is
not there to retry it, and a flash cut off that way quarantines the device as any other.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.domain.device_profile import looks_like_uuid
from accord.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from accord.store.firmware import request_flash
from accord.store.host_versions import note_changed
from accord.store.models import AttachHandle, Deployable, Device, Host, Image, Operation, utcnow
from accord.store.operations import PENDING, RUNNING
from accord.store.programming import check_interface, choose_image, queue_program


def enrol_host(session: Session, hostname: str, bare_metal: bool) -> Host:
    host = session.scalar(select(Host).where(Host.name == hostname).with_for_update())
    if host is None:
        # Not heard from yet: "lost" until its ramdisk reports, like any silent host.
        host = Host(name=hostname, agent_version="", state="lost")
        session.add(host)
    host.bare_metal = bare_metal
    session.flush()
    note_changed(session, [hostname])
    return host


def _bare_metal_host(session: Session, hostname: str) -> Host:
    host = session.scalar(select(Host).where(Host.name == hostname))
    if host is None or not host.bare_metal:
        raise Forbidden(
            f"Host {hostname!r} is not enrolled as a bare-metal node; only those start their own operations."
        )
    return host


def _devices(session: Session, hostname: str, pci_address: str | None) -> list[Device]:
    query = select(Device).where(Device.hostname == hostname, Device.type == "FPGA").order_by(Device.id)
    if pci_address is not None:
        query = query.where(Device.pci_address == pci_address)
    devices = list(session.scalars(query))
    if pci_address is not None and not devices:
        raise NotFound(f"Host {hostname!r} reports no FPGA at {pci_address}.")
    if not devices:
        raise Conflict(f"Host {hostname!r} reports no FPGA to act on.")
    return devices


def _check_idle(session: Session, device: Device) -> None:
    busy = session.scalar(
        select(Operation.uuid)
        .where(Operation.device_id == device.id, Operation.state.in_((PENDING, RUNNING)))
        .limit(1)
    )
    if busy is not None:
        raise Conflict(f"Device {device.uuid} has operation {busy} in progress.")
    in_use = session.scalar(
        select(AttachHandle.id)
        .join(Deployable, Deployable.id == AttachHandle.deployable_id)
        .where(Deployable.device_id == device.id, AttachHandle.in_use.is_(True))
        .limit(1)
    )
    if in_use is not None:
        raise Conflict(f"Device {device.uuid} has attach handles in use.")


def _check_bitstream(session: Session, image_uuid: str) -> None:
    if not looks_like_uuid(image_uuid):
        raise InvalidInput(f"'image_uuid' {image_uuid!r} is not an image uuid.")
    image = session.scalar(select(Image).where(Image.uuid == image_uuid.lower()))
    if image is None:
        raise NotFound(f"Image {image_uuid} could not be found.")
    if image.kind != "bitstream":
        raise InvalidInput(f"Image {image.uuid} is {image.kind}, not a bitstream; flash it as firmware.")


def _program(session: Session, hostname: str, image_uuid: str, pci_address: str | None) -> list[Operation]:
    _check_bitstream(session, image_uuid)
    image = choose_image(session, None, image_uuid)
    devices = _devices(session, hostname, pci_address)
    regions = [d for device in devices for d in session.scalars(
        select(Deployable).where(Deployable.device_id == device.id).order_by(Deployable.id)
    )]  # fmt: skip
    wanted = (image.parsed or {}).get("interface_id")
    if pci_address is None:  # every region the image fits; none fitting is the refusal below
        regions = [
            r for r in regions if not wanted or not r.interface_id or r.interface_id == wanted
        ] or regions
    if not regions:
        raise Conflict(f"Host {hostname!r} reports no programmable region.")
    for region in regions:
        check_interface(region, image)
        _check_idle(session, region.device)
    return [queue_program(session, region, image, requested_by=f"agent:{hostname}") for region in regions]


def _firmware(session: Session, hostname: str, image_uuid: str, pci_address: str | None) -> list[Operation]:
    devices = _devices(session, hostname, pci_address)
    if len(devices) > 1:
        raise InvalidInput(f"Host {hostname!r} has {len(devices)} FPGAs; name the one to flash.")
    return [
        request_flash(session, devices[0], image_uuid, False, f"agent:{hostname}", require_disabled=False)
    ]


def start_own_operations(
    session: Session,
    hostname: str,
    kind: str,
    image_uuid: str,
    pci_address: str | None,
    lease: timedelta,
) -> list[Operation]:
    """Queue and lease to the node at once: `program` (every fitting region, or the named
    card's) or `firmware` (the named card, or the node's only FPGA)."""
    _bare_metal_host(session, hostname)
    operations = (_program if kind == "program" else _firmware)(session, hostname, image_uuid, pci_address)
    now = utcnow()
    for operation in operations:
        operation.state = RUNNING
        operation.attempts = 1
        operation.max_attempts = 1
        operation.started_at = now
        operation.lease_expires_at = now + lease
    session.flush()
    return operations

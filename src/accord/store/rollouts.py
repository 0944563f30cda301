"""Firmware rollout records: create a campaign from a device selection, find, list, and the
operator's pause, resume and abort. How a campaign advances is `store/rollout_steps.py`; its rules
are `domain/rollout.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from accord.domain.device_profile import looks_like_uuid
from accord.domain.errors import Conflict, InvalidInput, NotFound
from accord.domain.firmware import FirmwareTarget, target_mismatch
from accord.domain.rollout import (
    DEFAULT_CANARY,
    DEFAULT_WAVE,
    FINAL_STATES,
    ROLLOUT_STATES,
    DeviceStep,
    RolloutState,
    apply_action,
    parse_count,
    parse_policy,
    parse_wave,
    plan_waves,
)
from accord.store.firmware import firmware_image, identity
from accord.store.models import Device, FirmwareRollout, Image, RolloutDevice

SELECTOR_KEYS = ("host", "vendor", "model", "type")
ACTIVE_STATES = (RolloutState.RUNNING.value, RolloutState.PAUSED.value)


def _explicit_devices(session: Session, uuids: Sequence[str]) -> list[Device]:
    if not uuids:
        raise InvalidInput("'device_uuids' is empty; name at least one device.")
    wanted = [u.lower() for u in uuids]
    if len(set(wanted)) != len(wanted):
        raise InvalidInput("'device_uuids' names a device twice.")
    bad = [u for u in wanted if not looks_like_uuid(u)]
    if bad:
        raise InvalidInput(f"'device_uuids' holds something that is not a uuid: {bad[0]!r}.")
    found = {d.uuid: d for d in session.scalars(select(Device).where(Device.uuid.in_(wanted)))}
    missing = [u for u in wanted if u not in found]
    if missing:
        raise InvalidInput(f"No such device(s): {', '.join(missing)}.")
    return [found[u] for u in wanted]


def _selected_devices(session: Session, selector: dict[str, str]) -> list[Device]:
    if not selector:
        raise InvalidInput(f"'selector' needs at least one of {', '.join(SELECTOR_KEYS)}.")
    query = select(Device).order_by(Device.hostname, Device.pci_address)
    if "host" in selector:
        query = query.where(Device.hostname == selector["host"])
    if "vendor" in selector:
        query = query.where(Device.vendor == selector["vendor"].lower().removeprefix("0x"))
    if "type" in selector:
        query = query.where(Device.type == selector["type"].upper())
    rows = list(session.scalars(query))
    if "model" in selector:
        rows = [d for d in rows if d.model.lower() == selector["model"].lower()]
    if not rows:
        raise InvalidInput(f"No device matches the selector {selector}.")
    return rows


def _check_not_in_other_campaign(session: Session, devices: Sequence[Device]) -> None:
    busy = session.execute(
        select(RolloutDevice.device_uuid, FirmwareRollout.uuid)
        .join(FirmwareRollout, FirmwareRollout.id == RolloutDevice.rollout_id)
        .where(
            RolloutDevice.device_uuid.in_([d.uuid for d in devices]),
            FirmwareRollout.state.in_(ACTIVE_STATES)
            | RolloutDevice.step.in_((DeviceStep.DRAINING.value, DeviceStep.FLASHING.value)),
        )
        .limit(1)
    ).first()
    if busy is not None:
        raise Conflict(f"Device {busy[0]} is already in rollout {busy[1]}, which has not ended.")


def _check_targets(image: Image, devices: Sequence[Device]) -> None:
    """Refuse the whole campaign when the image's own bytes say it is not for some device."""
    target = FirmwareTarget.from_facts(image.parsed)
    misfits = [(d.uuid, reason) for d in devices if (reason := target_mismatch(target, identity(d)))]
    if misfits:
        listed = "; ".join(f"{uuid}: {reason}" for uuid, reason in misfits[:5])
        more = f" (and {len(misfits) - 5} more)" if len(misfits) > 5 else ""
        raise InvalidInput(
            f"Image {image.uuid} does not fit {len(misfits)} selected device(s): {listed}{more}."
        )


def create_rollout(session: Session, body: dict[str, Any], requested_by: str | None) -> FirmwareRollout:
    """Validate the campaign and plan its waves; nothing is touched until the reconciler starts it."""
    image = firmware_image(session, body.get("image_uuid"))
    device_uuids = body.get("device_uuids")
    selector = {k: v for k, v in (body.get("selector") or {}).items() if v is not None}
    if device_uuids is not None and selector:
        raise InvalidInput("Give either 'device_uuids' or 'selector', not both.")
    if device_uuids is None and not selector:
        raise InvalidInput("Say which devices: 'device_uuids' or a 'selector'.")
    if device_uuids is not None:
        devices = _explicit_devices(session, device_uuids)
    else:
        devices = _selected_devices(session, selector)
    _check_targets(image, devices)
    canary = parse_count("canary", body.get("canary"), DEFAULT_CANARY)
    wave = parse_wave(body.get("wave", DEFAULT_WAVE))
    max_failures = parse_count("max_failures", body.get("max_failures"), 0)
    policy = parse_policy(body.get("in_use"))
    waves = plan_waves(len(devices), canary, wave)
    _check_not_in_other_campaign(session, devices)
    rollout = FirmwareRollout(
        image_id=image.id,
        image_uuid=image.uuid,
        state=RolloutState.RUNNING.value,
        canary=canary,
        wave=str(wave),
        max_failures=max_failures,
        in_use=policy.value,
        current_wave=waves[0],
        selector=selector or {"device_uuids": [d.uuid for d in devices]},
        requested_by=requested_by,
    )
    rollout.devices = [
        RolloutDevice(
            device_id=device.id,
            device_uuid=device.uuid,
            hostname=device.hostname,
            position=position,
            wave=wave_index,
            step=DeviceStep.PENDING.value,
            was_enabled=False,
        )
        for position, (device, wave_index) in enumerate(zip(devices, waves, strict=True))
    ]
    session.add(rollout)
    session.flush()
    return rollout


def _query() -> Select[FirmwareRollout]:
    return select(FirmwareRollout).options(selectinload(FirmwareRollout.devices))


def get_rollout(session: Session, rollout_uuid: str, for_update: bool = False) -> FirmwareRollout:
    row = None
    if looks_like_uuid(rollout_uuid):
        query = _query().where(FirmwareRollout.uuid == rollout_uuid.lower())
        if for_update:
            query = query.with_for_update(of=FirmwareRollout)
        row = session.scalar(query)
    if row is None:
        raise NotFound(f"Firmware rollout {rollout_uuid} could not be found.")
    return row


def list_rollouts(session: Session, state: str | None = None) -> list[FirmwareRollout]:
    if state is not None and state not in ROLLOUT_STATES:
        raise InvalidInput(f"state must be one of {', '.join(ROLLOUT_STATES)}.")
    query = _query().order_by(FirmwareRollout.id.desc())
    if state is not None:
        query = query.where(FirmwareRollout.state == state)
    return list(session.scalars(query))


def change_state(rollout: FirmwareRollout, action: str) -> None:
    """pause, resume or abort (409 when the state does not allow it); the reconciler does the rest."""
    target = apply_action(rollout.uuid, rollout.state, action)
    rollout.state = target.value
    if target is RolloutState.ABORTED:
        rollout.reason = "aborted by an operator"


def unfinished_using_image(session: Session, image_id: int) -> str | None:
    """A rollout that may still flash this image (its deletion must wait)."""
    return session.scalar(
        select(FirmwareRollout.uuid)
        .where(
            FirmwareRollout.image_id == image_id,
            FirmwareRollout.state.notin_([s.value for s in FINAL_STATES]),
        )
        .limit(1)
    )

"""Advancing a firmware rollout by one step, inside the caller's transaction on its locked row.

Every step reads what the database holds now (devices, handles, the flash operation) and writes
the next step, so a server restarted at any moment picks the campaign up where it stood. Flashes
go through the single-device firmware path (`store/firmware.request_flash`: drained, approved,
version and target checked; one operation, never retried), and a device's step never goes back,
so a campaign flashes no device twice. Each step is audited.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.domain.context import RequestContext
from accord.domain.errors import AccordError
from accord.domain.rollout import (
    UNTOUCHED_STEPS,
    Decision,
    DeviceStep,
    Member,
    RolloutState,
    after_drain,
    decide,
    skip_before_start,
)
from accord.store import audit
from accord.store.firmware import handles_in_use, operation_in_progress, request_flash
from accord.store.host_versions import note_changed
from accord.store.models import Device, FirmwareRollout, Host, Image, Operation, RolloutDevice

Actor = RequestContext | str
RECONCILER = "accord-reconciler"


def _audit(
    session: Session,
    actor: Actor,
    rollout: FirmwareRollout,
    action: str,
    outcome: str,
    member: RolloutDevice | None = None,
    **detail: Any,
) -> None:
    audit.record(
        session,
        actor,
        f"rollout.{action}",
        "firmware_rollout",
        rollout.uuid,
        outcome,
        device_uuid=member.device_uuid if member is not None else None,
        image_uuid=rollout.image_uuid,
        wave=member.wave if member is not None else None,
        **detail,
    )


class Stepper:
    """One pass over one campaign; `hosts` collects the hosts whose devices changed status."""

    def __init__(self, session: Session, rollout: FirmwareRollout, actor: Actor) -> None:
        self.session = session
        self.rollout = rollout
        self.actor = actor
        self.image = session.get(Image, rollout.image_id) if rollout.image_id is not None else None
        self.hosts: set[str] = set()

    def device(self, member: RolloutDevice) -> Device | None:
        return self.session.get(Device, member.device_id) if member.device_id is not None else None

    def host_lost(self, device: Device) -> bool:
        return self.session.scalar(select(Host.state).where(Host.name == device.hostname)) == "lost"

    def _set_enabled(self, member: RolloutDevice, device: Device | None) -> None:
        """Give a device back: only one the campaign disabled itself, never an operator's."""
        if device is not None and member.was_enabled and device.status == "maintaining":
            device.status = "enabled"
            self.hosts.add(device.hostname)

    def skip(self, member: RolloutDevice, reason: str) -> None:
        if member.step == DeviceStep.DRAINING:
            self._set_enabled(member, self.device(member))
        member.step = DeviceStep.SKIPPED.value
        member.reason = reason
        _audit(self.session, self.actor, self.rollout, "skip", "success", member, reason=reason)

    def fail(self, member: RolloutDevice, reason: str) -> None:
        member.step = DeviceStep.FAILED.value
        member.reason = reason
        _audit(self.session, self.actor, self.rollout, "verify", "failure", member, reason=reason)

    def start(self, member: RolloutDevice) -> None:
        """pending → draining: disable the device so nothing new binds to it."""
        device = self.device(member)
        if device is None:
            self.skip(member, "the device is no longer reported")
            return
        version = self.image.version if self.image is not None else None
        reason = skip_before_start(
            device.firmware_version, version or "", device.quarantine_reason, self.host_lost(device)
        )
        if reason is not None:
            self.skip(member, reason)
            return
        member.was_enabled = device.status == "enabled"
        device.status = "maintaining"
        member.step = DeviceStep.DRAINING.value
        self.hosts.add(device.hostname)
        _audit(
            self.session, self.actor, self.rollout, "drain", "started", member, was_enabled=member.was_enabled
        )

    def drained(self, member: RolloutDevice) -> None:
        """draining → flashing once its handles are free (or skipped, by the in-use policy)."""
        device = self.device(member)
        if device is None:
            self.skip(member, "the device is no longer reported")
            return
        if device.status != "maintaining":
            member.was_enabled = False  # an operator took it back: theirs to keep enabled
            self.skip(member, "enabled again by an operator during the rollout")
            return
        if self.host_lost(device):  # its agent would never claim the flash
            self.skip(member, "its host is lost")
            return
        running = self.rollout.state == RolloutState.RUNNING
        in_use = handles_in_use(self.session, device)
        busy = operation_in_progress(self.session, device) is not None
        action = after_drain(self.rollout.in_use, running, in_use, busy)
        if action == "skip":
            self.skip(member, "attach handles in use (in_use policy: skip)")
        elif action == "flash":
            self.flash(member, device)

    def flash(self, member: RolloutDevice, device: Device) -> None:
        try:
            operation = request_flash(
                self.session, device, self.rollout.image_uuid, False, f"rollout:{self.rollout.uuid}"
            )
        except AccordError as exc:  # refused before anything was touched: the card is as it was
            self._set_enabled(member, device)
            self.fail(member, exc.message)
            return
        member.step = DeviceStep.FLASHING.value
        member.operation_uuid = operation.uuid
        _audit(
            self.session,
            self.actor,
            self.rollout,
            "flash",
            "started",
            member,
            operation_uuid=operation.uuid,
            version=operation.params.get("version"),
        )
        self.session.flush()

    def flashed(self, member: RolloutDevice) -> None:
        """flashing → succeeded (verified, given back) or failed (left drained for an operator)."""
        operation = self.session.scalar(select(Operation).where(Operation.uuid == member.operation_uuid))
        if operation is None or operation.state in ("pending", "running"):
            return
        device = self.device(member)
        expected = self.image.version if self.image is not None else None
        if operation.state != "succeeded":
            self.fail(member, operation.error or "the flash failed")
            return
        if device is None or device.firmware_version != expected:
            found = device.firmware_version if device is not None else "no device"
            self.fail(member, f"read back firmware {found!r}, expected {expected!r}")
            return
        self._set_enabled(member, device)
        member.step = DeviceStep.SUCCEEDED.value
        member.reason = None
        _audit(
            self.session,
            self.actor,
            self.rollout,
            "verify",
            "success",
            member,
            version=expected,
            operation_uuid=operation.uuid,
        )

    def progress_devices(self) -> None:
        for member in self.rollout.devices:
            if member.step == DeviceStep.FLASHING:
                self.flashed(member)
            elif member.step == DeviceStep.DRAINING:
                self.drained(member)

    def apply(self, decision: Decision) -> bool:
        """Apply the campaign's decision; True when something changed."""
        rollout = self.rollout
        changed = False
        if decision.give_up_reason is not None:
            for member in rollout.devices:
                if DeviceStep(member.step) in UNTOUCHED_STEPS:
                    self.skip(member, decision.give_up_reason)
                    changed = True
        if decision.state.value != rollout.state:
            rollout.state = decision.state.value
            changed = True
            if decision.state is RolloutState.FAILED:
                rollout.reason = decision.give_up_reason
                _audit(self.session, self.actor, rollout, "stop", "failure", reason=rollout.reason)
            elif decision.state is RolloutState.COMPLETED:
                _audit(self.session, self.actor, rollout, "complete", "success")
        if decision.current_wave != rollout.current_wave and decision.state is RolloutState.RUNNING:
            rollout.current_wave = decision.current_wave
            _audit(self.session, self.actor, rollout, "wave", "started", wave_started=rollout.current_wave)
            changed = True
        if decision.start_wave is not None:
            for member in rollout.devices:
                if member.wave == decision.start_wave and member.step == DeviceStep.PENDING:
                    self.start(member)
                    changed = True
        return changed

    def run(self) -> None:
        # A wave whose devices are all skipped ends at once, so one pass may cross several waves.
        for _ in range(len(self.rollout.devices) + 2):
            self.progress_devices()
            members = [Member(m.wave, DeviceStep(m.step)) for m in self.rollout.devices]
            decision = decide(
                self.rollout.state, self.rollout.current_wave, members, self.rollout.max_failures
            )
            if not self.apply(decision):
                break


def advance(session: Session, rollout: FirmwareRollout, actor: Actor = RECONCILER) -> set[str]:
    """Move the campaign as far as it can go now; returns the hosts whose devices changed status."""
    stepper = Stepper(session, rollout, actor)
    stepper.run()
    note_changed(session, stepper.hosts)
    return stepper.hosts


def rollouts_to_advance(session: Session) -> list[str]:
    """Campaigns with work left: running or paused, or ended with a flash still to see through."""
    live = (DeviceStep.PENDING.value, DeviceStep.DRAINING.value, DeviceStep.FLASHING.value)
    query = (
        select(FirmwareRollout.uuid)
        .where(
            FirmwareRollout.state.in_((RolloutState.RUNNING.value, RolloutState.PAUSED.value))
            | FirmwareRollout.id.in_(select(RolloutDevice.rollout_id).where(RolloutDevice.step.in_(live)))
        )
        .order_by(FirmwareRollout.id)
    )
    return list(session.scalars(query))


def lock_for_step(session: Session, rollout_uuid: str, skip_locked: bool) -> FirmwareRollout | None:
    """The campaign with its row locked, or None when another replica is stepping it right now."""
    query = select(FirmwareRollout).where(FirmwareRollout.uuid == rollout_uuid)
    query = query.with_for_update(skip_locked=skip_locked)
    return session.scalar(query)

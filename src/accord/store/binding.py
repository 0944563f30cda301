"""Bind and unbind: ARQs take and release attach handles, atomically, on both databases.

A handle is claimed by a conditional update (`in_use = false` in the WHERE clause), so two
transactions can never both take it; on PostgreSQL the candidate row is picked with
`FOR UPDATE SKIP LOCKED` so concurrent binds do not queue behind each other. Binding is
all-or-nothing per patch: if one ARQ cannot get a handle, none keeps one.

Seams for later work: `HandlePreparer`s may queue an agent operation (create an mdev, program
a bitstream) and keep the ARQ in BindStarted; a `HostChooser` places host-less binds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from accord.domain.arq import ARQState, BindRequest, check_transition
from accord.domain.context import RequestContext
from accord.domain.errors import BadState, Conflict, InvalidInput
from accord.store import quotas
from accord.store.arqs import get_arqs_for_update
from accord.store.mdev import mdev_may_exist, queue_mdev_removal
from accord.store.models import AcceleratorRequest, AttachHandle, Deployable, Device, Host, utcnow
from accord.store.operations import cancel_pending_for_arq

MAX_CLAIM_TRIES = 8
MAX_PLACEMENT_TRIES = 10


class HandlePreparer(Protocol):
    """Called after a handle is claimed. Return True when the agent must act first (the ARQ
    stays BindStarted until the operation reports), False when the handle is ready now."""

    def __call__(
        self, session: Session, arq: AcceleratorRequest, deployable: Deployable, handle: AttachHandle
    ) -> bool: ...


# Given ARQs to place host-less and deployable ids to avoid, return the deployable for each ARQ
# (all of one instance's on one host), or raise Conflict when nothing fits.
HostChooser = Callable[[Session, Sequence[AcceleratorRequest], set[int]], Sequence[Deployable]]


@dataclass
class BindResult:
    resolved: list[AcceleratorRequest] = field(default_factory=list)  # Bound or BindFailed now
    pending: list[AcceleratorRequest] = field(default_factory=list)  # waiting for the agent


def claim_free_handle(
    session: Session, deployable_id: int, arq_id: int, skip_locked: bool
) -> AttachHandle | None:
    for _ in range(MAX_CLAIM_TRIES):
        query = (
            select(AttachHandle.id)
            .where(
                AttachHandle.deployable_id == deployable_id,
                AttachHandle.in_use.is_(False),
                AttachHandle.lost.is_(False),
            )
            .order_by(AttachHandle.id)
            .limit(1)
        )
        if skip_locked:
            query = query.with_for_update(skip_locked=True)
        handle_id = session.scalar(query)
        if handle_id is None:
            return None
        claimed = session.execute(
            update(AttachHandle)
            .where(AttachHandle.id == handle_id, AttachHandle.in_use.is_(False))
            .values(in_use=True, arq_id=arq_id, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            return session.get(AttachHandle, handle_id, populate_existing=True)
    return None


def release_handle(session: Session, arq: AcceleratorRequest) -> None:
    held = session.scalars(select(AttachHandle).where(AttachHandle.arq_id == arq.id)).all()
    for handle in held:
        if handle.attach_type == "MDEV" and arq.hostname and mdev_may_exist(session, arq.id):
            queue_mdev_removal(session, handle, arq.hostname)
    session.execute(
        update(AttachHandle)
        .where(AttachHandle.arq_id == arq.id)
        .values(in_use=False, arq_id=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    # A handle the agent stopped reporting was kept only for this ARQ: now it can go.
    lost = session.scalars(
        select(AttachHandle).where(AttachHandle.lost.is_(True), AttachHandle.in_use.is_(False))
    )
    for handle in lost:
        session.delete(handle)
    arq.attach_handle = None
    arq.attach_handle_id = None
    arq.deployable_id = None


def _deployable_for(session: Session, request: BindRequest) -> Deployable:
    deployable = session.scalar(select(Deployable).where(Deployable.rp_uuid == request.device_rp_uuid))
    if deployable is None:
        raise InvalidInput(f"No deployable has device_rp_uuid {request.device_rp_uuid}.")
    device = deployable.device
    if device.hostname != request.hostname:
        known = session.scalar(select(Device.id).where(Device.hostname == request.hostname).limit(1))
        if known is None:
            raise InvalidInput(f"Host {request.hostname!r} is not known to Accord.")
        raise InvalidInput(
            f"device_rp_uuid {request.device_rp_uuid} is on host {device.hostname!r}, "
            f"not {request.hostname!r}."
        )
    return deployable


def check_bindable(session: Session, deployable: Deployable) -> None:
    device = deployable.device
    if device.status != "enabled":
        raise Conflict(f"Device {device.uuid} is disabled (maintaining); it cannot be bound.")
    if device.quarantine_reason:
        raise Conflict(f"Device {device.uuid} is quarantined: {device.quarantine_reason}")
    if device.health == "unusable" or device.lost:
        raise Conflict(f"Device {device.uuid} cannot be used: {'; '.join(device.health_reasons) or 'lost'}.")
    host = session.scalar(select(Host).where(Host.name == device.hostname))
    if host is not None and host.state == "lost":
        raise Conflict(f"Host {device.hostname!r} has stopped reporting; its devices cannot be bound.")


def _all_bindable(
    session: Session, targets: dict[str, Deployable], explicit: dict[str, Deployable], excluded: set[int]
) -> bool:
    """Nova's explicit targets must be bindable (else the request is refused); a host-less
    target that is not is excluded, and the caller places again."""
    ok = True
    for arq_uuid, deployable in targets.items():
        try:
            check_bindable(session, deployable)
        except Conflict:
            if arq_uuid in explicit:
                raise
            excluded.add(deployable.id)
            ok = False
    return ok


def _check_instance_free(session: Session, instance_uuid: str, arq_ids: set[int]) -> None:
    other = session.scalar(
        select(AcceleratorRequest.uuid)
        .where(
            AcceleratorRequest.instance_uuid == instance_uuid,
            AcceleratorRequest.id.not_in(arq_ids),
        )
        .limit(1)
    )
    if other is not None:
        raise InvalidInput(
            f"Instance {instance_uuid} already has accelerator request {other}; "
            "unbind or delete it before binding others."
        )


def bind_arqs(
    session: Session,
    ctx: RequestContext,
    requests: Sequence[BindRequest],
    preparers: Sequence[HandlePreparer] = (),
    chooser: HostChooser | None = None,
    skip_locked: bool = False,
) -> BindResult:
    """Validate every request (raising stores nothing), then claim handles all-or-nothing."""
    arqs = get_arqs_for_update(session, ctx, [r.arq_uuid for r in requests])
    by_uuid = {a.uuid: a for a in arqs}
    for arq in arqs:
        if arq.state not in (ARQState.INITIAL.value, ARQState.UNBOUND.value):
            raise BadState(
                f"Accelerator request {arq.uuid} is {arq.state}; only Initial or Unbound ARQs can be bound."
            )
    ids = {a.id for a in arqs}
    for instance in {r.instance_uuid for r in requests}:
        _check_instance_free(session, instance, ids)

    explicit = {r.arq_uuid: _deployable_for(session, r) for r in requests if r.device_rp_uuid is not None}
    hostless = [r for r in requests if r.device_rp_uuid is None]
    if hostless and chooser is None:
        raise InvalidInput(
            "Host-less binding is not enabled on this server; give /hostname and /device_rp_uuid."
        )
    for arq in arqs:
        check_transition(arq.state, ARQState.BIND_STARTED)
    excluded: set[int] = set()
    failure = ""
    for _attempt in range(MAX_PLACEMENT_TRIES if hostless else 1):
        targets = dict(explicit)
        if hostless:
            assert chooser is not None
            chosen = chooser(session, [by_uuid[r.arq_uuid] for r in hostless], excluded)
            targets.update({r.arq_uuid: d for r, d in zip(hostless, chosen, strict=True)})
        if not _all_bindable(session, targets, explicit, excluded):
            failure = "the chosen devices stopped being usable"
            continue  # the scheduler proposed from a view older than the store: place again
        quotas.enforce(
            session,
            [
                (
                    r.project_id or by_uuid[r.arq_uuid].project_id or ctx.project_id,
                    targets[r.arq_uuid].resource_class,
                )
                for r in requests
            ],
        )
        _mark_started(ctx, requests, by_uuid, targets)
        session.flush()
        claimed, failure, full = _claim_all(session, requests, by_uuid, targets, skip_locked)
        if claimed is not None:
            return _prepare(session, claimed, preparers)
        if not hostless:
            return _fail_all(requests, by_uuid, failure)
        excluded.add(full)  # lost a race for it: place again on fresh data
    raise Conflict(f"Could not place the accelerator requests after {MAX_PLACEMENT_TRIES} tries: {failure}")


def _mark_started(
    ctx: RequestContext,
    requests: Sequence[BindRequest],
    by_uuid: dict[str, AcceleratorRequest],
    targets: dict[str, Deployable],
) -> None:
    now = utcnow()
    for request in requests:
        arq, deployable = by_uuid[request.arq_uuid], targets[request.arq_uuid]
        arq.state = ARQState.BIND_STARTED.value
        arq.hostname = deployable.device.hostname
        arq.device_rp_uuid = deployable.rp_uuid
        arq.instance_uuid = request.instance_uuid
        arq.project_id = request.project_id or arq.project_id or ctx.project_id
        arq.bind_started_at = now
        arq.failure_reason = None


Claimed = list[tuple[AcceleratorRequest, Deployable, AttachHandle]]


def _claim_all(
    session: Session,
    requests: Sequence[BindRequest],
    by_uuid: dict[str, AcceleratorRequest],
    targets: dict[str, Deployable],
    skip_locked: bool,
) -> tuple[Claimed | None, str, int]:
    """Claim one handle per ARQ inside a savepoint; on any miss undo them all.
    Returns (claimed, "", 0) or (None, reason, id of the deployable that had no free handle)."""
    savepoint = session.begin_nested()
    claimed: Claimed = []
    for request in requests:
        arq, deployable = by_uuid[request.arq_uuid], targets[request.arq_uuid]
        handle = claim_free_handle(session, deployable.id, arq.id, skip_locked)
        if handle is None:
            savepoint.rollback()
            return (
                None,
                f"No free attach handle on deployable {deployable.uuid} (rp {deployable.rp_uuid}).",
                deployable.id,
            )
        claimed.append((arq, deployable, handle))
    savepoint.commit()
    return claimed, "", 0


def _fail_all(
    requests: Sequence[BindRequest], by_uuid: dict[str, AcceleratorRequest], reason: str
) -> BindResult:
    result = BindResult()
    for request in requests:
        arq = by_uuid[request.arq_uuid]
        arq.state = ARQState.BIND_FAILED.value
        arq.failure_reason = reason
        result.resolved.append(arq)
    return result


def _prepare(session: Session, claimed: Claimed, preparers: Sequence[HandlePreparer]) -> BindResult:
    result = BindResult()
    for arq, deployable, handle in claimed:
        arq.attach_handle_id = handle.id
        arq.attach_handle = handle
        arq.deployable_id = deployable.id
        if any(prepare(session, arq, deployable, handle) for prepare in preparers):
            result.pending.append(arq)
        else:
            arq.state = ARQState.BOUND.value
            result.resolved.append(arq)
    return result


def fail_bind(session: Session, arq: AcceleratorRequest, reason: str) -> None:
    """BindStarted/Bound → BindFailed, releasing the handle (used by timeouts and operations)."""
    check_transition(arq.state, ARQState.BIND_FAILED)
    cancel_pending_for_arq(session, arq.id, reason)
    release_handle(session, arq)
    arq.state = ARQState.BIND_FAILED.value
    arq.failure_reason = reason


def unbind_arqs(session: Session, arqs: Sequence[AcceleratorRequest]) -> None:
    for arq in arqs:
        if arq.state == ARQState.UNBOUND.value:
            continue  # unbinding twice is harmless, as in Cyborg
        check_transition(arq.state, ARQState.UNBOUND)
        cancel_pending_for_arq(session, arq.id, "the accelerator request was unbound")
        release_handle(session, arq)
        arq.state = ARQState.UNBOUND.value
        arq.hostname = None
        arq.device_rp_uuid = None
        arq.instance_uuid = None
        arq.bind_started_at = None
        arq.failure_reason = None

"""Attach handles taken and released, atomically, on both databases (the bind use case is in
`services/binding.py`).

A handle is claimed by a conditional update (`in_use = false` in the WHERE clause), so two
transactions can never both take it; on PostgreSQL the candidate row is picked with
`FOR UPDATE SKIP LOCKED` so concurrent binds do not queue behind each other. Binding is
all-or-nothing per patch: if one ARQ cannot get a handle, none keeps one.

Seams for later work: `HandlePreparer`s may queue an agent operation (create an mdev, program
a bitstream) and keep the ARQ in BindStarted; a `HostChooser` places host-less binds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.orm import Session, contains_eager

from accord.domain.arq import ARQState, BindRequest, check_transition
from accord.domain.errors import InvalidInput, PartitionConflict
from accord.domain.matching import Offer
from accord.domain.usability import DeviceCondition
from accord.store.host_versions import note_changed, note_usage
from accord.store.mdev import mdev_may_exist, queue_mdev_removal
from accord.store.models import AcceleratorRequest, AttachHandle, Attribute, Deployable, Device, Host, utcnow
from accord.store.operations import cancel_pending_for_arq
from accord.store.partitions import guard_partitions


class HandlePreparer(Protocol):
    """Called after a handle is claimed. Return True when the agent must act first (the ARQ
    stays BindStarted until the operation reports), False when the handle is ready now."""

    def __call__(
        self, session: Session, arq: AcceleratorRequest, deployable: Deployable, handle: AttachHandle
    ) -> bool: ...


# Given ARQs to place host-less and deployable ids to avoid, return the deployable for each ARQ
# (all of one instance's on one host), or raise Conflict when nothing fits.
HostChooser = Callable[[Session, Sequence[AcceleratorRequest], set[int]], Sequence[Deployable]]


_HANDLES = cast(Table, AttachHandle.__table__)


@cache
def _claim_statement(skip_locked: bool) -> Any:
    pick = (
        select(_HANDLES.c.id)
        .where(
            _HANDLES.c.deployable_id == bindparam("target"),
            _HANDLES.c.in_use.is_(False),
            _HANDLES.c.lost.is_(False),
        )
        .order_by(_HANDLES.c.id)
        .limit(1)
    )
    if skip_locked:
        pick = pick.with_for_update(skip_locked=True)
    # A Core statement on the table: the ORM's bulk-update path (and loading the row into the
    # identity map) cost more CPU than the statement itself.
    return (
        update(_HANDLES)
        .where(_HANDLES.c.id == pick.scalar_subquery(), _HANDLES.c.in_use.is_(False))
        .values(in_use=True, arq_id=bindparam("holder"), updated_at=bindparam("now"))
        .returning(*_HANDLES.c)
    )


def claim_free_handle(
    session: Session, deployable_id: int, arq_id: int, skip_locked: bool
) -> AttachHandle | None:
    """One statement: take the first free handle and return it. On PostgreSQL the subquery locks
    the row it picks (skipping rows other binds hold), so the UPDATE cannot lose it; on SQLite the
    write transaction already holds the database. (Built once: see `_claim_statement`.)

    The handle comes back as a transient object carrying the row as it now is (held by
    `arq_id`), not one of the session's: it is for reading (the preparers), and the claim is
    already written. Callers link an ARQ to it by `attach_handle_id`."""
    params = {"target": deployable_id, "holder": arq_id, "now": utcnow()}
    row = session.connection().execute(_claim_statement(skip_locked), params).first()
    if row is None:
        return None
    return AttachHandle(**row._mapping)


_RELEASE = (
    update(AttachHandle)
    .where(AttachHandle.arq_id == bindparam("holder"))
    .values(in_use=False, arq_id=None, updated_at=bindparam("now"))
    .returning(AttachHandle)
    .execution_options(synchronize_session=False, populate_existing=True)
)


def release_handle(session: Session, arq: AcceleratorRequest) -> None:
    held = session.scalars(_RELEASE, {"holder": arq.id, "now": utcnow()}).all()
    for handle in held:
        if not handle.lost:  # a lost handle was not counted: giving it back changes no count
            note_usage(session, arq.hostname, arq.device_rp_uuid, -1)
        if handle.attach_type == "MDEV" and arq.hostname and mdev_may_exist(session, arq.id):
            queue_mdev_removal(session, handle, arq.hostname)
    gone = {h.deployable_id for h in held if h.lost}
    if gone:
        # Handles the agent stopped reporting were kept only while held: now they can go.
        session.execute(
            delete(AttachHandle)
            .where(
                AttachHandle.deployable_id.in_(gone),
                AttachHandle.lost.is_(True),
                AttachHandle.in_use.is_(False),
            )
            .execution_options(synchronize_session=False)
        )
    arq.attach_handle = None
    arq.attach_handle_id = None
    arq.deployable_id = None


# Joins trait values in one column; no trait (an uppercase OpenStack trait name) contains it.
TRAIT_SEPARATOR = "\x1f"


_TARGETS = (
    select(
        Deployable,
        Host.state,
        select(func.aggregate_strings(Attribute.value, TRAIT_SEPARATOR))
        .where(Attribute.deployable_id == Deployable.id, Attribute.key.like("trait%"))
        .scalar_subquery(),
    )
    .join(Deployable.device)
    .outerjoin(Host, Host.name == Device.hostname)
    .options(contains_eager(Deployable.device))
    .where(Deployable.rp_uuid.in_(bindparam("rps", expanding=True)))
)


@dataclass(frozen=True)
class Target:
    """A deployable a bind names, read once with what the checks need: its device, the state of
    the device's host and its traits."""

    deployable: Deployable
    host_state: str | None
    traits: frozenset[str]


def targets_for(session: Session, requests: Sequence[BindRequest]) -> dict[str, Target]:
    """ARQ uuid → the deployable each Nova-style bind names, on the host it names (one query for
    them all); anything else is a 400."""
    named = [r for r in requests if r.device_rp_uuid is not None]
    if not named:
        return {}
    rows = session.execute(_TARGETS, {"rps": sorted({r.device_rp_uuid or "" for r in named})})
    by_rp = {
        d.rp_uuid: Target(d, state, frozenset(joined.split(TRAIT_SEPARATOR)) if joined else frozenset())
        for d, state, joined in rows
    }
    found: dict[str, Target] = {}
    for request in named:
        target = by_rp.get(request.device_rp_uuid or "")
        if target is None:
            raise InvalidInput(f"No deployable has device_rp_uuid {request.device_rp_uuid}.")
        device = target.deployable.device
        if device.hostname != request.hostname:
            known = session.scalar(select(Device.id).where(Device.hostname == request.hostname).limit(1))
            if known is None:
                raise InvalidInput(f"Host {request.hostname!r} is not known to Accord.")
            raise InvalidInput(
                f"device_rp_uuid {request.device_rp_uuid} is on host {device.hostname!r}, "
                f"not {request.hostname!r}."
            )
        found[request.arq_uuid] = target
    return found


def device_condition(session: Session, device: Device) -> DeviceCondition:
    return condition_of(device, session.scalar(select(Host.state).where(Host.name == device.hostname)))


def condition_of(device: Device, host_state: str | None) -> DeviceCondition:
    """`host_state`: the state of the device's host row (None: no row)."""
    return DeviceCondition(
        uuid=device.uuid,
        status=device.status,
        health=device.health,
        health_reasons=tuple(device.health_reasons or ()),
        lost=device.lost,
        quarantine_reason=device.quarantine_reason,
        hostname=device.hostname,
        host_lost=host_state in ("lost", "in use"),
    )


def offer_of(session: Session, deployable: Deployable, traits: frozenset[str] | None = None) -> Offer:
    """`traits`: the deployable's traits when the caller already read them (else read here)."""
    if traits is None:
        traits = frozenset(
            session.scalars(
                select(Attribute.value).where(
                    Attribute.deployable_id == deployable.id, Attribute.key.like("trait%")
                )
            )
        )
    return Offer(
        name=deployable.name,
        resource_class=deployable.resource_class,
        traits=traits,
        function_id=deployable.function_id,
        bitstream_id=deployable.bitstream_id,
        programmable=bool(deployable.interface_id),
    )


def check_instance_free(session: Session, instance_uuid: str, arq_ids: set[int]) -> None:
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


Claimed = list[tuple[AcceleratorRequest, Deployable, AttachHandle]]


def claim_all(
    session: Session,
    requests: Sequence[BindRequest],
    by_uuid: dict[str, AcceleratorRequest],
    targets: dict[str, Deployable],
    skip_locked: bool,
) -> tuple[Claimed | None, str, int]:
    """Claim one handle per ARQ inside a savepoint; on any miss undo them all. Partitioned
    devices are then checked as a whole (PartitionConflict: an overdraw or exclusive types mixed).
    Returns (claimed, "", 0) or (None, reason, id of the deployable that had no free handle).
    A single claim on an unpartitioned device needs no savepoint: when it misses, nothing was taken."""
    partitioned = any(targets[r.arq_uuid].partition for r in requests)
    savepoint = session.begin_nested() if len(requests) > 1 or partitioned else None
    claimed: Claimed = []
    for request in requests:
        arq, deployable = by_uuid[request.arq_uuid], targets[request.arq_uuid]
        handle = claim_free_handle(session, deployable.id, arq.id, skip_locked)
        if handle is None:
            if savepoint is not None:
                savepoint.rollback()
            return (
                None,
                f"No free attach handle on deployable {deployable.uuid} (rp {deployable.rp_uuid}).",
                deployable.id,
            )
        claimed.append((arq, deployable, handle))
    refused = guard_partitions(session, {d.device_id for _, d, _ in claimed if d.partition})
    if refused is not None:
        assert savepoint is not None  # taken whenever a partitioned device is claimed
        savepoint.rollback()
        ids = frozenset(d.id for _, d, _ in claimed if d.partition)
        raise PartitionConflict(f"The bind was refused: {refused}.", ids)
    if savepoint is not None:
        savepoint.commit()
    for _, deployable, _ in claimed:
        hostname = deployable.device.hostname
        if deployable.partition:  # its device's other partitions can take less now, too
            note_changed(session, [hostname])
        else:
            note_usage(session, hostname, deployable.rp_uuid, 1)
    return claimed, "", 0


def fail_bind(session: Session, arq: AcceleratorRequest, reason: str) -> None:
    """BindStarted/Bound → BindFailed, releasing the handle (used by timeouts and operations)."""
    check_transition(arq.state, ARQState.BIND_FAILED)
    cancel_pending_for_arq(session, arq.id, reason)
    release_handle(session, arq)
    arq.state = ARQState.BIND_FAILED.value
    arq.failure_reason = reason


def unbind_arqs(
    session: Session, arqs: Sequence[AcceleratorRequest], waited_on: set[int] | None = None
) -> None:
    """`waited_on`: ids of the ARQs queued operations wait on, when the caller already knows
    (the others need no cancelling); None: look for each."""
    for arq in arqs:
        if arq.state == ARQState.UNBOUND.value:
            continue  # unbinding twice is harmless, as in Cyborg
        check_transition(arq.state, ARQState.UNBOUND)
        if waited_on is None or arq.id in waited_on:
            cancel_pending_for_arq(session, arq.id, "the accelerator request was unbound")
        release_handle(session, arq)
        arq.state = ARQState.UNBOUND.value
        arq.hostname = None
        arq.device_rp_uuid = None
        arq.instance_uuid = None
        arq.bind_started_at = None
        arq.failure_reason = None

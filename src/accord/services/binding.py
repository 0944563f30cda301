"""Binding use cases: create ARQs, bind and unbind them (Nova's PATCH), delete them.

A bind validates everything first (unknown host, rp or ARQ, a device that may not be used, a
deployable that does not offer what the group asks for, quota: a 4xx, nothing stored), then claims
one free attach handle per ARQ all-or-nothing through the store. Host-less binds are placed by the
scheduler and placed again when they lose a race. The outcome names the ARQs resolved now, so
Nova hears of them after the commit (the scheduler index hears of the hosts from the commit
itself: `store/host_versions.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from accord.domain.arq import ARQState, BindRequest, PatchPlan, check_transition
from accord.domain.context import RequestContext
from accord.domain.device_profile import parse_group
from accord.domain.errors import BadState, Conflict, InvalidInput, PartitionConflict
from accord.domain.matching import group_mismatch
from accord.domain.usability import unusable_reason
from accord.services.app import Services
from accord.services.auditing import refusals_audited
from accord.store import arq_rows, audit, quotas
from accord.store import arqs as arq_store
from accord.store.binding import (
    Claimed,
    HandlePreparer,
    HostChooser,
    Target,
    check_instance_free,
    claim_all,
    condition_of,
    device_condition,
    offer_of,
    targets_for,
    unbind_arqs,
)
from accord.store.models import AcceleratorRequest, Deployable, utcnow

MAX_PLACEMENT_TRIES = 10


@dataclass
class BindOutcome:
    resolved: list[AcceleratorRequest] = field(default_factory=list)  # Bound or BindFailed now
    pending: list[AcceleratorRequest] = field(default_factory=list)  # waiting for the agent
    devices: dict[str, str] = field(default_factory=dict)  # ARQ uuid → device uuid, for the audit


def create_arqs(
    services: Services, ctx: RequestContext, profile_name: str, group: int | None
) -> list[arq_rows.NewArq]:
    with services.db.write_core() as conn:
        return arq_rows.create_arqs(conn, ctx, profile_name, group)


def apply_patch(services: Services, ctx: RequestContext, plan: PatchPlan) -> BindOutcome:
    """Bind or unbind (a patch is all one or the other), then tell Nova (the scheduler index hears
    of the hosts from the commit itself: `store/host_versions.py`)."""
    arqs = [b.arq_uuid for b in plan.binds] or [u.arq_uuid for u in plan.unbinds]
    action = "arq.bind" if plan.binds else "arq.unbind"
    target = arqs[0] if len(arqs) == 1 else None
    with (
        refusals_audited(services.db, ctx, action, "accelerator_request", target, arqs=arqs),
        services.db.write() as session,
    ):
        if plan.binds:
            outcome = bind_arqs(
                session,
                ctx,
                plan.binds,
                services.preparers,
                services.chooser,
                skip_locked=not services.db.is_sqlite,
            )
            done = [*outcome.resolved, *outcome.pending]
            with session.no_autoflush:  # the ARQs are written by write_bind, not the unit of work
                audit.arq_events(session, ctx, "arq.bind", [(a, outcome.devices.get(a.uuid)) for a in done])
                arq_store.write_bind(session, done)
        else:
            outcome = BindOutcome()
            found = arq_store.lock_for_release(session, ctx, [u.arq_uuid for u in plan.unbinds], None)
            audit.arq_events(session, ctx, "arq.unbind", [(f.arq, f.device_uuid) for f in found], "success")
            unbind_arqs(session, [f.arq for f in found], waited_on={f.arq.id for f in found if f.has_pending})
    services.notify_resolved(outcome.resolved)
    return outcome


def delete_arqs(
    services: Services, ctx: RequestContext, arq_uuids: Sequence[str] | None, instance: str | None
) -> None:
    """Delete named ARQs, or every ARQ of an instance (a service's call); bound ones are unbound."""
    if arq_uuids is not None:
        _delete_named(services, ctx, arq_uuids)
        return
    with services.db.write() as session:
        found = arq_store.lock_for_release(session, ctx, arq_uuids, instance)
        rows = [f.arq for f in found]
        audit.arq_events(session, ctx, "arq.delete", [(f.arq, f.device_uuid) for f in found], "success")
        # The rows go next: their unbound state need not be written first.
        with session.no_autoflush:
            unbind_arqs(
                session,
                [r for r in rows if r.state not in ("Initial", "Unbound")],
                waited_on={f.arq.id for f in found if f.has_pending},
            )
        for arq in rows:
            session.expunge(arq)
        arq_store.delete_rows(session, rows)


def _delete_named(services: Services, ctx: RequestContext, arq_uuids: Sequence[str]) -> None:
    """All or nothing: an ARQ not found is a 404, and a bound one needs a service. Core
    statements on the write session's connection: the session only carries the unbind (and the
    hosts it frees, for the scheduler index)."""
    with services.db.write() as session:
        conn = session.connection()
        found = arq_rows.lock_for_delete(conn, ctx, arq_uuids)
        arq_rows.require_service_for_bound(ctx, found)
        audit.arq_events(conn, ctx, "arq.delete", [(a, a.device_uuid) for a in found], "success")
        arq_rows.unbind_before_delete(session, found)
        arq_rows.delete_rows(conn, found)


def check_bindable(session: Session, deployable: Deployable, known: Target | None = None) -> None:
    """A device that may not be used now (disabled, quarantined, unusable, lost host) refuses binds.
    `known`: the target as already read with its host's state (else it is read here)."""
    condition = (
        condition_of(deployable.device, known.host_state)
        if known is not None
        else device_condition(session, deployable.device)
    )
    reason = unusable_reason(condition)
    if reason is not None:
        raise Conflict(reason)


def check_matches(session: Session, arq: AcceleratorRequest, target: Target) -> None:
    """The deployable must offer what the ARQ's group asks for (resource class, traits, accel:)."""
    deployable = target.deployable
    group = parse_group(arq.device_profile_group_id, arq.device_profile_group)
    mismatch = group_mismatch(group, offer_of(session, deployable, target.traits))
    if mismatch is not None:
        raise InvalidInput(
            f"Deployable {deployable.uuid} (rp {deployable.rp_uuid}) cannot serve accelerator request "
            f"{arq.uuid}: it {mismatch}."
        )


def _all_bindable(
    session: Session, targets: dict[str, Deployable], explicit: dict[str, Target], excluded: set[int]
) -> bool:
    """Nova's explicit targets must be bindable (else the request is refused); a host-less
    target that is not is excluded, and the caller places again."""
    ok = True
    for arq_uuid, deployable in targets.items():
        try:
            check_bindable(session, deployable, explicit.get(arq_uuid))
        except Conflict:
            if arq_uuid in explicit:
                raise
            excluded.add(deployable.id)
            ok = False
    return ok


def bind_arqs(
    session: Session,
    ctx: RequestContext,
    requests: Sequence[BindRequest],
    preparers: Sequence[HandlePreparer] = (),
    chooser: HostChooser | None = None,
    skip_locked: bool = False,
) -> BindOutcome:
    """Validate every request (raising stores nothing), then claim handles all-or-nothing."""
    instances = {r.instance_uuid for r in requests}
    charged = {p for p in (*(r.project_id for r in requests), ctx.project_id) if p is not None}
    locked = arq_store.lock_for_bind(
        session,
        ctx,
        [r.arq_uuid for r in requests],
        next(iter(instances)) if len(instances) == 1 else None,
        charged,
    )
    arqs = locked.arqs
    by_uuid = {r.arq_uuid: a for r, a in zip(requests, arqs, strict=True)}
    for arq in arqs:
        if arq.state not in (ARQState.INITIAL.value, ARQState.UNBOUND.value):
            raise BadState(
                f"Accelerator request {arq.uuid} is {arq.state}; only Initial or Unbound ARQs can be bound."
            )
    if len(instances) == 1:
        if locked.instance_taken is not None:
            raise InvalidInput(
                f"Instance {next(iter(instances))} already has accelerator request {locked.instance_taken}; "
                "unbind or delete it before binding others."
            )
    else:
        ids = {a.id for a in arqs}
        for instance in instances:
            check_instance_free(session, instance, ids)

    explicit = targets_for(session, requests)
    for arq_uuid, target in explicit.items():
        check_matches(session, by_uuid[arq_uuid], target)
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
        targets = {arq_uuid: target.deployable for arq_uuid, target in explicit.items()}
        if hostless:
            assert chooser is not None
            chosen = chooser(session, [by_uuid[r.arq_uuid] for r in hostless], excluded)
            targets.update({r.arq_uuid: d for r, d in zip(hostless, chosen, strict=True)})
        if not _all_bindable(session, targets, explicit, excluded):
            failure = "the chosen devices stopped being usable"
            continue  # the scheduler proposed from a view older than the store: place again
        if locked.quotas_apply:  # no quota row for any project charged: nothing to count or lock
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
        # Claim first, then change the ARQs: they are written once, at commit.
        try:
            claimed, failure, full = claim_all(session, requests, by_uuid, targets, skip_locked)
        except PartitionConflict as refused:
            if not hostless or refused.deployable_ids & {t.deployable.id for t in explicit.values()}:
                raise  # 409, nothing stored: Nova's named target cannot coexist with what is there
            excluded.update(refused.deployable_ids)
            failure = refused.message
            continue
        if claimed is not None:
            _mark_started(ctx, requests, by_uuid, targets)
            return _prepare(session, claimed, preparers)
        if not hostless:
            _mark_started(ctx, requests, by_uuid, targets)
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


def _fail_all(
    requests: Sequence[BindRequest], by_uuid: dict[str, AcceleratorRequest], reason: str
) -> BindOutcome:
    outcome = BindOutcome()
    for request in requests:
        arq = by_uuid[request.arq_uuid]
        arq.state = ARQState.BIND_FAILED.value
        arq.failure_reason = reason
        outcome.resolved.append(arq)
    return outcome


def _prepare(session: Session, claimed: Claimed, preparers: Sequence[HandlePreparer]) -> BindOutcome:
    outcome = BindOutcome()
    for arq, deployable, handle in claimed:
        arq.attach_handle_id = handle.id  # the handle is the claim's copy, not the session's
        arq.deployable_id = deployable.id
        outcome.devices[arq.uuid] = deployable.device.uuid
        if any(prepare(session, arq, deployable, handle) for prepare in preparers):
            outcome.pending.append(arq)
        else:
            arq.state = ARQState.BOUND.value
            outcome.resolved.append(arq)
    return outcome

"""Partitioned devices read from the store, and the device-level guard that keeps binds on them
atomic (the rules themselves are in `domain/partitions.py`).

The guard is the handle claim's discipline one level up: after a bind has claimed its handles
(in its savepoint), every partitioned device it touched is checked against the rules with the
usage this transaction sees, and its `partition_version` is then moved on by a conditional
update (`WHERE partition_version = <the value read before the check>`). Two binds racing on one
device (two server replicas on PostgreSQL) cannot both pass: the second one's update waits for
the first one's row lock, finds the version moved and reads again, now seeing the first one's
handles, and the rules refuse it. On SQLite writers are serialized anyway.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, case, func, select, update
from sqlalchemy.orm import Session

from accord.domain.errors import InvalidInput
from accord.domain.partitions import (
    CounterSets,
    Part,
    PartitionSpec,
    capacities,
    coexists,
    mirrored_part,
    real_totals,
    violation,
)
from accord.scheduler.model import Candidate, Request
from accord.store.models import AttachHandle, Deployable, Device

MAX_GUARD_TRIES = 8


@dataclass
class PartitionedDevice:
    device_id: int
    counter_sets: CounterSets
    pinned: str | None
    parts: list[Part] = field(default_factory=list)
    deployable_ids: dict[str, int] = field(default_factory=dict)  # part key (uuid) -> row id
    names: dict[str, str] = field(default_factory=dict)  # part key -> name used in messages

    def totals(self) -> dict[int, int]:
        """Deployable id -> units it can really have at once now."""
        found = real_totals(self.counter_sets, self.parts)
        return {self.deployable_ids[key]: total for key, total in found.items()}


def load_partitioned(
    session: Session, device_ids: Iterable[int] | Select[Any] | None = None
) -> dict[int, PartitionedDevice]:
    """Every partitioned device (or those named: ids, or a query of ids), with its parts' handle
    counts; three queries. The later two select by a subquery, not by a list of ids: a fleet's
    index rebuild names thousands of devices, and binding that many parameters cost more than
    running the queries."""
    wanted = select(Device.id).where(Device.counter_sets.is_not(None))
    if device_ids is not None:
        wanted = wanted.where(
            Device.id.in_(device_ids if isinstance(device_ids, Select) else set(device_ids))
        )
    devices = {
        dev_id: PartitionedDevice(dev_id, counters or {}, pinned or preferred)
        for dev_id, counters, pinned, preferred in session.execute(
            select(Device.id, Device.counter_sets, Device.pinned_part_type, Device.preferred_part_type).where(
                Device.id.in_(wanted)
            )
        )
    }
    if not devices:
        return {}
    parts = (Deployable.device_id.in_(wanted), Deployable.partition.is_not(None))
    rows = session.execute(
        select(Deployable.id, Deployable.uuid, Deployable.device_id, Deployable.partition).where(*parts)
    ).all()
    counts = {
        dep_id: (total, int(used or 0))
        for dep_id, total, used in session.execute(
            select(
                AttachHandle.deployable_id,
                func.count(),
                func.sum(case((AttachHandle.in_use.is_(True), 1), else_=0)),
            )
            .join(Deployable, Deployable.id == AttachHandle.deployable_id)
            .where(*parts, AttachHandle.lost.is_(False))
            .group_by(AttachHandle.deployable_id)
        )
    }
    for dep_id, dep_uuid, device_id, raw in rows:
        spec = PartitionSpec.from_json(raw)
        if spec is None or device_id not in devices:  # a device that turned partitioned meanwhile
            continue
        total, used = counts.get(dep_id, (0, 0))
        device = devices[device_id]
        device.parts.append(Part(dep_uuid, spec, total, used))
        device.deployable_ids[dep_uuid] = dep_id
        device.names[dep_uuid] = spec.part_type or dep_uuid
    return devices


def real_totals_by_deployable(session: Session, device_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Deployable id -> what it can really have at once now, for partitions only."""
    found: dict[int, int] = {}
    for device in load_partitioned(session, device_ids).values():
        found.update(device.totals())
    return found


def guard_partitions(session: Session, device_ids: Iterable[int]) -> str | None:
    """Check the usage this transaction sees on each partitioned device and move its version on
    (conditional update, retried when another transaction moved it first). Returns why the
    usage cannot exist, or None; call it after claiming handles, inside the claim's savepoint."""
    for device_id in sorted(set(device_ids)):  # one order everywhere: no deadlocks between binds
        for _ in range(MAX_GUARD_TRIES):
            version = session.scalar(select(Device.partition_version).where(Device.id == device_id))
            device = load_partitioned(session, [device_id]).get(device_id)
            if device is None or not device.parts:
                break
            reason = violation(device.counter_sets, device.parts, device.names)
            if reason is not None:
                return reason
            moved = session.execute(
                update(Device)
                .where(Device.id == device_id, Device.partition_version == version)
                .values(partition_version=(version or 0) + 1)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount == 1:  # type: ignore[attr-defined]
                break
        else:
            return "the device changed under too many concurrent binds; try again"
    return None


def free_units(session: Session, deployable_ids: list[int] | Select[Any]) -> dict[int, int]:
    """Deployable id -> units it can still take now, for the partitions among `deployable_ids`
    (ids, or a query of them; the scheduler caps their free inventory with it)."""
    devices = (
        select(Deployable.device_id)
        .where(Deployable.id.in_(deployable_ids), Deployable.partition.is_not(None))
        .distinct()
    )
    found: dict[int, int] = {}
    for device in load_partitioned(session, devices).values():
        free = capacities(device.counter_sets, device.parts)
        found.update({device.deployable_ids[key]: units for key, units in free.items()})
    return found


def pin_part_type(session: Session, device: Device, part_type: str | None) -> str | None:
    """Pin (or with None unpin) the type a counter-less mirror shows for this device; returns
    the type mirrored now (the one in use wins over the pin: a busy GPU never switches)."""
    partitioned = load_partitioned(session, [device.id]).get(device.id)
    types: list[str] = sorted(
        {p.spec.part_type or "" for p in partitioned.parts if p.spec.exclusive_group} - {""}
        if partitioned
        else set()
    )
    if part_type is not None and part_type not in types:
        offered = ", ".join(t for t in types if t) or "none"
        raise InvalidInput(
            f"Device {device.uuid} has no partition type {part_type!r} (it offers: {offered})."
        )
    device.pinned_part_type = part_type
    assert partitioned is not None or part_type is None
    return mirrored_type(partitioned, part_type or device.preferred_part_type) if partitioned else None


def mirrored_type(device: PartitionedDevice, pinned: str | None) -> str | None:
    chosen = mirrored_part(device.parts, pinned, device.counter_sets)
    keys = set(chosen.values())
    return next((p.spec.part_type for p in device.parts if p.key in keys), None)


def drop_conflicting(session: Session, candidates: list[Candidate], request: Request) -> list[Candidate]:
    """Candidates whose groups share a partitioned device must also coexist there (the scheduler
    checks each provider alone: two groups asking two exclusive types of one GPU would pass)."""
    units = {g.group_id: sum(g.resources.values()) for g in request.groups}
    shared = [c for c in candidates if len({g.device_uuid for g in c.groups}) < len(c.groups)]
    if not shared:
        return candidates
    uuids = {g.device_uuid for c in shared for g in c.groups}
    ids: dict[str, int] = {
        u: i for u, i in session.execute(select(Device.uuid, Device.id).where(Device.uuid.in_(uuids)))
    }
    devices = load_partitioned(session, ids.values())
    kept = []
    for candidate in candidates:
        added: dict[int, dict[str, int]] = defaultdict(dict)
        for group in candidate.groups:
            per_device = added[ids.get(group.device_uuid, -1)]
            per_device[group.deployable_uuid] = (
                per_device.get(group.deployable_uuid, 0) + units[group.group_id]
            )
        if all(
            dev_id not in devices or coexists(devices[dev_id].counter_sets, devices[dev_id].parts, adds)
            for dev_id, adds in added.items()
        ):
            kept.append(candidate)
    return kept

"""Apply a whole-host inventory snapshot as one transactional diff; heartbeats; lost hosts.

Idempotent: a repeated snapshot changes no row (no updated_at moves). Cheap when repeated: the
host keeps the digest of the last snapshot applied in full, and an identical one only marks the
host seen, as a heartbeat does. The digest is kept only while the stored rows follow from the
snapshot alone: it is not kept while something waits on a holder (a lost handle or device is
removed by the next report after its ARQ lets go), and `forget_report` drops it whenever the
server changes those rows itself (a programming or flash result, an operator's attribute).

A handle in use is never removed under a running ARQ: it is marked lost and deleted when the
ARQ lets it go; a device that disappears while one of its handles is in use is kept, marked
lost, until then.
"""

from __future__ import annotations

import hashlib
import json
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, bindparam, exists, select, update
from sqlalchemy.orm import Session

from accord.schemas.inventory import AttachHandleReport, DeployableReport, DeviceReport, InventorySnapshot
from accord.store.host_versions import note_changed
from accord.store.models import (
    AttachHandle,
    Attribute,
    ControlpathID,
    Deployable,
    Device,
    Host,
    utcnow,
)

# Part of every digest: bump it when the rows a snapshot yields change meaning, so a server
# upgrade applies each host's next report in full.
DIGEST_FORMAT = "1"


@dataclass
class SnapshotSummary:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept_lost: list[str] = field(default_factory=list)
    # The same snapshot as the last one applied: nothing was diffed.
    unchanged: bool = False
    # The host was not `up` before this report (new, lost, or an `in use` bare-metal node).
    came_back: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.kept_lost)


def deployable_full_name(hostname: str, local_name: str) -> str:
    return f"{hostname}_{local_name}"


def rp_uuid_for(name: str) -> str:
    """Cyborg's convention: the resource provider's uuid is uuid3(DNS namespace, name)."""
    return str(uuidlib.uuid3(uuidlib.NAMESPACE_DNS, name))


def canonical_info(info: dict[str, str]) -> str:
    return json.dumps(info, sort_keys=True, separators=(", ", ": "))


def _assign(obj: Any, **values: Any) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def report_digest(snapshot: InventorySnapshot) -> str:
    body = json.dumps(snapshot.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{DIGEST_FORMAT}\n{body}".encode()).hexdigest()


HOSTS: Table = Host.__table__  # type: ignore[assignment]

# Built once: the agents' two hot statements skip statement construction on every request
# (their compiled form is cached by SQLAlchemy either way). updated_at follows its column's
# onupdate, as in an ORM flush.
_BEAT = (
    update(HOSTS)
    .where(HOSTS.c.name == bindparam("hostname"), HOSTS.c.state == "up")
    .values(agent_version=bindparam("agent_version"), last_seen_at=bindparam("now"))
    .returning(HOSTS.c.rescan_token)
)
_SEEN_UNCHANGED = (
    update(HOSTS)
    .where(
        HOSTS.c.name == bindparam("hostname"),
        HOSTS.c.state == "up",
        HOSTS.c.report_digest == bindparam("digest"),
    )
    .values(agent_version=bindparam("agent_version"), last_seen_at=bindparam("now"))
    .returning(HOSTS.c.id)
)


def beat(conn: Connection, hostname: str, agent_version: str) -> int | None:
    """A known host's agent was heard from: one UPDATE marks it seen (this version, now) and
    returns its rescan token; None when the host is not known yet or not up (`touch_host` then
    adds it or brings it back, which the scheduler must hear of)."""
    values = {"hostname": hostname, "agent_version": agent_version, "now": utcnow()}
    token = conn.execute(_BEAT, values).scalar_one_or_none()
    return None if token is None else int(token)


def seen_unchanged(conn: Connection, hostname: str, agent_version: str, digest: str) -> bool:
    """The same report as the last one applied, from a host that is up: one UPDATE marks it seen,
    which is all `apply_inventory_snapshot` would do (the host did not come back). False, and no
    row touched, otherwise: the caller applies the report in full."""
    values = {"hostname": hostname, "agent_version": agent_version, "digest": digest, "now": utcnow()}
    return conn.execute(_SEEN_UNCHANGED, values).first() is not None


def touch_host(session: Session, hostname: str, agent_version: str) -> Host:
    host = lock_host(session, hostname)
    if host is not None and host.state != "up":  # back: its devices offer again
        note_changed(session, [hostname])
    return mark_seen(session, host, hostname, agent_version)


def lock_host(session: Session, hostname: str) -> Host | None:
    return session.scalar(select(Host).where(Host.name == hostname).with_for_update())


def mark_seen(session: Session, host: Host | None, hostname: str, agent_version: str) -> Host:
    if host is None:
        host = Host(name=hostname, agent_version=agent_version)
        session.add(host)
    host.agent_version = agent_version
    host.state = "up"
    host.last_seen_at = utcnow()
    return host


def apply_inventory_snapshot(
    session: Session, snapshot: InventorySnapshot, digest: str | None = None
) -> SnapshotSummary:
    """`digest`: the snapshot's `report_digest`, when the caller already has it."""
    hostname = snapshot.hostname
    digest = digest or report_digest(snapshot)
    host = lock_host(session, hostname)
    came_back = host is None or host.state != "up"
    host = mark_seen(session, host, hostname, snapshot.agent_version)
    if came_back:
        note_changed(session, [hostname])
    if host.report_digest == digest:
        return SnapshotSummary(unchanged=True, came_back=came_back)
    summary = SnapshotSummary(came_back=came_back)
    _apply_devices(session, snapshot, summary)
    if summary.changed:
        host.inventory_generation = (host.inventory_generation or 0) + 1
        note_changed(session, [hostname])
    host.report_digest = None if _waits_on_holders(session, hostname) else digest
    return summary


def forget_report(session: Session, *, hostname: str | None = None, device_id: int | None = None) -> None:
    """The server changed rows a report yields (by host name, or by one of its devices): apply
    the host's next report in full even if it is the same as the last."""
    if device_id is not None:
        hostname = session.scalar(select(Device.hostname).where(Device.id == device_id))
    if hostname is not None:
        note_changed(session, [hostname])  # what the server changed is what the scheduler sees
        session.execute(
            update(Host)
            .where(Host.name == hostname, Host.report_digest.is_not(None))
            .values(report_digest=None)
            .execution_options(synchronize_session=False)
        )


def _waits_on_holders(session: Session, hostname: str) -> bool:
    """Something the host stopped reporting is kept only while an ARQ holds it."""
    on_host = Device.hostname == hostname
    lost_device = exists().where(on_host, Device.lost.is_(True))
    lost_handle = (
        exists()
        .where(on_host, AttachHandle.lost.is_(True))
        .where(AttachHandle.deployable_id == Deployable.id, Deployable.device_id == Device.id)
    )
    return bool(session.scalar(select(lost_device | lost_handle)))


def _apply_devices(session: Session, snapshot: InventorySnapshot, summary: SnapshotSummary) -> None:
    hostname = snapshot.hostname
    existing = {d.pci_address: d for d in session.scalars(select(Device).where(Device.hostname == hostname))}
    for report in snapshot.devices:
        device = existing.pop(report.pci_address, None)
        is_new = device is None
        if device is None:
            device = Device(hostname=hostname, pci_address=report.pci_address, status="enabled")
            session.add(device)
            summary.added.append(report.pci_address)
        if _apply_device(session, device, report, fresh=is_new) and not is_new:
            summary.updated.append(report.pci_address)
    for gone in existing.values():
        if _remove_device(session, gone):
            summary.removed.append(gone.pci_address)
        else:
            summary.kept_lost.append(gone.pci_address)


def _apply_device(session: Session, device: Device, report: DeviceReport, fresh: bool) -> bool:
    """`fresh`: the device was just added, so nothing hangs from it yet (no lookups needed)."""
    std_board_info = json.dumps(
        {"product_id": report.product, "controller": report.model, "pci_address": report.pci_address},
        sort_keys=True,
    )
    changed = _assign(
        device,
        type=report.type,
        vendor=report.vendor,
        product=report.product,
        model=report.model,
        std_board_info=std_board_info,
        vendor_board_info=json.dumps(report.vendor_board_info, sort_keys=True),
        numa_node=report.numa_node,
        driver=report.driver,
        firmware_version=report.firmware_version,
        health=report.health.state,
        health_reasons=list(report.health.reasons),
        lost=False,
        counter_sets={k: dict(v) for k, v in report.counter_sets.items()} or None,
        preferred_part_type=report.preferred_part_type,
    )
    session.flush()
    cpid_query = select(ControlpathID).where(ControlpathID.device_id == device.id)
    cpid = None if fresh else session.scalar(cpid_query)
    cpid_info = json.dumps(report.controlpath_id.cpid_info, sort_keys=True)
    if cpid is None:
        cpid = ControlpathID(
            device_id=device.id, cpid_type=report.controlpath_id.cpid_type, cpid_info=cpid_info
        )
        session.add(cpid)
        session.flush()
        changed = True
    else:
        changed |= _assign(cpid, cpid_type=report.controlpath_id.cpid_type, cpid_info=cpid_info)
    deployables = (
        {}
        if fresh
        else {d.name: d for d in session.scalars(select(Deployable).where(Deployable.device_id == device.id))}
    )
    for dep_report in report.deployables:
        name = deployable_full_name(device.hostname, dep_report.name)
        deployable = deployables.pop(name, None)
        new_deployable = deployable is None
        if deployable is None:
            deployable = Deployable(name=name, device_id=device.id, rp_uuid=rp_uuid_for(name))
            session.add(deployable)
            changed = True
        changed |= _apply_deployable(session, deployable, dep_report, cpid.id, fresh=new_deployable)
    for gone in deployables.values():
        changed |= _remove_deployable(session, gone)
    return changed


def _apply_deployable(
    session: Session, deployable: Deployable, report: DeployableReport, cpid_id: int, fresh: bool
) -> bool:
    changed = _assign(
        deployable,
        num_accelerators=report.num_accelerators,
        driver_name=report.driver_name,
        function_id=report.function_id,
        interface_id=report.interface_id,
        resource_class=report.resource_class,
        partition=report.partition.model_dump() if report.partition is not None else None,
    )
    session.flush()
    wanted = [("rc", report.resource_class)] + [(f"trait{i}", t) for i, t in enumerate(report.traits)]
    changed |= replace_attributes(session, deployable, wanted, fresh=fresh)
    changed |= _apply_handles(session, deployable, report.attach_handles, cpid_id, fresh=fresh)
    return changed


def replace_attributes(
    session: Session, deployable: Deployable, wanted: list[tuple[str, str]], fresh: bool = False
) -> bool:
    """`fresh`: the deployable was just added and has no attributes yet."""
    current = (
        []
        if fresh
        else list(session.scalars(select(Attribute).where(Attribute.deployable_id == deployable.id)))
    )
    if sorted((a.key, a.value) for a in current) == sorted(wanted):
        return False
    for attribute in current:
        session.delete(attribute)
    session.add_all(Attribute(deployable_id=deployable.id, key=k, value=v) for k, v in wanted)
    return True


# attach_info keys that describe a handle without naming it (an SR-IOV NIC VF's physnet and
# SmartNIC facts): when they change, the same PCI function's handle is updated in place, so a
# bound handle is never re-created free beside itself.
# Host state of a deployed bare-metal node (its tenant holds the machine; no agent runs).
IN_USE = "in use"

HANDLE_FACTS = frozenset({"physical_network", "card_serial_number", "pf_mac_address", "vf_num"})


def _handle_identity(attach_type: str, info: dict[str, str]) -> tuple[str, str]:
    return attach_type, canonical_info({k: v for k, v in info.items() if k not in HANDLE_FACTS})


def _apply_handles(
    session: Session, deployable: Deployable, reports: list[AttachHandleReport], cpid_id: int, fresh: bool
) -> bool:
    query = select(AttachHandle).where(AttachHandle.deployable_id == deployable.id)
    current = (
        {}
        if fresh
        else {_handle_identity(h.attach_type, json.loads(h.attach_info)): h for h in session.scalars(query)}
    )
    changed = False
    for report in reports:
        info = canonical_info(report.attach_info)
        handle = current.pop(_handle_identity(report.attach_type, report.attach_info), None)
        if handle is None:
            session.add(
                AttachHandle(
                    deployable_id=deployable.id,
                    cpid_id=cpid_id,
                    attach_type=report.attach_type,
                    attach_info=info,
                )
            )
            changed = True
        else:
            changed |= _assign(handle, lost=False, attach_info=info)
    for handle in current.values():
        if handle.in_use:
            changed |= _assign(handle, lost=True)
        else:
            session.delete(handle)
            changed = True
    return changed


def _remove_deployable(session: Session, deployable: Deployable) -> bool:
    in_use = session.scalar(
        select(AttachHandle.id)
        .where(AttachHandle.deployable_id == deployable.id, AttachHandle.in_use.is_(True))
        .limit(1)
    )
    if in_use is not None:
        session.execute(
            update(AttachHandle).where(AttachHandle.deployable_id == deployable.id).values(lost=True)
        )
        return _assign(deployable, num_accelerators=0)
    session.delete(deployable)
    return True


def _remove_device(session: Session, device: Device) -> bool:
    """True when deleted; False when kept (marked lost) because an ARQ still holds a handle."""
    deployables = list(session.scalars(select(Deployable).where(Deployable.device_id == device.id)))
    kept = False
    for deployable in deployables:
        _remove_deployable(session, deployable)
        kept |= deployable in session and deployable not in session.deleted
    if kept:
        _assign(
            device, lost=True, health="unusable", health_reasons=["device no longer reported by its host"]
        )
        return False
    session.delete(device)
    return True


def mark_lost_hosts(session: Session, lost_after: timedelta, now: datetime | None = None) -> list[str]:
    """Hosts whose agents were not heard from within `lost_after` become lost, or `in use` for a
    bare-metal node (conditional update, so several server replicas can run this at once);
    returns both."""
    cutoff = (now or utcnow()) - lost_after
    silent = (Host.state == "up", Host.last_seen_at < cutoff)
    names = list(session.scalars(select(Host.name).where(*silent).order_by(Host.name)))
    if names:
        # A bare-metal node reports only from its ramdisk: once deployed it is silent, and its
        # last inventory stays, shown as in use (by the tenant), not lost. Either way its
        # devices offer nothing.
        chosen = (Host.name.in_(names), *silent)
        session.execute(update(Host).where(*chosen, Host.bare_metal.is_(True)).values(state=IN_USE))
        session.execute(update(Host).where(*chosen).values(state="lost"))
        note_changed(session, names)
    return names


def bump_inventory_generation(session: Session, hostname: str) -> None:
    """What the host offers changed outside a report (a device disabled, a type pinned); the
    next report is applied in full."""
    note_changed(session, [hostname])
    session.execute(
        update(Host)
        .where(Host.name == hostname)
        .values(inventory_generation=Host.inventory_generation + 1, report_digest=None)
        .execution_options(synchronize_session=False)
    )

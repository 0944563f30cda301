"""Inventory use cases: an agent's whole-host snapshot, applied as one diff; its heartbeat.

Both are the fleet's steady load (every host beats every ACCORD_HEARTBEAT_S and reports every
minute), so their common case is one UPDATE on a bare connection: a known host's beat that
renews no lease, and a report identical to the last one applied to a host that is up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from accord.schemas.inventory import Heartbeat, InventorySnapshot
from accord.services.app import Services
from accord.store.inventory import (
    SnapshotSummary,
    apply_inventory_snapshot,
    beat,
    report_digest,
    seen_unchanged,
    touch_host,
)
from accord.store.operations import renew_leases


@dataclass
class BeatResult:
    rescan_token: int
    renewed: list[str] = field(default_factory=list)
    not_held: list[str] = field(default_factory=list)


def report(services: Services, snapshot: InventorySnapshot) -> SnapshotSummary:
    digest = report_digest(snapshot)
    with services.db.write_core() as conn:
        if seen_unchanged(conn, snapshot.hostname, snapshot.agent_version, digest):
            return SnapshotSummary(unchanged=True)
    with services.db.write() as session:
        return apply_inventory_snapshot(session, snapshot, digest)


def heartbeat(services: Services, heard: Heartbeat, lease: timedelta) -> BeatResult:
    """Marks the host seen (adding it when new) and renews the leases of the operations it names."""
    if not heard.operations:
        with services.db.write_core() as conn:
            token = beat(conn, heard.hostname, heard.agent_version)
        if token is not None:
            return BeatResult(token)
    with services.db.write() as session:
        host = touch_host(session, heard.hostname, heard.agent_version)
        renewed, not_held = renew_leases(session, heard.hostname, heard.operations, lease)
        session.flush()
        return BeatResult(host.rescan_token, renewed, not_held)

"""Inventory use case: an agent's whole-host snapshot, applied as one diff."""

from __future__ import annotations

from accord.schemas.inventory import InventorySnapshot
from accord.services.app import Services
from accord.store.inventory import SnapshotSummary, apply_inventory_snapshot


def report(services: Services, snapshot: InventorySnapshot) -> SnapshotSummary:
    with services.db.write() as session:
        summary = apply_inventory_snapshot(session, snapshot)
    if not summary.unchanged or summary.came_back:  # the scheduler sees host state too
        services.refresh_hosts({snapshot.hostname})
    return summary

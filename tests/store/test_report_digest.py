"""The digest of a host's last applied report: kept only while the rows follow from it alone."""

from __future__ import annotations

from sqlalchemy import select, update

from accord.schemas.inventory import InventorySnapshot
from accord.store.db import Database
from accord.store.inventory import apply_inventory_snapshot, forget_report, report_digest
from accord.store.models import AttachHandle, Deployable, Device, Host
from tests.scenarios import fpga_host_snapshot

SNAPSHOT = InventorySnapshot.model_validate(fpga_host_snapshot("host-a", vfs=2))


def _digest(db: Database) -> str | None:
    with db.read() as session:
        return session.scalar(select(Host.report_digest).where(Host.name == "host-a"))


def test_applied_report_keeps_its_digest_until_the_server_changes_a_row(db: Database) -> None:
    with db.write() as session:
        apply_inventory_snapshot(session, SNAPSHOT)
    assert _digest(db) == report_digest(SNAPSHOT)
    with db.write() as session:
        device_id = session.scalars(select(Device.id)).one()
        session.execute(update(Deployable).values(function_id="changed-by-the-server"))
        forget_report(session, device_id=device_id)
    assert _digest(db) is None
    with db.write() as session:
        summary = apply_inventory_snapshot(session, SNAPSHOT)
    assert not summary.unchanged and summary.updated == ["0000:5e:00.0"]
    with db.read() as session:
        assert session.scalars(select(Deployable.function_id)).one() is None


def test_no_digest_while_a_lost_handle_waits_for_its_holder(db: Database) -> None:
    with db.write() as session:
        apply_inventory_snapshot(session, SNAPSHOT)
        session.execute(update(AttachHandle).values(in_use=True))
    gone = InventorySnapshot.model_validate({"hostname": "host-a", "agent_version": "t", "devices": []})
    with db.write() as session:
        assert apply_inventory_snapshot(session, gone).kept_lost == ["0000:5e:00.0"]
    assert _digest(db) is None
    with db.write() as session:  # the holder lets go: the same report now removes the device
        session.execute(update(AttachHandle).values(in_use=False))
        assert apply_inventory_snapshot(session, gone).removed == ["0000:5e:00.0"]
    assert _digest(db) == report_digest(gone)

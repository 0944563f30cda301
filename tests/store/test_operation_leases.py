"""Leases on operations: at most one per device, renewed while the agent works, and when the
agent dies: programming and mdevs retried, then failed (the ARQ never hangs); a firmware flash
never retried but failed and its device quarantined; a late result refused. Time is injected."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from accord.domain.arq import BindRequest
from accord.domain.context import SYSTEM
from accord.domain.device_profile import parse_profile
from accord.domain.errors import BadState
from accord.schemas.inventory import InventorySnapshot
from accord.services.binding import bind_arqs
from accord.store.arq_rows import create_arqs
from accord.store.bind_operations import complete_bind_operation, mdev_preparer
from accord.store.db import Database
from accord.store.firmware import complete_flash
from accord.store.inventory import apply_inventory_snapshot
from accord.store.models import AcceleratorRequest, AttachHandle, Deployable, Device, Operation, utcnow
from accord.store.operations import (
    claim_operations,
    expire_leases,
    finish_operation,
    queue_operation,
    renew_leases,
)
from accord.store.profiles import create_profile
from accord.store.programming import complete_program
from tests.scenarios import fpga_host_snapshot, gpu_mdev_snapshot

VM = "3f0c8b8e-8f1a-4c43-a3a4-6b1f9a5f0c11"
COMPLETIONS = {
    "create_mdev": complete_bind_operation,
    "program": complete_program,
    "firmware": complete_flash,
}
LEASE = timedelta(seconds=120)


def test_dead_agent_operation_is_retried_then_fails_the_bind(db: Database) -> None:
    with db.write() as session:
        apply_inventory_snapshot(session, InventorySnapshot.model_validate(gpu_mdev_snapshot("gpu-1")))
        create_profile(session, parse_profile([{"name": "v", "groups": [{"resources:VGPU": "1"}]}]))
        arq_uuid = create_arqs(session.connection(), SYSTEM, "v")[0].uuid
        rp = session.scalars(select(Deployable.rp_uuid)).one()
        bind_arqs(session, SYSTEM, [BindRequest(arq_uuid, VM, "gpu-1", rp)], preparers=[mdev_preparer])
    for attempt in range(1, 4):
        with db.write() as session:
            [op] = claim_operations(session, "gpu-1", lease=timedelta(seconds=-1))  # the agent dies at once
            assert op.attempts == attempt
        with db.write() as session:
            outcome = expire_leases(session, COMPLETIONS)
            [expired], resolved = outcome.operations, outcome.resolved
            assert expired.state == ("pending" if attempt < 3 else "failed")
    assert [a.uuid for a in resolved] == [arq_uuid]
    with db.read() as session:
        arq = session.scalars(select(AcceleratorRequest)).unique().one()
        assert arq.state == "BindFailed"
        assert "did not finish within its lease" in (arq.failure_reason or "")
        assert session.scalars(select(AttachHandle).where(AttachHandle.in_use.is_(True))).all() == []
        assert session.scalars(select(Operation.state)).all() == ["failed"]
    with db.write() as session:
        assert claim_operations(session, "gpu-1") == []


def _two_fpgas(db: Database) -> list[tuple[int, int]]:
    """(device id, deployable id) of the two FPGAs of host-a."""
    with db.write() as session:
        apply_inventory_snapshot(
            session, InventorySnapshot.model_validate(fpga_host_snapshot("host-a", vfs=1, devices=2))
        )
    with db.read() as session:
        return sorted(
            (device, region)
            for device, region in session.execute(select(Deployable.device_id, Deployable.id))
        )


def _queue(db: Database, kind: str, device_id: int, deployable_id: int | None = None) -> str:
    params = {"version": "2.0.0", "previous_version": "1.0.0"} if kind == "firmware" else {}
    with db.write() as session:
        return queue_operation(session, kind, "host-a", params, device_id, deployable_id).uuid


def _claim(db: Database, now: datetime, limit: int = 4) -> list[str]:
    with db.write() as session:
        return [o.uuid for o in claim_operations(session, "host-a", limit, LEASE, now=now)]


def _expire(db: Database, now: datetime) -> list[str]:
    with db.write() as session:
        return [o.uuid for o in expire_leases(session, COMPLETIONS, now=now).operations]


def _operation(db: Database, op_uuid: str) -> Operation:
    with db.read() as session:
        return session.scalars(select(Operation).where(Operation.uuid == op_uuid)).one()


def test_one_operation_per_device_at_a_time(db: Database) -> None:
    (dev_a, region_a), (dev_b, region_b) = _two_fpgas(db)
    flash_a = _queue(db, "firmware", dev_a)
    program_a = _queue(db, "program", dev_a, region_a)  # same card, other work: waits
    program_b = _queue(db, "program", dev_b, region_b)
    now = utcnow()
    assert _claim(db, now) == [flash_a, program_b]
    assert _claim(db, now) == []
    with db.write() as session:
        operation = session.scalars(select(Operation).where(Operation.uuid == flash_a)).one()
        finish_operation(session, operation, True, {"version": "2.0.0"}, None, COMPLETIONS, attempt=1)
    assert _claim(db, now) == [program_a]


def test_renewed_lease_does_not_expire_while_the_agent_works(db: Database) -> None:
    (dev_a, _), _ = _two_fpgas(db)
    flash = _queue(db, "firmware", dev_a)
    start = utcnow()
    assert _claim(db, start) == [flash]
    # A 20-minute flash: the agent renews every 40 s (a third of the lease); nothing expires.
    for second in range(40, 1200, 40):
        now = start + timedelta(seconds=second)
        assert _expire(db, now) == []
        with db.write() as session:
            assert renew_leases(session, "host-a", [flash], LEASE, now=now) == ([flash], [])
    assert _operation(db, flash).state == "running"
    # Another host's agent cannot renew it.
    with db.write() as session:
        assert renew_leases(session, "host-b", [flash], LEASE, now=now) == ([], [flash])
    # Silent for a whole lease: now it expires.
    assert _expire(db, now + LEASE + timedelta(seconds=1)) == [flash]


def test_flash_whose_agent_went_silent_is_not_retried_and_quarantines(db: Database) -> None:
    (dev_a, _), _ = _two_fpgas(db)
    flash = _queue(db, "firmware", dev_a)
    start = utcnow()
    assert _claim(db, start) == [flash]
    assert _expire(db, start + LEASE + timedelta(seconds=1)) == [flash]
    operation = _operation(db, flash)
    assert (operation.state, operation.attempts) == ("failed", 1)
    assert "flash interrupted" in (operation.error or "")
    assert _claim(db, start + 2 * LEASE) == []  # never handed out again
    with db.read() as session:
        device = session.get(Device, dev_a)
        assert device is not None
        assert device.status == "maintaining"
        assert "flash interrupted" in (device.quarantine_reason or "")
        assert device.firmware_version != "2.0.0"
    with db.write() as session:  # renewing it now does nothing: it is no longer running
        assert renew_leases(session, "host-a", [flash], LEASE) == ([], [flash])


def test_programming_whose_agent_went_silent_is_retried(db: Database) -> None:
    (dev_a, region_a), _ = _two_fpgas(db)
    program = _queue(db, "program", dev_a, region_a)
    start = utcnow()
    assert _claim(db, start) == [program]
    assert _expire(db, start + LEASE + timedelta(seconds=1)) == [program]
    operation = _operation(db, program)
    assert (operation.state, operation.attempts) == ("pending", 1)
    assert _claim(db, start + LEASE + timedelta(seconds=2)) == [program]
    assert _operation(db, program).attempts == 2


def test_late_result_is_refused_and_changes_nothing(db: Database) -> None:
    (dev_a, region_a), _ = _two_fpgas(db)
    program = _queue(db, "program", dev_a, region_a)
    start = utcnow()
    _claim(db, start)
    _expire(db, start + LEASE + timedelta(seconds=1))
    _claim(db, start + LEASE + timedelta(seconds=2))  # attempt 2 runs
    with db.write() as session, pytest.raises(BadState, match="attempt 2 is running"):
        operation = session.scalars(select(Operation).where(Operation.uuid == program)).one()
        finish_operation(session, operation, True, {"function_id": "f"}, None, COMPLETIONS, attempt=1)
    operation = _operation(db, program)
    assert (operation.state, operation.attempts, operation.result) == ("running", 2, {})

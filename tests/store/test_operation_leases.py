"""An operation whose agent dies: retried after its lease, then failed; the ARQ never hangs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from accord.domain.arq import BindRequest
from accord.domain.context import SYSTEM
from accord.domain.device_profile import parse_profile
from accord.schemas.inventory import InventorySnapshot
from accord.services.binding import bind_arqs
from accord.store.arqs import create_arqs
from accord.store.bind_operations import RESOLVED_KEY, complete_bind_operation, mdev_preparer
from accord.store.db import Database
from accord.store.inventory import apply_inventory_snapshot
from accord.store.models import AcceleratorRequest, AttachHandle, Deployable, Operation
from accord.store.operations import claim_operations, expire_leases
from accord.store.profiles import create_profile
from tests.scenarios import gpu_mdev_snapshot

VM = "3f0c8b8e-8f1a-4c43-a3a4-6b1f9a5f0c11"
COMPLETIONS = {"create_mdev": complete_bind_operation}


def test_dead_agent_operation_is_retried_then_fails_the_bind(db: Database) -> None:
    with db.write() as session:
        apply_inventory_snapshot(session, InventorySnapshot.model_validate(gpu_mdev_snapshot("gpu-1")))
        create_profile(session, parse_profile([{"name": "v", "groups": [{"resources:VGPU": "1"}]}]))
        arq_uuid = create_arqs(session, SYSTEM, "v")[0].uuid
        rp = session.scalars(select(Deployable.rp_uuid)).one()
        bind_arqs(session, SYSTEM, [BindRequest(arq_uuid, VM, "gpu-1", rp)], preparers=[mdev_preparer])
    for attempt in range(1, 4):
        with db.write() as session:
            [op] = claim_operations(session, "gpu-1", lease=timedelta(seconds=-1))  # the agent dies at once
            assert op.attempts == attempt
        with db.write() as session:
            [expired] = expire_leases(session, COMPLETIONS)
            resolved = session.info.pop(RESOLVED_KEY, [])
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

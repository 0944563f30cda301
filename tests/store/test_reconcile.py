"""Reconcilers on both databases: lost hosts and binds that never finish."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from accord.domain.arq import ARQState, BindRequest
from accord.domain.context import SYSTEM
from accord.domain.device_profile import parse_profile
from accord.domain.errors import Conflict
from accord.reconcile import expire_stuck_binds, reconcile_once
from accord.schemas.inventory import InventorySnapshot
from accord.services.binding import bind_arqs, check_bindable
from accord.store.arq_rows import create_arqs
from accord.store.db import Database
from accord.store.inventory import apply_inventory_snapshot, mark_lost_hosts
from accord.store.models import AcceleratorRequest, AttachHandle, Deployable, Host, utcnow
from accord.store.profiles import create_profile
from tests.scenarios import fpga_host_snapshot

VM = "3f0c8b8e-8f1a-4c43-a3a4-6b1f9a5f0c11"


def _seed(db: Database) -> str:
    with db.write() as session:
        apply_inventory_snapshot(
            session, InventorySnapshot.model_validate(fpga_host_snapshot("host-a", vfs=2))
        )
        create_profile(session, parse_profile([{"name": "dp", "groups": [{"resources:FPGA": "1"}]}]))
        arq = create_arqs(session.connection(), SYSTEM, "dp")[0]
        return arq.uuid


def test_host_silent_too_long_is_lost_and_comes_back(db: Database) -> None:
    _seed(db)
    with db.write() as session:
        assert mark_lost_hosts(session, timedelta(seconds=60)) == []
        assert mark_lost_hosts(session, timedelta(seconds=60), now=utcnow() + timedelta(seconds=61)) == [
            "host-a"
        ]
    with db.read() as session:
        deployable = session.scalars(select(Deployable)).one()
        with pytest.raises(Conflict, match="stopped reporting"):
            check_bindable(session, deployable)
    with db.write() as session:
        apply_inventory_snapshot(
            session, InventorySnapshot.model_validate(fpga_host_snapshot("host-a", vfs=2))
        )
    with db.read() as session:
        assert session.scalars(select(Host.state)).one() == "up"


class _WaitForAgent:
    """A preparer that always needs the agent: the ARQ stays BindStarted."""

    def __call__(self, *_args: object) -> bool:
        return True


def test_bind_stuck_in_bind_started_fails_and_frees_its_handle(db: Database) -> None:
    arq_uuid = _seed(db)
    with db.read() as session:
        rp = session.scalars(select(Deployable.rp_uuid)).one()
    with db.write() as session:
        result = bind_arqs(
            session, SYSTEM, [BindRequest(arq_uuid, VM, "host-a", rp)], preparers=[_WaitForAgent()]
        )
        assert [a.uuid for a in result.pending] == [arq_uuid]
    with db.read() as session:
        assert session.scalars(select(AttachHandle).where(AttachHandle.in_use.is_(True))).all() != []
    assert expire_stuck_binds(db, timedelta(seconds=60)) == []
    failed = expire_stuck_binds(db, timedelta(seconds=-1))
    assert [a.uuid for a in failed] == [arq_uuid]
    with db.read() as session:
        arq = session.scalars(select(AcceleratorRequest)).unique().one()
        assert arq.state == ARQState.BIND_FAILED.value
        assert "did not finish" in (arq.failure_reason or "")
        assert session.scalars(select(AttachHandle).where(AttachHandle.in_use.is_(True))).all() == []


def test_reconcile_pass_notifies_failed_binds(db: Database) -> None:
    arq_uuid = _seed(db)
    with db.read() as session:
        rp = session.scalars(select(Deployable.rp_uuid)).one()
    with db.write() as session:
        bind_arqs(session, SYSTEM, [BindRequest(arq_uuid, VM, "host-a", rp)], preparers=[_WaitForAgent()])
    told: list[str] = []
    reconcile_once(
        db, timedelta(seconds=60), timedelta(seconds=-1), lambda arqs: told.extend(a.uuid for a in arqs)
    )
    assert told == [arq_uuid]

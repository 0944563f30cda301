"""The Placement mirror of partitioned GPUs, against a real Placement: one vGPU type per GPU
(Placement has no shared counters), its inventory the type's real capacity; pinning another type
on an idle GPU moves the inventory; a busy GPU never switches."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from accord.agent.drivers.nvidia_gpu import NvidiaGpuDriver
from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.kernel import SimulatedKernel
from accord.agent.sim.layouts import gpu
from accord.placement.mirror import PlacementMirror
from accord.schemas.inventory import InventorySnapshot
from accord.store.db import Database
from accord.store.inventory import apply_inventory_snapshot
from accord.store.models import AttachHandle, Deployable, Device
from accord.store.partitions import pin_part_type
from tests.placement.conftest import Placement
from tests.placement.test_mirror import HOST, sync

T4 = "0000:3b:00.0"
TYPES = {**gpu.T4_TYPES, "nvidia-232": gpu.T4_MORE_TYPES["nvidia-232"]}


def report_tree(db: Database, root: Path) -> None:
    devices = NvidiaGpuDriver(root, SimulatedKernel(root)).discover()
    with db.write() as session:
        apply_inventory_snapshot(session, InventorySnapshot(hostname=HOST, devices=devices))


def vgpus(raw: Placement, root_rp: str) -> dict[str, int]:
    """Mirrored type -> its VGPU total."""
    return {
        name.rsplit("-", 2)[-2] + "-" + name.rsplit("-", 1)[-1]: raw.inventory(p["uuid"])["VGPU"]["total"]
        for name, p in raw.children(root_rp).items()
    }


def pin(db: Database, vgpu_type: str) -> str | None:
    with db.write() as session:
        return pin_part_type(session, session.scalars(select(Device)).one(), vgpu_type)


def take_handle(db: Database, type_id: str) -> None:
    """One handle of this type held, as a bind leaves it."""
    with db.write() as session:
        dep_id = session.scalar(select(Deployable.id).where(Deployable.name.endswith(type_id)))
        handle_id = session.scalar(
            select(AttachHandle.id).where(AttachHandle.deployable_id == dep_id).limit(1)
        )
        session.execute(
            update(AttachHandle).where(AttachHandle.id == handle_id).values(in_use=True, arq_id=1)
        )


@pytest.fixture
def idle_t4(tmp_path: Path, db: Database) -> Path:
    b = SysfsBuilder(tmp_path / "t4")
    gpu.tesla_t4_with_vgpu(b, T4, types=TYPES)
    report_tree(db, b.root)
    return b.root


def test_one_type_per_gpu_with_its_real_capacity(
    db: Database, mirror: PlacementMirror, raw: Placement, idle_t4: Path
) -> None:
    root = raw.compute_node(HOST)
    assert sync(db, mirror).errors == []
    # The default: the type that holds the most vGPUs.
    assert vgpus(raw, root) == {"nvidia-222": 16}
    assert not sync(db, mirror).changed


def test_pinning_an_idle_gpu_moves_its_inventory(
    db: Database, mirror: PlacementMirror, raw: Placement, idle_t4: Path
) -> None:
    root = raw.compute_node(HOST)
    sync(db, mirror)
    assert pin(db, "nvidia-232") == "nvidia-232"
    result = sync(db, mirror)
    assert result.errors == []
    assert vgpus(raw, root) == {"nvidia-232": 4}
    assert [n.rsplit("-", 1)[-1] for n in result.deleted] == ["222"]


def test_a_busy_gpu_never_switches_type(
    db: Database, mirror: PlacementMirror, raw: Placement, idle_t4: Path
) -> None:
    root = raw.compute_node(HOST)
    take_handle(db, "nvidia-223")
    assert pin(db, "nvidia-232") == "nvidia-223"
    assert sync(db, mirror).errors == []
    assert vgpus(raw, root) == {"nvidia-223": 8}
    # The pin takes effect once the GPU is idle again.
    with db.write() as session:
        session.execute(update(AttachHandle).values(in_use=False, arq_id=None))
    sync(db, mirror)
    assert vgpus(raw, root) == {"nvidia-232": 4}


def test_a100_inventory_is_bounded_by_max_instance_not_the_vf_count(
    db: Database, mirror: PlacementMirror, raw: Placement, tmp_path: Path
) -> None:
    b = SysfsBuilder(tmp_path / "a100")
    gpu.a100_sriov(b, "0000:41:00.0", vfs=16)
    report_tree(db, b.root)
    root = raw.compute_node(HOST)
    sync(db, mirror)
    assert vgpus(raw, root) == {"nvidia-471": 10}

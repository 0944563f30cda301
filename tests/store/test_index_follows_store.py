"""The scheduler index follows the store host by host (`store/scheduler_cache.py`): after
reports, binds, releases, a host lost and back, a device disabled, a trait added, devices gone,
an index kept up incrementally holds exactly what a full read of the database gives, both in
the worker that made the change and in another that shares only the database; and neither
reads the whole fleet again to get there."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import select

from accord.config import load_settings
from accord.domain.arq import BindRequest, PatchPlan, UnbindRequest
from accord.domain.context import SYSTEM
from accord.domain.device_profile import parse_group, parse_profile
from accord.scheduler.candidates import find_candidates
from accord.scheduler.model import Host, Policy, Request
from accord.schemas.inventory import Heartbeat, InventorySnapshot
from accord.services import binding, hardware, inventory
from accord.services.app import Services
from accord.store.db import Database
from accord.store.inventory import mark_lost_hosts
from accord.store.models import Deployable, Device, utcnow
from accord.store.profiles import create_profile
from accord.store.providers import choose_deployables, load_hosts, request_for
from accord.store.scheduler_cache import SchedulerCache
from tests.scenarios import fpga_host_snapshot

HOSTS = ("h0", "h1", "h2")


@dataclass
class Worker:
    """One server worker: its own engine, index and use cases over the shared database."""

    db: Database
    cache: SchedulerCache
    services: Services


def worker(db: Database, data_dir: Path) -> Worker:
    cache = SchedulerCache(max_age_s=1e-9)  # every query asks what changed
    db.on_commit(cache.committed)
    settings = load_settings(env={}, data_dir=data_dir, auth="noauth", reconcile_interval_s=0)
    chooser = partial(choose_deployables, cache=cache)
    return Worker(db, cache, Services(settings, db, chooser=chooser, scheduler=cache))


@pytest.fixture
def workers(db: Database, data_dir: Path) -> Iterator[tuple[Worker, Worker]]:
    other = Database(db.url)
    try:
        yield worker(db, data_dir), worker(other, data_dir)
    finally:
        other.dispose()


def requests() -> list[Request]:
    return [
        request_for([(0, parse_group(0, {"resources:FPGA": "1"}), 1)]),
        request_for([(0, parse_group(0, {"resources:FPGA": "2"}), 2)]),
        request_for([(0, parse_group(0, {"resources:FPGA": "1", "trait:CUSTOM_EXTRA": "required"}), 1)]),
    ]


def canonical(hosts: Iterable[Host]) -> dict[str, object]:
    return {
        host.name: (
            host.lost,
            sorted(
                (
                    p.uuid,
                    p.device_uuid,
                    p.deployable_uuid,
                    sorted((rc, i.total, i.reserved, i.max_unit, i.used) for rc, i in p.inventories.items()),
                    sorted(p.traits),
                    p.numa_node,
                    p.function_id,
                    p.bitstream_id,
                    p.usable,
                )
                for p in host.providers
            ),
        )
        for host in hosts
    }


def assert_follows(*group: Worker) -> None:
    """Each worker's index, after its next query, holds what a full read of the store holds and
    answers every request as a search over that read does."""
    for one in group:
        with one.db.read() as session:
            for request in requests():
                answer = one.cache.candidates(session, request, None, Policy.PACK)
                assert answer == find_candidates(load_hosts(session), request, None, Policy.PACK)
            fresh = load_hosts(session)
        assert canonical(one.cache.hosts().values()) == canonical(fresh)
        assert one.cache.stats.rebuilds == 1  # built once, then kept up host by host


def report(one: Worker, hostname: str, vfs: int = 2, devices: int = 2) -> None:
    snapshot = fpga_host_snapshot(hostname, vfs=vfs, devices=devices)
    inventory.report(one.services, InventorySnapshot.model_validate(snapshot))


def new_arq(one: Worker) -> str:
    return binding.create_arqs(one.services, SYSTEM, "dp", None)[0].uuid


def bind_hostless(one: Worker, instance: str) -> str:
    arq = new_arq(one)
    binding.apply_patch(one.services, SYSTEM, PatchPlan([BindRequest(arq, instance, None, None)], []))
    return arq


def rp_on(one: Worker, hostname: str) -> str:
    with one.db.read() as session:
        query = select(Deployable.rp_uuid).join(Device).where(Device.hostname == hostname)
        return str(session.scalars(query.order_by(Deployable.rp_uuid)).first())


def test_an_incremental_index_holds_what_a_rebuild_would(workers: tuple[Worker, Worker]) -> None:
    a, b = workers
    for name in HOSTS:
        report(a, name)
    with a.db.write() as session:
        create_profile(session, parse_profile([{"name": "dp", "groups": [{"resources:FPGA": "1"}]}]))
    assert_follows(a, b)

    # Host-less binds in A: applied to A's index in place from the claim, no host read again.
    read_before = a.cache.stats.hosts_read
    first = bind_hostless(a, "vm-1")
    bind_hostless(a, "vm-2")
    assert a.cache.stats.applied_in_place == 2
    assert_follows(a, b)
    assert a.cache.stats.hosts_read == read_before  # its own binds: nothing to read
    assert b.cache.stats.hosts_read > 0  # B learnt of them from the versions

    # A Nova-form bind in B, an unbind in A, a delete in B.
    arq = new_arq(b)
    bind = BindRequest(arq, "vm-3", "h1", rp_on(b, "h1"))
    binding.apply_patch(b.services, SYSTEM, PatchPlan([bind], []))
    assert_follows(a, b)
    binding.apply_patch(a.services, SYSTEM, PatchPlan([], [UnbindRequest(first)]))
    binding.delete_arqs(b.services, SYSTEM, None, "vm-2")
    assert_follows(a, b)
    # A bound ARQ deleted by name (DELETE ?arqs=, Core statements) gives its handle back too.
    named = bind_hostless(a, "vm-4")
    assert_follows(a, b)
    binding.delete_arqs(a.services, SYSTEM, [named], None)
    assert_follows(a, b)

    # A changed report in B (more VFs), then one that drops a device of h2.
    report(b, "h2", vfs=3)
    assert_follows(a, b)
    report(b, "h2", vfs=3, devices=1)
    assert_follows(a, b)

    # h0 goes down (the reconciler, in A) and comes back with a heartbeat (in B).
    with a.db.write() as session:
        later = utcnow() + timedelta(seconds=61)
        assert mark_lost_hosts(session, timedelta(seconds=60), later) == list(HOSTS)
    assert_follows(a, b)
    beat = Heartbeat.model_validate({"hostname": "h0", "agent_version": "test"})
    inventory.heartbeat(b.services, beat, timedelta(seconds=60))
    report(b, "h1")  # h1 back by its report (unchanged: only the host's state moves)
    report(b, "h2", vfs=3, devices=1)
    assert_follows(a, b)

    # An operator disables a device (A) and gives a deployable a trait (B).
    with a.db.read() as session:
        device = session.scalars(select(Device.uuid).where(Device.hostname == "h0")).first()
    hardware.set_device_status(a.services, SYSTEM, str(device), False)
    with b.db.read() as session:
        query = select(Deployable.uuid).join(Device).where(Device.hostname == "h2")
        deployable = session.scalars(query).first()
    hardware.create_attribute(b.services, deployable, "trait9", "CUSTOM_EXTRA")
    assert_follows(a, b)

    # Every device of h1 gone (its bound handle is kept, lost, until released), then released.
    report(a, "h1", devices=0)
    assert_follows(a, b)
    binding.delete_arqs(a.services, SYSTEM, None, "vm-3")
    report(a, "h1", devices=0)
    assert_follows(a, b)
    assert "h1" not in a.cache.hosts()


def test_a_claim_moves_the_index_only_when_it_knows_the_version_before(
    workers: tuple[Worker, Worker],
) -> None:
    """A's index applies its own claim in place only when its entry is at the version just
    before the claim's; when B changed the host in between, A reads the host instead."""
    a, b = workers
    report(a, "h0", vfs=4, devices=1)
    with a.db.write() as session:
        create_profile(session, parse_profile([{"name": "dp", "groups": [{"resources:FPGA": "1"}]}]))
    assert_follows(a, b)
    a.cache.max_age_s = b.cache.max_age_s = 3600  # neither looks at the changes by itself now
    bind_hostless(b, "vm-b")  # A does not know of this one
    bind_hostless(a, "vm-a")  # so A cannot apply its own claim on top of what it holds
    assert a.cache.stats.applied_in_place == 0
    assert a.cache.hosts()["h0"].providers[0].inventories["FPGA"].used == 0  # as it was
    a.cache.max_age_s = b.cache.max_age_s = 1e-9
    assert_follows(a, b)  # A's next query reads h0 again
    assert a.cache.hosts()["h0"].providers[0].inventories["FPGA"].used == 2

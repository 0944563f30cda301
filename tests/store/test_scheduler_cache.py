"""The scheduler's in-process index is a cache of proposals: it answers like a fresh read of the
store, a stale view only costs a retry (never a wrong or double booking), refreshes see
committed changes, and the rare full rebuild runs beside the queries. (How it follows the store
host by host: `test_index_follows_store.py`.)"""

from __future__ import annotations

import threading
import time

from sqlalchemy import event, select, update

from accord.domain.device_profile import parse_group
from accord.scheduler.model import Candidate, Policy, Request
from accord.schemas.inventory import InventorySnapshot
from accord.store.db import Database
from accord.store.host_versions import note_changed
from accord.store.inventory import apply_inventory_snapshot
from accord.store.models import AttachHandle, Deployable, Device
from accord.store.providers import candidates_for, request_for
from accord.store.scheduler_cache import REBUILD_THREAD, SchedulerCache
from tests.scenarios import fpga_host_snapshot


def seed(db: Database, hosts: int = 4, vfs: int = 2) -> None:
    with db.write() as session:
        for i in range(hosts):
            apply_inventory_snapshot(
                session, InventorySnapshot.model_validate(fpga_host_snapshot(f"h{i}", vfs=vfs))
            )


def one_fpga() -> Request:
    return request_for([(0, parse_group(0, {"resources:FPGA": "1"}), 1)])


def hosts_of(found: list[Candidate]) -> list[str]:
    return sorted(c.hostname for c in found)


def test_index_answers_like_a_fresh_read(db: Database) -> None:
    seed(db)
    cache = SchedulerCache(max_age_s=60)
    with db.read() as session:
        fresh = candidates_for(session, one_fpga(), None, Policy.PACK)
        cached = candidates_for(session, one_fpga(), None, Policy.PACK, cache=cache)
    assert hosts_of(cached) == hosts_of(fresh) == ["h0", "h1", "h2", "h3"]


def test_stale_view_is_repaired_by_refresh_and_by_exclusion(db: Database) -> None:
    seed(db, hosts=2, vfs=1)
    cache = SchedulerCache(max_age_s=60)
    with db.read() as session:
        assert hosts_of(candidates_for(session, one_fpga(), None, cache=cache)) == ["h0", "h1"]
    # Another replica takes h0's only handle: this cache does not know yet.
    with db.write() as session:
        session.execute(
            update(AttachHandle)
            .where(
                AttachHandle.deployable_id.in_(
                    select(Deployable.id).join(Device).where(Device.hostname == "h0")
                )
            )
            .values(in_use=True)
        )
    with db.read() as session:
        assert "h0" in hosts_of(candidates_for(session, one_fpga(), None, cache=cache))
        # The bind that lost on h0 excludes its deployable: the host is re-read, h1 is proposed.
        h0_deployable = session.scalar(select(Deployable.id).join(Device).where(Device.hostname == "h0"))
        found = candidates_for(session, one_fpga(), 5, exclude={h0_deployable}, cache=cache)
        assert hosts_of(found) == ["h1"]
        # And the refresh stuck: the next plain query no longer offers h0.
        assert hosts_of(candidates_for(session, one_fpga(), None, cache=cache)) == ["h1"]


def test_disabled_host_after_refresh_offers_nothing(db: Database) -> None:
    seed(db, hosts=2)
    cache = SchedulerCache(max_age_s=60)
    with db.read() as session:
        candidates_for(session, one_fpga(), None, cache=cache)
    with db.write() as session:
        session.execute(update(Device).where(Device.hostname == "h1").values(status="maintaining"))
    with db.read() as session:
        cache.refresh(session, {"h1"})
        assert hosts_of(candidates_for(session, one_fpga(), None, cache=cache)) == ["h0"]


def test_zero_age_means_no_index(db: Database) -> None:
    seed(db, hosts=1)
    cache = SchedulerCache(max_age_s=0)
    with db.read() as session:
        assert hosts_of(candidates_for(session, one_fpga(), None, cache=cache)) == ["h0"]
    assert not cache.enabled


def test_the_safety_net_rebuild_runs_beside_the_queries(db: Database) -> None:
    """A query that finds the last full read older than `rebuild_s` is answered from the index at
    once while a thread of the cache's own reads the fleet again (held up at its read here); so
    are the queries after it, and changes committed meanwhile reach the index as usual. The
    rebuilt index then holds what the store held, and keeps what this process moved past the
    rebuild's snapshot."""
    seed(db, hosts=2)
    cache = SchedulerCache(max_age_s=0.001, rebuild_s=3600)
    db.on_commit(cache.committed)
    with db.read() as session:
        assert hosts_of(cache.candidates(session, one_fpga(), None, Policy.PACK)) == ["h0", "h1"]
    with db.write() as session:  # a new host: followed by version, no rebuild needed
        apply_inventory_snapshot(session, InventorySnapshot.model_validate(fpga_host_snapshot("h2", vfs=2)))
    cache.rebuild_s = 0.001
    time.sleep(0.01)  # the last full read is now older than rebuild_s
    reading, release = threading.Event(), threading.Event()

    @event.listens_for(db.engine, "before_cursor_execute")
    def hold_the_rebuild(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        # Held at its last query (lost hosts), after it read the versions and the devices.
        if threading.current_thread().name == REBUILD_THREAD and "FROM hosts" in statement:
            reading.set()
            release.wait(10)

    try:
        with db.read() as session:
            # The current index answers (h2 followed) while the rebuild waits on the store.
            assert hosts_of(cache.candidates(session, one_fpga(), None, Policy.PACK)) == ["h0", "h1", "h2"]
        assert reading.wait(10)
        cache.rebuild_s = 3600
        with db.write() as session:
            session.execute(update(Device).where(Device.hostname == "h0").values(status="maintaining"))
            note_changed(session, ["h0"])
        with db.read() as session:
            assert hosts_of(cache.candidates(session, one_fpga(), None, Policy.PACK)) == ["h1", "h2"]
        rebuilding = [t for t in threading.enumerate() if t.name == REBUILD_THREAD]
        assert len(rebuilding) == 1  # one rebuild, however many queries found the index stale
    finally:
        release.set()
        for thread in threading.enumerate():
            if thread.name == REBUILD_THREAD:
                thread.join(10)
        event.remove(db.engine, "before_cursor_execute", hold_the_rebuild)
    assert cache.stats.rebuilds == 2
    # The rebuild read h0's device before it was disabled; the later version stays.
    with db.read() as session:
        assert hosts_of(cache.candidates(session, one_fpga(), None, Policy.PACK)) == ["h1", "h2"]

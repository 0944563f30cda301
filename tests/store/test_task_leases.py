"""Background tasks run on one replica at a time through leases in the database, and move to a
live replica within the lease (plus one tick) when their holder dies.

The replicas here are three Reconcilers on one database, ticking at the same moments from
threads (so they race for each lease for real) on a clock the test moves, so the handover bound
is checked in ticks, not by waiting.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from accord.reconcile import Reconciler
from accord.store import task_leases
from accord.store.db import Database

START = datetime(2026, 1, 1, tzinfo=UTC)
INTERVAL_S = 1.0
LEASE_S = 3.0
TASKS = ["lost_hosts", "operation_leases", "bind_timeouts", "placement_mirror", "blob_sweep"]


def test_a_lease_is_held_by_one_until_it_runs_out(db: Database) -> None:
    ttl = timedelta(seconds=LEASE_S)
    with db.write() as session:
        assert task_leases.acquire(session, "t", "a", START, ttl) == ""
    with db.write() as session:
        assert task_leases.acquire(session, "t", "b", START + timedelta(seconds=1), ttl) is None
        assert task_leases.acquire(session, "t", "a", START + timedelta(seconds=2), ttl) == "a"  # renewed
    with db.write() as session:  # a's renewal runs to 2 + 3 s
        assert task_leases.acquire(session, "t", "b", START + timedelta(seconds=4.5), ttl) is None
        assert task_leases.acquire(session, "t", "b", START + timedelta(seconds=5.5), ttl) == "a"
    with db.write() as session:
        task_leases.release(session, ["t"], "b", START + timedelta(seconds=6))
        assert task_leases.acquire(session, "t", "c", START + timedelta(seconds=6), ttl) == "b"
        (lease,) = task_leases.leases(session)
    assert lease.holder == "c"


class Replicas:
    """Three reconcilers whose task runs are recorded as (tick, task, holder)."""

    def __init__(self, db: Database) -> None:
        self.now = START
        self.tick_no = 0
        self.runs: list[tuple[int, str, str]] = []
        self.lock = threading.Lock()
        self.live: dict[str, Reconciler] = {}
        for name in ("r1", "r2", "r3"):
            replica = Reconciler(
                db,
                INTERVAL_S,
                timedelta(seconds=120),
                timedelta(seconds=300),
                extra_passes=[self._named("placement_mirror"), self._named("blob_sweep")],
                clock=lambda: self.now,
                lease_s=LEASE_S,
                holder=name,
            )
            for task in replica.tasks:
                task_run = task.run
                object.__setattr__(task, "run", self._recorded(task.name, name, task_run))
            self.live[name] = replica

    def _named(self, name: str) -> object:
        def run() -> None:
            return None

        run.__name__ = name
        return run

    def _recorded(self, task: str, holder: str, run: object) -> object:
        def recorded() -> object:
            with self.lock:
                self.runs.append((self.tick_no, task, holder))
            return run()  # type: ignore[operator]

        return recorded

    def tick(self) -> None:
        """Every live replica ticks at once, as their timers would fire."""
        self.tick_no += 1
        self.now += timedelta(seconds=INTERVAL_S)
        barrier = threading.Barrier(len(self.live))

        def one(replica: Reconciler) -> None:
            barrier.wait()
            replica.tick()

        threads = [threading.Thread(target=one, args=(r,)) for r in self.live.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def holders(self, task: str, ticks: range) -> dict[int, list[str]]:
        found: dict[int, list[str]] = defaultdict(list)
        for tick_no, name, holder in self.runs:
            if name == task and tick_no in ticks:
                found[tick_no].append(holder)
        return found


@pytest.mark.parametrize("backend", ["postgresql"])
def test_three_replicas_run_each_task_once_per_tick_and_replace_a_dead_holder(db: Database) -> None:
    replicas = Replicas(db)
    for _ in range(10):
        replicas.tick()
    for task in TASKS:  # every tick, exactly one replica ran each task
        holders = replicas.holders(task, range(1, 11))
        assert all(len(holders[t]) == 1 for t in range(1, 11)), (task, dict(holders))
    victim = replicas.holders("lost_hosts", range(10, 11))[10][0]
    victim_tasks = [t for t in TASKS if replicas.holders(t, range(10, 11))[10] == [victim]]
    del replicas.live[victim]  # killed: it neither runs nor renews nor releases
    killed_at = replicas.tick_no
    for _ in range(10):
        replicas.tick()
    bound = int(LEASE_S / INTERVAL_S) + 1
    handovers = {}
    for task in victim_tasks:
        holders = replicas.holders(task, range(killed_at + 1, killed_at + 11))
        first = min(holders)
        handovers[task] = first - killed_at
        assert first - killed_at <= bound, (task, dict(holders))
        assert all(len(h) == 1 and h[0] != victim for h in holders.values())
        assert all(t in holders for t in range(first, killed_at + 11))  # and keeps running there
    print(f"\nleases: {victim} killed; its tasks resumed after {handovers} ticks (bound {bound})")
    overlaps = [
        (t, h) for task in TASKS for t, h in replicas.holders(task, range(1, 21)).items() if len(h) > 1
    ]
    assert overlaps == []


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_replica_stopping_cleanly_hands_its_tasks_on_at_once(db: Database) -> None:
    replicas = Replicas(db)
    replicas.tick()
    holder = replicas.holders("bind_timeouts", range(1, 2))[1][0]
    replicas.live.pop(holder).stop()  # SIGTERM: the leases are released
    replicas.tick()
    (after,) = replicas.holders("bind_timeouts", range(2, 3))[2]
    assert after != holder


def test_reconcilers_pause_while_the_database_is_away_and_say_so(caplog: pytest.LogCaptureFixture) -> None:
    gone = Database("postgresql+psycopg://postgres@127.0.0.1:9/none", connect_timeout_s=2)
    replica = Reconciler(gone, INTERVAL_S, timedelta(seconds=120), timedelta(seconds=300), holder="r")
    replica.tick()
    replica.tick()
    gone.dispose()
    assert replica.paused
    assert caplog.text.count("background tasks paused") == 1  # said once, not on every tick
    assert "reconcile task" not in caplog.text  # no traceback per task

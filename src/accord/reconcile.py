"""Background reconcilers run by every server replica: lost hosts, operations whose agent went
silent, bind timeouts (and the Placement mirror and blob sweep handed in by the app).

Each task runs on one replica at a time, the holder of its lease in the database
(`store.task_leases`); each pass is also a set of conditional updates, so even two holders
(a lease overrun) would do the same idempotent work once in effect. Nothing here keeps state
between passes. The clock is injected (`now`, `clock`), so tests move time instead of waiting.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from accord.domain.arq import ARQState
from accord.store.binding import fail_bind
from accord.store.db import Database, database_unavailable
from accord.store.inventory import mark_lost_hosts
from accord.store.models import AcceleratorRequest, utcnow
from accord.store.operations import Completion, expire_leases
from accord.store.task_leases import acquire as acquire_lease
from accord.store.task_leases import release as release_leases

log = logging.getLogger(__name__)


def expire_stuck_binds(
    db: Database, timeout: timedelta, now: datetime | None = None
) -> list[AcceleratorRequest]:
    """ARQs left in BindStarted longer than the bind timeout fail and release their handles."""
    cutoff = (now or utcnow()) - timeout
    with db.write() as session:
        stuck = list(
            session.scalars(
                select(AcceleratorRequest)
                .where(
                    AcceleratorRequest.state == ARQState.BIND_STARTED.value,
                    AcceleratorRequest.bind_started_at < cutoff,
                )
                .with_for_update(skip_locked=True, of=AcceleratorRequest)
            ).unique()
        )
        for arq in stuck:
            fail_bind(session, arq, f"Binding did not finish within {timeout.total_seconds():.0f} s.")
    return stuck


def _lost_hosts(
    db: Database, lost_after: timedelta, on_hosts_lost: Callable[[], None] | None, now: datetime
) -> list[str]:
    with db.write() as session:
        lost = mark_lost_hosts(session, lost_after, now)
    if lost:
        log.warning("hosts lost (no report for %s): %s", lost_after, ", ".join(lost))
        if on_hosts_lost is not None:
            on_hosts_lost()
    return lost


def _operation_leases(
    db: Database,
    completions: dict[str, Completion] | None,
    notify: Callable[[Sequence[AcceleratorRequest]], None] | None,
    now: datetime,
) -> None:
    with db.write() as session:
        expired = expire_leases(session, completions or {}, now)
    if expired.operations:
        log.warning("operations whose agent went quiet: %s", ", ".join(o.uuid for o in expired.operations))
    if expired.resolved and notify is not None:
        notify(expired.resolved)


def _bind_timeouts(
    db: Database,
    timeout: timedelta,
    notify: Callable[[Sequence[AcceleratorRequest]], None] | None,
    now: datetime,
) -> None:
    failed = expire_stuck_binds(db, timeout, now)
    if failed and notify is not None:
        notify(failed)


def reconcile_once(
    db: Database,
    lost_after: timedelta,
    bind_timeout: timedelta,
    notify: Callable[[Sequence[AcceleratorRequest]], None] | None = None,
    completions: dict[str, Completion] | None = None,
    on_hosts_lost: Callable[[], None] | None = None,
    now: datetime | None = None,
) -> None:
    """Every task once, leases aside (tests, and a single process that owns the database)."""
    now = now or utcnow()
    _lost_hosts(db, lost_after, on_hosts_lost, now)
    _operation_leases(db, completions, notify, now)
    _bind_timeouts(db, bind_timeout, notify, now)


@dataclass(frozen=True)
class Task:
    """One background task; its name is its lease's name."""

    name: str
    run: Callable[[], object]


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Reconciler:
    """Runs each task on every tick while this replica holds the task's lease.

    With several replicas on one database each task runs on one of them at a time; when its
    holder dies, another takes it over within lease_s plus one interval. While the database
    cannot be reached nothing runs (there is nothing to lease); the loop says so once and
    carries on when it returns.
    """

    def __init__(
        self,
        db: Database,
        interval_s: float,
        lost_after: timedelta,
        bind_timeout: timedelta,
        notify: Callable[[Sequence[AcceleratorRequest]], None] | None = None,
        completions: dict[str, Completion] | None = None,
        extra_passes: Sequence[Callable[[], object]] = (),
        on_hosts_lost: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        lease_s: float | None = None,
        holder: str | None = None,
    ) -> None:
        self.clock = clock
        self.db = db
        self.interval_s = interval_s
        self.lease = timedelta(seconds=lease_s or max(30.0, 3 * interval_s))
        self.holder = holder or default_holder()
        self.tasks = [
            Task("lost_hosts", lambda: _lost_hosts(db, lost_after, on_hosts_lost, self.clock())),
            Task("operation_leases", lambda: _operation_leases(db, completions, notify, self.clock())),
            Task("bind_timeouts", lambda: _bind_timeouts(db, bind_timeout, notify, self.clock())),
            # Other convergence loops on the same tick (the Placement mirror, the blob sweep).
            *(Task(getattr(p, "__name__", repr(p)), p) for p in extra_passes),
        ]
        self.paused = False
        self._held: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="accord-reconciler", daemon=True)
        self._thread.start()

    def stop(self, release: bool = True) -> None:
        """Stop after the task in progress; `release` hands the leases on at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if release and self._held:
            try:
                with self.db.write() as session:
                    release_leases(session, sorted(self._held), self.holder, self.clock())
            except Exception as exc:  # the leases then run out by themselves
                log.warning("could not hand the task leases on: %s", exc)
            self._held.clear()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.tick()

    def tick(self) -> None:
        for task in self.tasks:
            if self._stop.is_set():
                return
            try:
                if self._acquire(task.name):
                    task.run()
                self._resumed()
            except Exception as exc:  # a failed task is retried on the next tick
                if database_unavailable(exc):
                    self._pause(exc)
                    return
                log.exception("reconcile task %s failed", task.name)

    def _acquire(self, name: str) -> bool:
        with self.db.write() as session:
            previous = acquire_lease(session, name, self.holder, self.clock(), self.lease)
        if previous is None:
            self._held.discard(name)
            return False
        if previous != self.holder:
            after = f", after {previous}" if previous else ""
            log.info("task %s now runs here (%s)%s", name, self.holder, after)
        self._held.add(name)
        return True

    def _pause(self, exc: BaseException) -> None:
        if not self.paused:
            log.warning("database unreachable, background tasks paused: %s", str(exc).splitlines()[0])
        self.paused = True
        self._held.clear()  # whatever we held may be taken over while we cannot renew

    def _resumed(self) -> None:
        if self.paused:
            log.warning("database reachable again, background tasks resumed")
        self.paused = False

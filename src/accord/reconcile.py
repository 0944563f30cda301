"""Background reconcilers run by every server replica: lost hosts, operations whose agent went
silent, and bind timeouts.

Each pass is a set of conditional updates, so replicas running it at the same moment do the
same idempotent work once in effect; nothing here keeps state between passes. The clock is
injected (`now`, `clock`), so tests move time instead of waiting for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select

from accord.domain.arq import ARQState
from accord.store.binding import fail_bind
from accord.store.db import Database
from accord.store.inventory import mark_lost_hosts
from accord.store.models import AcceleratorRequest, utcnow
from accord.store.operations import Completion, expire_leases

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


def reconcile_once(
    db: Database,
    lost_after: timedelta,
    bind_timeout: timedelta,
    notify: Callable[[Sequence[AcceleratorRequest]], None] | None = None,
    completions: dict[str, Completion] | None = None,
    on_hosts_lost: Callable[[], None] | None = None,
    now: datetime | None = None,
) -> None:
    now = now or utcnow()
    with db.write() as session:
        lost = mark_lost_hosts(session, lost_after, now)
    if lost:
        log.warning("hosts lost (no report for %s): %s", lost_after, ", ".join(lost))
        if on_hosts_lost is not None:
            on_hosts_lost()
    with db.write() as session:
        expired = expire_leases(session, completions or {}, now)
    if expired.operations:
        log.warning("operations whose agent went quiet: %s", ", ".join(o.uuid for o in expired.operations))
    failed = expired.resolved + expire_stuck_binds(db, bind_timeout, now)
    if failed and notify is not None:
        notify(failed)


class Reconciler:
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
    ) -> None:
        self.clock = clock
        self.on_hosts_lost = on_hosts_lost
        self.completions = completions
        # Other convergence loops on the same tick (the Placement mirror).
        self.extra_passes = list(extra_passes)
        self.db = db
        self.interval_s = interval_s
        self.lost_after = lost_after
        self.bind_timeout = bind_timeout
        self.notify = notify
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="accord-reconciler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                reconcile_once(
                    self.db,
                    self.lost_after,
                    self.bind_timeout,
                    self.notify,
                    self.completions,
                    self.on_hosts_lost,
                    self.clock(),
                )
            except Exception:  # a failed pass is retried on the next tick
                log.exception("reconcile pass failed")
            for extra in self.extra_passes:
                try:
                    extra()
                except Exception:
                    log.exception("reconcile pass %s failed", getattr(extra, "__name__", extra))

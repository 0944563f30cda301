"""The agent loop: discover, report the whole host, heartbeat, claim and report operations,
repeat.

Stateless between passes: every report is the whole snapshot and the server diffs it, so an
agent killed at any point and started again converges on the next pass. Operations run in
worker threads (`accord.agent.work`), so the loop keeps heartbeating while a tool works; every
heartbeat names the operations still held, which renews their leases.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accord import __version__
from accord.agent.executor import Outcome
from accord.agent.journal import OperationJournal
from accord.agent.reporter import Reporter, ServerUnreachable
from accord.agent.work import OperationWorkers
from accord.schemas.inventory import DeviceReport, InventorySnapshot

log = logging.getLogger(__name__)

Discover = Callable[[], tuple[list[DeviceReport], list[str]]]
# Cut off from the server, the agent tries again after poll_s, doubling up to this, each wait
# drawn between half and all of it, so agents cut off together do not return in lockstep.
MAX_BACKOFF_S = 60.0


@dataclass
class PassResult:
    devices: int
    skipped: list[str]
    summary: dict[str, object]


class Agent:
    def __init__(
        self,
        hostname: str,
        discover: Discover,
        reporter: Reporter,
        interval_s: float = 60.0,
        heartbeat_s: float = 15.0,
        execute: Callable[[dict[str, Any]], Outcome] | None = None,
        poll_s: float = 2.0,
        journal: OperationJournal | None = None,
        max_running: int = 4,
    ) -> None:
        self.poll_s = poll_s
        self.execute = execute
        self._wake = threading.Event()
        self.work = (
            OperationWorkers(reporter, execute, journal, max_running, self._wake)
            if execute is not None
            else None
        )
        self.hostname = hostname
        self.discover = discover
        self.reporter = reporter
        self.interval_s = interval_s
        self.heartbeat_s = heartbeat_s
        self.stopping = threading.Event()
        self._rescan_token: int | None = None
        self.cut_off_since: float | None = None  # monotonic time the server stopped answering
        self._failures = 0

    def snapshot(self) -> tuple[InventorySnapshot, list[str]]:
        devices, skipped = self.discover()
        for reason in skipped:
            log.warning("skipped during discovery: %s", reason)
        return InventorySnapshot(hostname=self.hostname, agent_version=__version__, devices=devices), skipped

    def run_once(self) -> PassResult:
        snapshot, skipped = self.snapshot()
        summary = self.reporter.report(snapshot)
        log.info(
            "reported %d devices for %s (added %s, updated %s, removed %s)",
            len(snapshot.devices),
            self.hostname,
            summary.get("added"),
            summary.get("updated"),
            summary.get("removed"),
        )
        return PassResult(len(snapshot.devices), skipped, summary)

    def run_operations(self) -> int:
        """Claim this host's queued operations and run them to the end (renewing their leases
        meanwhile); report the inventory they changed. Returns how many were taken on."""
        if self.work is None:
            return 0
        taken = self.work.claim()
        last_beat = time.monotonic()
        while True:
            self._wake.clear()
            self.work.reap()
            if not self.work.busy:
                break
            if time.monotonic() - last_beat >= self.work.renew_every(self.heartbeat_s):
                self.beat()
                last_beat = time.monotonic()
            self._wake.wait(self.work.renew_every(self.heartbeat_s))
        if taken:
            self.run_once()
        return taken

    def beat(self) -> dict[str, Any]:
        held = self.work.held() if self.work is not None else []
        beat = self.reporter.heartbeat(__version__, held)
        if self.work is not None:
            self.work.note_beat(beat)
        return beat

    def run_forever(self) -> None:
        """Report every interval, heartbeat in between (more often while operations run, to
        renew their leases), poll for operations often; a failed pass is logged and retried on
        the next tick."""
        if self.work is not None:
            try:
                self.work.recover()
            except Exception:
                log.exception("could not settle operations from before the restart; retrying later")
        last_report = last_beat = last_claim = float("-inf")
        while not self.stopping.is_set():
            self._wake.clear()
            now = time.monotonic()
            busy = self.work is not None and self.work.busy
            beat_every = self._beat_every()
            try:
                if now - last_report >= self.interval_s:
                    self.run_once()
                    last_report = now
                    if not busy:
                        last_beat = now
                if now - last_beat >= beat_every:
                    last_beat = now
                    if self._rescan_requested(self.beat()):
                        self.run_once()
                        last_report = now
                if self.work is not None:
                    if self.work.reap():
                        self.run_once()
                        last_report = time.monotonic()
                        last_claim = float("-inf")  # a device is free again: look for its next work
                    if self.work.capacity and now - last_claim >= self.poll_s:
                        last_claim = now
                        self.work.claim()
            except ServerUnreachable as exc:
                self._wake.wait(self._cut_off(exc))
                last_report = float("-inf")  # next try: discover afresh and report that
                continue
            except Exception:
                log.exception("agent pass failed; retrying")
            self._back_in_touch()
            self._wake.wait(min(self.poll_s, self._beat_every()))

    def _cut_off(self, exc: ServerUnreachable) -> float:
        """Note the failure; returns how long to wait before trying again. Until the server
        answers, every try is a whole pass: discover afresh, report (once, when it answers)."""
        if self.cut_off_since is None:
            self.cut_off_since = time.monotonic()
            log.warning("cut off from the server (%s); retrying with backoff, discovery goes on", exc)
            self.reporter.retries_now = 1  # the backoff is here now, not in each request
        self._failures += 1
        ceiling = min(MAX_BACKOFF_S, self.poll_s * 2.0 ** min(self._failures, 10))
        return random.uniform(0.5, 1.0) * ceiling

    def _back_in_touch(self) -> None:
        if self.cut_off_since is None:
            return
        log.warning("server answers again after %.0f s cut off", time.monotonic() - self.cut_off_since)
        self.cut_off_since = None
        self._failures = 0
        self.reporter.retries_now = None

    def _beat_every(self) -> float:
        if self.work is not None and self.work.busy:
            return self.work.renew_every(self.heartbeat_s)
        return self.heartbeat_s

    def _rescan_requested(self, beat: dict[str, Any]) -> bool:
        token = beat.get("rescan_token")
        changed = self._rescan_token is not None and token != self._rescan_token
        self._rescan_token = token if isinstance(token, int) else None
        return changed

    def stop(self) -> None:
        self.stopping.set()
        self._wake.set()

    def close(self) -> None:
        """Stop, and close the connection to the server."""
        self.stop()
        self.reporter.close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

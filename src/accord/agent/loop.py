"""The agent loop: discover, report the whole host, heartbeat, repeat.

Stateless between passes: every report is the whole snapshot and the server diffs it, so an
agent killed at any point and started again converges on the next pass.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accord import __version__
from accord.agent.executor import Outcome
from accord.agent.reporter import Reporter, claim_and_finish
from accord.schemas.inventory import DeviceReport, InventorySnapshot

log = logging.getLogger(__name__)

Discover = Callable[[], tuple[list[DeviceReport], list[str]]]


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
    ) -> None:
        self.poll_s = poll_s
        self.execute = execute
        self.hostname = hostname
        self.discover = discover
        self.reporter = reporter
        self.interval_s = interval_s
        self.heartbeat_s = heartbeat_s
        self.stopping = threading.Event()
        self._rescan_token: int | None = None

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
        """Claim and run this host's queued operations; report the inventory they changed."""
        if self.execute is None:
            return 0
        ran = claim_and_finish(self.reporter, self.execute)
        if ran:
            self.run_once()
        return ran

    def run_forever(self) -> None:
        """Report every interval, heartbeat in between, poll for operations often; a failed
        pass is logged and retried on the next tick."""
        last_report = last_beat = float("-inf")
        while not self.stopping.is_set():
            now = time.monotonic()
            try:
                if now - last_report >= self.interval_s:
                    self.run_once()
                    last_report = last_beat = now
                elif now - last_beat >= self.heartbeat_s:
                    last_beat = now
                    if self._rescan_requested(self.reporter.heartbeat(__version__)):
                        self.run_once()
                        last_report = now
                if self.run_operations():
                    last_report = time.monotonic()
            except Exception:
                log.exception("agent pass failed; retrying")
            self.stopping.wait(self.poll_s)

    def _rescan_requested(self, beat: dict[str, Any]) -> bool:
        token = beat.get("rescan_token")
        changed = self._rescan_token is not None and token != self._rescan_token
        self._rescan_token = token if isinstance(token, int) else None
        return changed

    def stop(self) -> None:
        self.stopping.set()

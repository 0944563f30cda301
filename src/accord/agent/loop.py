"""The agent loop: discover, report the whole host, heartbeat, repeat.

Stateless between passes: every report is the whole snapshot and the server diffs it, so an
agent killed at any point and started again converges on the next pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from accord import __version__
from accord.agent.reporter import Reporter
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
    ) -> None:
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

    def run_forever(self) -> None:
        """Report every interval, heartbeat in between; a failed pass is retried next tick."""
        next_report = 0.0
        elapsed = 0.0
        while not self.stopping.is_set():
            try:
                if elapsed >= next_report:
                    self.run_once()
                    next_report = elapsed + self.interval_s
                else:
                    beat = self.reporter.heartbeat(__version__)
                    token = beat.get("rescan_token")
                    if self._rescan_token is not None and token != self._rescan_token:
                        next_report = elapsed  # the server asked for a rescan now
                    self._rescan_token = token if isinstance(token, int) else None
            except Exception:
                log.exception("agent pass failed; retrying in %.0f s", self.heartbeat_s)
            wait = min(self.heartbeat_s, max(0.0, next_report - elapsed)) or self.heartbeat_s
            if self.stopping.wait(wait):
                break
            elapsed += wait

    def stop(self) -> None:
        self.stopping.set()

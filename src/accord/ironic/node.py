"""The node as an Accord host, for the length of one Ironic step: discover with the agent's
drivers, report the whole inventory under the node's uuid, start the step's operations on the
server (which refuses unapproved, missing, wrong-kind or wrong-interface images before anything
is touched), carry them out through the agent's executor (sha256, signature and interface checked
again on the node, then program or flash, then read back), and report each result.

While a tool works the node heartbeats, naming the operation, so its lease holds; a step killed
mid-flash stops heartbeating, the lease runs out and the server quarantines the device.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from accord import __version__
from accord.agent.drivers import all_drivers, discover_host
from accord.agent.drivers.base import Discovers
from accord.agent.drivers.intel_fpga import IntelFpgaDriver
from accord.agent.executor import Executor, Outcome
from accord.agent.reporter import Reporter, ServerRefused, ServerUnreachable
from accord.ironic.settings import RamdiskSettings
from accord.schemas.inventory import DeviceReport, InventorySnapshot

log = logging.getLogger(__name__)

RETRIES = 5  # 0.5 + 1 + 2 + 4 s of backoff: a server restart is waited for, an absent one is not


class StepRefused(Exception):
    """Accord refused the step (bad image, wrong card, wrong node); nothing was touched."""


class StepFailed(Exception):
    """Accord was unreachable, or an operation failed; the message says which and why."""


class NodeReporter(Reporter):
    def start_operations(self, kind: str, image_uuid: str, pci_address: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": kind, "image_uuid": image_uuid}
        if pci_address is not None:
            body["pci_address"] = pci_address
        started: dict[str, Any] = self._post(f"/v2/hosts/{self.hostname}/operations", body)
        return started


class NodeHost:
    def __init__(self, node_uuid: str, settings: RamdiskSettings, retries: int = RETRIES) -> None:
        self.node_uuid = node_uuid
        self.drivers = all_drivers(settings.sysfs_root, settings.simulate)
        self.reporter = NodeReporter(settings.url, node_uuid, settings.token, retries=retries)
        self.executor = Executor(self.drivers, node_uuid, self.reporter.download_image)

    def close(self) -> None:
        self.reporter.close()

    def discover(self) -> list[DeviceReport]:
        devices, _skipped = discover_host(self.drivers)
        return devices

    def devices_by_driver(self) -> list[tuple[Discovers, DeviceReport]]:
        found: dict[str, tuple[Discovers, DeviceReport]] = {}
        for driver in self.drivers:
            try:
                reports = driver.discover()
            except Exception:
                log.exception("driver %s failed to discover", driver.name)
                continue
            for device in reports:
                found.setdefault(device.pci_address, (driver, device))
        return [found[a] for a in sorted(found)]

    def report(self) -> dict[str, Any]:
        snapshot = InventorySnapshot(
            hostname=self.node_uuid, agent_version=__version__, devices=self.discover()
        )
        return self.reporter.report(snapshot)

    @contextmanager
    def talking(self) -> Iterator[None]:
        """Server refusals and unreachability as the step's two kinds of failure."""
        try:
            yield
        except ServerRefused as exc:
            raise StepRefused(str(exc)) from exc
        except ServerUnreachable as exc:
            raise StepFailed(str(exc)) from exc

    def run(self, kind: str, image_uuid: str, pci_address: str | None) -> list[dict[str, Any]]:
        """Start, carry out and report the step's operations; a failed one fails the step."""
        with self.talking():
            self.report()
            started = self.reporter.start_operations(kind, image_uuid, pci_address)
            lease_s = float(started.get("lease_s") or 60)
            done, failures = [], []
            for operation in started.get("operations", []):
                if kind == "program":
                    self._reclaim_ports(str(operation["params"]["pci_address"]))
                outcome = self._execute(operation, lease_s)
                recorded = self.reporter.finish(
                    operation["uuid"], outcome.succeeded, outcome.result, outcome.error, operation["attempts"]
                )
                done.append(recorded)
                if recorded.get("state") != "succeeded":
                    failures.append(f"operation {recorded['uuid']}: {recorded.get('error')}")
            self.report()
        if failures:
            raise StepFailed("; ".join(failures))
        return done

    def _reclaim_ports(self, pci_address: str) -> None:
        for driver in self.drivers:
            if isinstance(driver, IntelFpgaDriver) and any(
                d.pci_address == pci_address for d in driver.discover()
            ):
                taken = driver.reclaim_ports(pci_address)
                if taken:
                    log.info("took port(s) %s of %s back from its VF", taken, pci_address)

    def _execute(self, operation: dict[str, Any], lease_s: float) -> Outcome:
        """Run the operation in this thread; heartbeat (renewing its lease) from another."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(max(0.2, lease_s / 3)):
                try:
                    self.reporter.heartbeat(__version__, [operation["uuid"]])
                except (ServerRefused, ServerUnreachable) as exc:
                    log.warning("heartbeat failed while operation %s runs: %s", operation["uuid"], exc)

        beater = threading.Thread(target=beat, name="accord-ironic-heartbeat", daemon=True)
        beater.start()
        try:
            return self.executor.execute(operation)
        finally:
            stop.set()
            beater.join()

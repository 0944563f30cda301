"""Keep Placement converged with Accord's provider tree.

Each sync compares, host by host, the children of the compute node's provider with the tree
Accord wants, and repairs every difference: missing providers are created (custom resource
classes and traits first), inventories and traits rewritten where they differ, and providers
of deployables that no longer exist deleted. It reads before it writes and writes only what
differs, so a sync after a restart of Accord or of Placement, or after a partial failure, just
finishes the work; a generation conflict re-reads and retries. Nothing is remembered between
syncs: Placement and the store are the only state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from accord.placement.client import PlacementClient, PlacementError
from accord.placement.tree import STANDARD_RESOURCE_CLASSES, ChildProvider, desired_tree, is_ours

log = logging.getLogger(__name__)
RETRIES = 3


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    hosts_without_provider: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


class PlacementMirror:
    def __init__(self, client: PlacementClient) -> None:
        self.client = client
        self._known_traits: set[str] = set()
        self._known_classes: set[str] = set()

    def sync(self, session: Session) -> SyncReport:
        # Forget what was ensured last time: Placement may have been rebuilt since.
        self._known_traits.clear()
        self._known_classes.clear()
        report = SyncReport()
        for host, children in sorted(desired_tree(session).items()):
            try:
                self._sync_host(host, children, report)
            except PlacementError as exc:
                report.errors.append(f"{host}: {exc}")
                log.warning("placement mirror: host %s: %s", host, exc)
        return report

    def _sync_host(self, host: str, children: list[ChildProvider], report: SyncReport) -> None:
        root = self.client.provider_by_name(host)
        if root is None:
            # Nova creates the compute node's provider; creating it here would take its name.
            report.hosts_without_provider.append(host)
            return
        existing = {p["uuid"]: p for p in self.client.tree(root["uuid"]) if p["uuid"] != root["uuid"]}
        wanted = {c.uuid: c for c in children}
        for child in children:
            try:
                self._sync_child(child, root["uuid"], existing.get(child.uuid), report)
            except PlacementError as exc:
                report.errors.append(f"{child.name}: {exc}")
        for provider_uuid, provider in existing.items():
            if provider_uuid in wanted or not is_ours(provider_uuid, provider["name"]):
                continue
            try:
                self.client.delete_provider(provider_uuid)
                report.deleted.append(provider["name"])
            except PlacementError as exc:  # allocations still on it: try again next sync
                report.errors.append(f"{provider['name']}: {exc}")

    def _sync_child(
        self, child: ChildProvider, root_uuid: str, existing: dict[str, object] | None, report: SyncReport
    ) -> None:
        if existing is None and self._create(child, root_uuid):
            report.created.append(child.name)
        changed = self._retry(lambda: self._sync_inventory(child))
        changed |= self._retry(lambda: self._sync_traits(child))
        if changed and existing is not None:
            report.updated.append(child.name)

    def _create(self, child: ChildProvider, root_uuid: str) -> bool:
        """Create the child's provider; False when a concurrent writer (another replica's
        reconcile, `accord placement sync`) created the same provider first."""
        try:
            self.client.create_provider(child.uuid, child.name, root_uuid)
        except PlacementError as exc:
            if exc.status != 409:
                raise
            current = self.client.provider(child.uuid)
            if current is None or current.get("parent_provider_uuid") != root_uuid:
                raise  # the name belongs to some other provider: a real conflict
            return False
        return True

    def _retry(self, step: Callable[[], bool]) -> bool:
        for attempt in range(RETRIES):
            try:
                return step()
            except PlacementError as exc:
                if exc.code != "placement.concurrent_update" or attempt == RETRIES - 1:
                    raise
        return False

    def _sync_inventory(self, child: ChildProvider) -> bool:
        wanted = child.inventories()
        current, generation = self.client.inventories(child.uuid)
        if _same_inventories(current, wanted):
            return False
        for resource_class in wanted:
            self._ensure_class(resource_class)
        self.client.set_inventories(child.uuid, generation, wanted)
        return True

    def _sync_traits(self, child: ChildProvider) -> bool:
        current, generation = self.client.traits(child.uuid)
        if current == set(child.traits):
            return False
        for trait in child.traits:
            self._ensure_trait(trait)
        self.client.set_traits(child.uuid, generation, set(child.traits))
        return True

    def _ensure_class(self, name: str) -> None:
        if name in STANDARD_RESOURCE_CLASSES or name in self._known_classes:
            return
        self.client.ensure_resource_class(name)
        self._known_classes.add(name)

    def _ensure_trait(self, name: str) -> None:
        if not name.startswith("CUSTOM_") or name in self._known_traits:
            return
        self.client.ensure_trait(name)
        self._known_traits.add(name)


def _same_inventories(
    current: dict[str, dict[str, object]], wanted: dict[str, dict[str, int | float]]
) -> bool:
    if set(current) != set(wanted):
        return False
    return all(
        all(current[rc].get(key) == value for key, value in fields.items()) for rc, fields in wanted.items()
    )

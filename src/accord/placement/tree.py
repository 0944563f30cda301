"""The tree Placement should hold, computed from the store: under each compute node's provider
(named like the host), one child per deployable, as Cyborg lays it out.

Plain data, no HTTP: the mirror compares it with what Placement has and repairs the difference.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.domain.partitions import shown_to_mirror
from accord.domain.usability import device_usable
from accord.store.models import Attribute, Deployable, Device, Host
from accord.store.partitions import load_partitioned

STANDARD_RESOURCE_CLASSES = frozenset({"FPGA", "PGPU", "VGPU"})


@dataclass(frozen=True)
class ChildProvider:
    uuid: str
    name: str
    resource_class: str
    total: int
    reserved: int
    traits: frozenset[str] = field(default_factory=frozenset)

    def inventories(self) -> dict[str, dict[str, int | float]]:
        """Placement refuses total 0, so a deployable with nothing to offer has no inventory."""
        if self.total < 1:
            return {}
        return {
            self.resource_class: {
                "total": self.total,
                "reserved": self.reserved,
                "min_unit": 1,
                "max_unit": self.total,
                "step_size": 1,
                "allocation_ratio": 1.0,
            }
        }


def is_ours(provider_uuid: str, name: str) -> bool:
    """Accord's (and Cyborg's) child providers have uuid = uuid3(DNS, name); Nova's own nested
    providers (vGPU, NUMA) have random uuids, so the mirror never touches them."""
    return provider_uuid == str(uuid.uuid3(uuid.NAMESPACE_DNS, name))


def mirrored_partitions(session: Session) -> tuple[set[int], dict[int, int]]:
    """(ids of the partitions Placement is shown, their totals). Placement has no shared
    counters, so of the types on a GPU that exclude each other only one is mirrored: the type
    in use, else the operator's pin, else the default (`domain.partitions.mirrored_part`); its
    inventory is what it can really have at once. Partitions in no exclusivity group (MIG
    profiles, the whole GPU in MIG mode) are all shown, each with its real total now."""
    shown: set[int] = set()
    totals: dict[int, int] = {}
    for device in load_partitioned(session).values():
        keys = shown_to_mirror(device.parts, device.pinned, device.counter_sets)
        shown.update(device.deployable_ids[key] for key in keys)
        totals.update(device.totals())
    return shown, totals


def desired_tree(session: Session) -> dict[str, list[ChildProvider]]:
    """Host name → its deployables' providers. A device disabled, quarantined, lost or unusable,
    or a host that is lost, reserves everything it has (reserved = total), as Cyborg does for a
    disabled device: the provider stays, nothing can be allocated from it. Partitions: see
    `mirrored_partitions`."""
    shown, totals = mirrored_partitions(session)
    lost_hosts = set(session.scalars(select(Host.name).where(Host.state.in_(("lost", "in use")))))
    traits: dict[int, set[str]] = {}
    for deployable_id, value in session.execute(
        select(Attribute.deployable_id, Attribute.value).where(Attribute.key.startswith("trait"))
    ):
        traits.setdefault(deployable_id, set()).add(value)
    tree: dict[str, list[ChildProvider]] = {name: [] for name in session.scalars(select(Host.name))}
    rows = session.execute(
        select(Deployable, Device).join(Device, Deployable.device_id == Device.id).order_by(Deployable.name)
    )
    for deployable, device in rows:
        if not deployable.resource_class:
            continue
        if deployable.partition and deployable.id in totals and deployable.id not in shown:
            continue
        offers_nothing = device.hostname in lost_hosts or not device_usable(
            device.status, device.health, device.lost, device.quarantine_reason
        )
        total = totals.get(deployable.id, deployable.num_accelerators)
        tree.setdefault(device.hostname, []).append(
            ChildProvider(
                uuid=deployable.rp_uuid,
                name=deployable.name,
                resource_class=deployable.resource_class,
                total=total,
                reserved=total if offers_nothing else 0,
                traits=frozenset(traits.get(deployable.id, set())),
            )
        )
    return tree

"""What the DRA export needs, read from the store as plain data (`domain/dra.py` builds the
Kubernetes objects from it)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.domain.device_profile import parse_groups
from accord.domain.dra import ClassGroup, DraPool, DraUnit, counter_name, trait_attributes
from accord.domain.errors import NotFound
from accord.domain.partitions import PartitionSpec, shown_to_mirror
from accord.domain.usability import device_usable
from accord.store.models import AttachHandle, Attribute, Deployable, Device, DeviceProfile, Host
from accord.store.partitions import load_partitioned


def _quantity(counter: str, amount: int) -> tuple[str, str]:
    name, unit = counter_name(counter)
    return name, f"{amount}{unit}"


def _set_hint(device: Device, set_name: str) -> str:
    return f"{set_name}-{device.pci_address}"


def host_pool(session: Session, hostname: str, driver: str) -> DraPool:
    host = session.scalar(select(Host).where(Host.name == hostname))
    if host is None:
        raise NotFound(f"Host {hostname} could not be found.")
    devices = list(
        session.scalars(select(Device).where(Device.hostname == hostname).order_by(Device.pci_address))
    )
    partitioned = load_partitioned(session, [d.id for d in devices])
    shown: set[str] = set()
    for state in partitioned.values():
        shown |= shown_to_mirror(state.parts, state.pinned, state.counter_sets)
    deployables = list(
        session.scalars(
            select(Deployable)
            .where(Deployable.device_id.in_([d.id for d in devices]))
            .order_by(Deployable.name)
        )
    )
    handles: dict[int, int] = defaultdict(int)
    for dep_id in session.scalars(
        select(AttachHandle.deployable_id).where(
            AttachHandle.deployable_id.in_([d.id for d in deployables]), AttachHandle.lost.is_(False)
        )
    ):
        handles[dep_id] += 1
    traits: dict[int, list[str]] = defaultdict(list)
    for dep_id, value in session.execute(
        select(Attribute.deployable_id, Attribute.value).where(
            Attribute.deployable_id.in_([d.id for d in deployables]), Attribute.key.like("trait%")
        )
    ):
        traits[dep_id].append(value)
    by_id = {d.id: d for d in devices}
    counter_sets: dict[str, dict[str, str]] = {}
    for device in devices:
        for set_name, counters in (device.counter_sets or {}).items():
            counter_sets[_set_hint(device, set_name)] = dict(
                _quantity(c, int(v)) for c, v in counters.items()
            )
    units: list[DraUnit] = []
    for deployable in deployables:
        device = by_id[deployable.device_id]
        spec = PartitionSpec.from_json(deployable.partition) if device.id in partitioned else None
        if spec is not None and deployable.uuid not in shown:
            continue  # an exclusive type that is not the mirrored one
        count = handles[deployable.id]
        if spec is not None and spec.max_units is not None:
            count = min(count, spec.max_units)
        for index in range(count):
            units.append(_unit(device, deployable, spec, traits[deployable.id], index, host.state == "lost"))
    return DraPool(hostname, host.inventory_generation or 0, counter_sets, units)


def _unit(
    device: Device,
    deployable: Deployable,
    spec: PartitionSpec | None,
    traits: list[str],
    index: int,
    host_lost: bool,
) -> DraUnit:
    local = deployable.name.split("_", 1)[-1]
    attributes: dict[str, str | int | bool] = {
        "type": device.type,
        "vendor": device.vendor,
        "product": device.product,
        "model": device.model,
        "pciAddress": device.pci_address,
        "resourceClass": deployable.resource_class,
        "deployable": deployable.uuid,
    }
    if device.numa_node is not None:
        attributes["numaNode"] = device.numa_node
    if deployable.function_id:
        attributes["functionId"] = deployable.function_id
    if spec is not None and spec.part_type:
        attributes["partType"] = spec.part_type
    capacity: dict[str, str] = {}
    consumes: dict[str, dict[str, str]] = {}
    if spec is not None:
        for set_name, counters in spec.consumes.items():
            consumes[_set_hint(device, set_name)] = dict(
                _quantity(c, a) for c, a in counters.items() if a > 0
            )
            if "framebuffer_mib" in counters:
                capacity["memory"] = f"{counters['framebuffer_mib']}Mi"
    attributes.update(trait_attributes(traits, 32 - len(attributes) - len(capacity)))
    return DraUnit(
        name_hint=f"{local}-{index}",
        attributes=attributes,
        capacity=capacity,
        consumes=consumes,
        taints=_taints(device, host_lost),
    )


def _taints(device: Device, host_lost: bool) -> tuple[tuple[str, str, str], ...]:
    """Disabled: NoSchedule (running claims stay); quarantined, unusable or lost: NoExecute."""
    if device.quarantine_reason:
        return (("accord/quarantined", "true", "NoExecute"),)
    if device.health == "unusable" or device.lost or host_lost:
        return (("accord/unusable", "true", "NoExecute"),)
    if not device_usable(device.status, device.health, device.lost, device.quarantine_reason):
        return (("accord/disabled", "true", "NoSchedule"),)
    return ()


def class_groups(session: Session) -> list[ClassGroup]:
    """One DeviceClass per device profile group (a one-group profile's class is named like it)."""
    found: list[ClassGroup] = []
    for profile in session.scalars(select(DeviceProfile).order_by(DeviceProfile.name)):
        groups = parse_groups(profile.profile_json.get("groups", []))
        for index, group in enumerate(groups):
            found.append(
                ClassGroup(
                    name=profile.name if len(groups) == 1 else f"{profile.name}-{index}",
                    resource_class=next(iter(group.resources)),
                    required_traits=group.required_traits,
                    forbidden_traits=group.forbidden_traits,
                    function_id=group.function_id,
                )
            )
    return found

"""Partitions: parts of one device that draw on the device's shared counters, and which of them
can exist at once.

A device may carry counter sets (a GPU's framebuffer and VF slots, MIG memory and compute
slices, a PF's VFs): `{set: {counter: amount}}`. Each of its deployables (a vGPU type, a MIG
profile, the whole GPU, a VF pool) may carry a `PartitionSpec`: what one unit consumes from
those counters, at most how many units may exist (`max_units`, e.g. a vGPU type's
`max_instance`), and an exclusivity group (a GPU runs one vGPU type at a time: the types share a
group, and only one member of a group may have units in use).

These are the rules the bind, the scheduler, the Placement mirror and the DRA export share:
`capacities` (how many more units each part can take now), `violation` (why a usage cannot
exist), and `mirrored_part` (the one type per device a counter-less consumer such as Placement
is shown). Plain data in, plain data out: no SQL, no HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

CounterSets = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class PartitionSpec:
    """How one unit of a deployable draws on its device."""

    consumes: CounterSets = field(default_factory=dict)
    exclusive_group: str | None = None
    max_units: int | None = None
    # Units that exist on the host without Accord handing them out (a vGPU created by hand,
    # or one whose removal is still queued): they count as used.
    occupied: int = 0
    # The name the operator pins and Placement mirrors by (a vGPU type id, a MIG profile).
    part_type: str | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, object] | None) -> PartitionSpec | None:
        if not raw:
            return None
        consumes = raw.get("consumes") or {}
        group = raw.get("exclusive_group")
        max_units = raw.get("max_units")
        occupied = raw.get("occupied") or 0
        part_type = raw.get("part_type")
        assert isinstance(consumes, Mapping)
        return cls(
            consumes={str(s): {str(c): int(v) for c, v in dict(cs).items()} for s, cs in consumes.items()},
            exclusive_group=str(group) if group is not None else None,
            max_units=int(str(max_units)) if max_units is not None else None,
            occupied=int(str(occupied)),
            part_type=str(part_type) if part_type is not None else None,
        )

    def to_json(self) -> dict[str, object]:
        return {
            "consumes": {s: dict(c) for s, c in self.consumes.items()},
            "exclusive_group": self.exclusive_group,
            "max_units": self.max_units,
            "occupied": self.occupied,
            "part_type": self.part_type,
        }


@dataclass(frozen=True)
class Part:
    """One deployable of a partitioned device, with what the store knows of its use now."""

    key: str  # the deployable's uuid (any id unique on the device)
    spec: PartitionSpec
    handles: int  # attach handles it has (not lost): never more units than that
    in_use: int  # handles held by ARQs

    @property
    def used(self) -> int:
        """Units that exist or are promised: handed out, or present on the host all the same."""
        return max(self.in_use, self.spec.occupied)


def counters_used(parts: Sequence[Part]) -> dict[tuple[str, str], int]:
    used: dict[tuple[str, str], int] = {}
    for part in parts:
        for set_name, counters in part.spec.consumes.items():
            for counter, amount in counters.items():
                used[(set_name, counter)] = used.get((set_name, counter), 0) + amount * part.used
    return used


def _active_members(parts: Sequence[Part]) -> dict[str, list[Part]]:
    active: dict[str, list[Part]] = {}
    for part in parts:
        if part.spec.exclusive_group is not None and part.used > 0:
            active.setdefault(part.spec.exclusive_group, []).append(part)
    return active


def capacities(counter_sets: CounterSets, parts: Sequence[Part]) -> dict[str, int]:
    """How many more units each part can take now, given what the others use.

    A part is bounded by its free handles, by `max_units` less what it uses, by every counter
    it consumes (what is left divided by what one unit takes; a counter the device does not
    declare is 0), and is 0 while another member of its exclusivity group has units in use.
    """
    used = counters_used(parts)
    active = _active_members(parts)
    found: dict[str, int] = {}
    for part in parts:
        room = part.handles - part.used
        spec = part.spec
        if spec.max_units is not None:
            room = min(room, spec.max_units - part.used)
        group = spec.exclusive_group
        if group is not None and any(other.key != part.key for other in active.get(group, ())):
            room = 0
        for set_name, counters in spec.consumes.items():
            for counter, amount in counters.items():
                if amount <= 0:
                    continue
                total = counter_sets.get(set_name, {}).get(counter, 0)
                room = min(room, (total - used.get((set_name, counter), 0)) // amount)
        found[part.key] = max(0, room)
    return found


def violation(counter_sets: CounterSets, parts: Sequence[Part], names: Mapping[str, str]) -> str | None:
    """Why these parts cannot all be in use at once (None when they can). `names` maps a
    part's key to how a message names it (a vGPU type's name)."""
    for group, members in sorted(_active_members(parts).items()):
        if len(members) > 1:
            shown = " and ".join(sorted(names.get(m.key, m.key) for m in members))
            return f"{shown} exclude each other on one device (exclusivity group {group!r})"
    for part in parts:
        if part.spec.max_units is not None and part.used > part.spec.max_units:
            return f"{names.get(part.key, part.key)} allows at most {part.spec.max_units} units on one device"
    for (set_name, counter), amount in sorted(counters_used(parts).items()):
        total = counter_sets.get(set_name, {}).get(counter, 0)
        if amount > total:
            return f"counter {set_name}/{counter} would be overdrawn: {amount} asked, {total} available"
    return None


def real_totals(counter_sets: CounterSets, parts: Sequence[Part]) -> dict[str, int]:
    """What each part can really have at once now: the units it uses plus what it can still take
    (the `num_accelerators` shown, and the inventory mirrored into Placement)."""
    free = capacities(counter_sets, parts)
    return {part.key: part.used + free[part.key] for part in parts}


def mirrored_part(parts: Sequence[Part], pinned: str | None, counter_sets: CounterSets) -> dict[str, str]:
    """For each exclusivity group, the one member shown to a consumer that cannot express
    exclusivity (Placement, a DRA pool): the member in use; else the one the operator pinned
    (`part_type`); else the default, the member that can hold the most units (ties: lowest
    type). Returns group -> part key; parts in no group are always shown."""
    totals = real_totals(counter_sets, [Part(p.key, p.spec, p.handles, 0) for p in parts])
    chosen: dict[str, str] = {}
    by_group: dict[str, list[Part]] = {}
    for part in parts:
        if part.spec.exclusive_group is not None:
            by_group.setdefault(part.spec.exclusive_group, []).append(part)
    for group, members in by_group.items():
        busy = [m for m in members if m.used > 0]
        pins = [m for m in members if pinned is not None and m.spec.part_type == pinned]
        if busy:
            pick = busy[0]
        elif pins:
            pick = pins[0]
        else:
            pick = min(members, key=lambda m: (-totals[m.key], m.spec.part_type or m.key))
        chosen[group] = pick.key
    return chosen


def shown_to_mirror(parts: Sequence[Part], pinned: str | None, counter_sets: CounterSets) -> set[str]:
    """The keys of the parts a counter-less consumer is shown (see `mirrored_part`)."""
    chosen = set(mirrored_part(parts, pinned, counter_sets).values())
    return {p.key for p in parts if p.spec.exclusive_group is None or p.key in chosen}


def coexists(counter_sets: CounterSets, parts: Sequence[Part], added: Mapping[str, int]) -> bool:
    """Could these parts take `added` more units (part key -> units) all at once?"""
    grown = [Part(p.key, p.spec, p.handles, p.used + added.get(p.key, 0)) for p in parts]
    return violation(counter_sets, grown, {}) is None

"""Accord's inventory as Kubernetes Dynamic Resource Allocation objects (`resource.k8s.io/v1`).

One pool per host (named like the host, its generation the host's inventory generation). Each
partitioned device's counter sets go in their own slices (v1 allows only one of `devices` and
`sharedCounters` in a slice; at most 8 counter sets in one); every allocatable unit (one per
attach handle, for a partition at most its `max_units`) is a device, with `consumesCounters` on
partitions, capacities (a vGPU's memory), attributes a DeviceClass selects on, and taints on
devices that may not be used. Of a GPU's vGPU types that exclude each other, only the mirrored
one is exported (counters cannot say "one type at a time"), as for Placement.

v1's limits kept here: 128 devices per slice, 64 when any device in it has taints or consumes
counters; 32 attributes and capacities per device; 8 counter sets per slice; names DNS labels
(devices, counter sets, counters) or DNS subdomains (slices, classes); attribute ids C
identifiers of at most 32 characters; string attributes at most 64 characters.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

API_VERSION = "resource.k8s.io/v1"
MAX_DEVICES = 128
MAX_DEVICES_WITH_TAINTS_OR_COUNTERS = 64
MAX_ATTRIBUTES_AND_CAPACITIES = 32
MAX_COUNTER_SETS = 8
MAX_LABEL = 63
MAX_SUBDOMAIN = 253
MAX_ID = 32
MAX_STRING = 64
_C_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Json = dict[str, Any]


@dataclass(frozen=True)
class DraUnit:
    """One allocatable unit: a device in DRA terms."""

    name_hint: str  # e.g. "0000:3b:00.0-nvidia-222-3": made a DNS label here
    attributes: dict[str, str | int | bool]
    capacity: dict[str, str] = field(default_factory=dict)  # name -> quantity
    consumes: dict[str, dict[str, str]] = field(
        default_factory=dict
    )  # counter set hint -> counter -> quantity
    taints: tuple[tuple[str, str, str], ...] = ()  # (key, value, effect)


@dataclass(frozen=True)
class DraPool:
    host: str
    generation: int
    counter_sets: dict[str, dict[str, str]]  # counter set hint -> counter -> quantity
    units: Sequence[DraUnit]


def dns_label(hint: str) -> str:
    """A DNS label (lower case alphanumerics and '-', at most 63) that stays unique: a name
    that had to be cut ends in a short hash of the whole hint."""
    label = re.sub(r"[^a-z0-9]+", "-", hint.lower()).strip("-") or "x"
    if len(label) > MAX_LABEL:
        digest = hashlib.sha256(hint.encode()).hexdigest()[:8]
        label = f"{label[: MAX_LABEL - 9].rstrip('-')}-{digest}"
    return label


def dns_subdomain(hint: str) -> str:
    parts = [dns_label(p) for p in hint.split(".") if p]
    name = ".".join(parts) or "x"
    if len(name) > MAX_SUBDOMAIN:
        name = f"{name[: MAX_SUBDOMAIN - 9].rstrip('-.')}-{hashlib.sha256(hint.encode()).hexdigest()[:8]}"
    return name


def counter_name(name: str) -> tuple[str, str]:
    """Accord's counter name and its unit: `framebuffer_mib` -> ("framebuffer", "Mi")."""
    if name.endswith("_mib"):
        return dns_label(name[: -len("_mib")]), "Mi"
    return dns_label(name), ""


def attribute_value(value: str | int | bool) -> Json:
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": value}
    return {"string": value[:MAX_STRING]}


def device_object(unit: DraUnit) -> Json:
    attributes = {
        k: attribute_value(v)
        for k, v in unit.attributes.items()
        if _C_IDENTIFIER.match(k) and len(k) <= MAX_ID
    }
    room = MAX_ATTRIBUTES_AND_CAPACITIES - len(unit.capacity)
    kept = dict(list(attributes.items())[:room])
    device: Json = {"name": dns_label(unit.name_hint), "attributes": kept}
    if unit.capacity:
        device["capacity"] = {k: {"value": v} for k, v in unit.capacity.items()}
    if unit.consumes:
        device["consumesCounters"] = [
            {"counterSet": dns_label(set_hint), "counters": {c: {"value": q} for c, q in counters.items()}}
            for set_hint, counters in sorted(unit.consumes.items())
        ]
    if unit.taints:
        device["taints"] = [{"key": k, "value": v, "effect": e} for k, v, e in unit.taints]
    return device


def _chunks(devices: list[Json]) -> list[list[Json]]:
    """Devices with taints or counters in slices of 64, the others in slices of 128."""
    heavy = [d for d in devices if "taints" in d or "consumesCounters" in d]
    light = [d for d in devices if "taints" not in d and "consumesCounters" not in d]
    out = [
        heavy[i : i + MAX_DEVICES_WITH_TAINTS_OR_COUNTERS]
        for i in range(0, len(heavy), MAX_DEVICES_WITH_TAINTS_OR_COUNTERS)
    ]
    out += [light[i : i + MAX_DEVICES] for i in range(0, len(light), MAX_DEVICES)]
    return out


def resource_slices(pool: DraPool, driver: str) -> Json:
    """The pool's ResourceSliceList: counter slices first, then device slices."""
    counter_sets = [
        {
            "name": dns_label(hint),
            "counters": {counter: {"value": quantity} for counter, quantity in sorted(counters.items())},
        }
        for hint, counters in sorted(pool.counter_sets.items())
    ]
    specs: list[Json] = [
        {"sharedCounters": counter_sets[i : i + MAX_COUNTER_SETS]}
        for i in range(0, len(counter_sets), MAX_COUNTER_SETS)
    ]
    specs += [{"devices": chunk} for chunk in _chunks([device_object(u) for u in pool.units])]
    if not specs:
        specs = [{"devices": []}]
    pool_name = dns_subdomain(pool.host)
    items = []
    for index, spec in enumerate(specs):
        items.append(
            {
                "apiVersion": API_VERSION,
                "kind": "ResourceSlice",
                "metadata": {"name": dns_subdomain(f"{pool.host}-{driver}-{index}")},
                "spec": {
                    "driver": driver,
                    "pool": {
                        "name": pool_name,
                        "generation": pool.generation,
                        "resourceSliceCount": len(specs),
                    },
                    "nodeName": pool.host,
                    **spec,
                },
            }
        )
    return {"apiVersion": API_VERSION, "kind": "ResourceSliceList", "metadata": {}, "items": items}


@dataclass(frozen=True)
class ClassGroup:
    """One device-profile group as a DeviceClass selects it."""

    name: str
    resource_class: str
    required_traits: frozenset[str] = frozenset()
    forbidden_traits: frozenset[str] = frozenset()
    function_id: str | None = None


def cel_selector(group: ClassGroup, driver: str) -> str:
    attrs = f'device.attributes["{driver}"]'
    clauses = [f'device.driver == "{driver}"', f'{attrs}.resourceClass == "{group.resource_class}"']
    for trait in sorted(group.required_traits):
        # A trait too long for an attribute id is never exported: the class then selects nothing.
        clauses.append(f'("{trait}" in {attrs} && {attrs}["{trait}"])' if _exportable(trait) else "false")
    for trait in sorted(group.forbidden_traits):
        if _exportable(trait):
            clauses.append(f'!("{trait}" in {attrs})')
    if group.function_id is not None:
        clauses.append(f'("functionId" in {attrs} && {attrs}.functionId == "{group.function_id}")')
    return " && ".join(clauses)


def _exportable(trait: str) -> bool:
    return len(trait) <= MAX_ID and bool(_C_IDENTIFIER.match(trait))


def device_classes(groups: Sequence[ClassGroup], driver: str) -> Json:
    items = [
        {
            "apiVersion": API_VERSION,
            "kind": "DeviceClass",
            "metadata": {"name": dns_subdomain(group.name)},
            "spec": {"selectors": [{"cel": {"expression": cel_selector(group, driver)}}]},
        }
        for group in groups
    ]
    return {"apiVersion": API_VERSION, "kind": "DeviceClassList", "metadata": {}, "items": items}


def trait_attributes(traits: Sequence[str], room: int) -> dict[str, bool]:
    """Traits as bool attributes, as many as fit and can be named (C identifiers of <= 32)."""
    return {t: True for t in sorted(traits) if _exportable(t)} if room > 0 else {}

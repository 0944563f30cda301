"""What an Ironic node should carry, from Accord's inventory of it (the documented mapping of
docs/ironic.md): inspection rules and operators apply it; flavors ask for it.

- traits: every trait of every region or partition on the node, spelled as everywhere in
  Accord (`CUSTOM_FPGA_<VENDOR>[_<MODEL>]`, `CUSTOM_FPGA_REGION_<VENDOR>_<ID>`, the loaded
  function's `CUSTOM_FPGA_FUNCTION_ID_…`, GPU, QAT and NIC traits likewise); a flavor's
  `trait:CUSTOM_FPGA_FUNCTION_ID_…=required` then matches only nodes already holding that
  function, while a deploy template keyed on a trait the flavor names programs it;
- properties: `accord_<type>_devices` (how many cards of each type) and
  `accord_<resource class>` (how many accelerators of each class: VFs, vGPUs, regions).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RegionFacts:
    resource_class: str
    num_accelerators: int
    traits: tuple[str, ...]


@dataclass(frozen=True)
class NodeFacts:
    traits: list[str] = field(default_factory=list)
    properties: dict[str, int] = field(default_factory=dict)


def _key(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower())


def node_facts(device_types: Iterable[str], regions: Iterable[RegionFacts]) -> NodeFacts:
    traits: set[str] = set()
    properties: Counter[str] = Counter()
    for device_type in device_types:
        properties[f"accord_{_key(device_type)}_devices"] += 1
    for region in regions:
        traits.update(t for t in region.traits if t)
        if region.resource_class:
            properties[f"accord_{_key(region.resource_class)}"] += region.num_accelerators
    return NodeFacts(sorted(traits), dict(sorted(properties.items())))

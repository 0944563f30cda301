"""Plain data the scheduler works on: providers, hosts, requests, candidates.

Everything here is a frozen dataclass with no I/O. The store builds these from its tables (or an
inventory snapshot), hands them to `find_candidates` / `ProviderIndex`, and claims the chosen
providers itself in one transaction; the scheduler never writes anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

GroupPolicy = Literal["isolate", "none"]
NumaPreference = Literal["prefer", "require", "ignore"]


class Policy(StrEnum):
    """How to break ties once function and NUMA preferences are equal."""

    PACK = "pack"  # fill the fullest hosts first: keeps whole hosts free for big requests
    SPREAD = "spread"  # use the emptiest hosts first: spreads load and failure domains


@dataclass(frozen=True, slots=True)
class Inventory:
    """One resource class on one provider, in Placement's terms."""

    total: int
    reserved: int = 0
    max_unit: int | None = None  # None: as large as `total`
    used: int = 0

    @property
    def free(self) -> int:
        return max(0, self.total - self.reserved - self.used)

    @property
    def largest_unit(self) -> int:
        return self.total if self.max_unit is None else self.max_unit


@dataclass(frozen=True, eq=False, slots=True)
class Provider:
    """A resource provider: one deployable (an FPGA region, a GPU, a VF pool) on one host.

    `usable` is False for disabled devices, unhealthy devices and anything the store wants to hide;
    such a provider offers nothing, whatever its inventory says.
    """

    uuid: str
    host: str
    device_uuid: str
    deployable_uuid: str
    inventories: Mapping[str, Inventory]
    traits: frozenset[str] = frozenset()
    numa_node: int | None = None
    function_id: str | None = None  # what is loaded now; None when blank or not programmable
    bitstream_id: str | None = None
    generation: int = 0
    usable: bool = True


@dataclass(frozen=True, eq=False, slots=True)
class Host:
    """A compute host and its providers. A lost host (agent silent too long) offers nothing."""

    name: str
    providers: tuple[Provider, ...] = ()
    lost: bool = False

    def usable_providers(self) -> Iterable[Provider]:
        if self.lost:
            return ()
        return (p for p in self.providers if p.usable)


@dataclass(frozen=True, eq=False)
class RequestGroup:
    """One device-profile group: everything it asks for must come from a single provider."""

    group_id: int
    resources: Mapping[str, int]
    required_traits: frozenset[str] = frozenset()
    forbidden_traits: frozenset[str] = frozenset()
    function_id: str | None = None  # from `accel:function_id`; a preference, not a filter
    bitstream_id: str | None = None  # from `accel:bitstream_id`; likewise

    @property
    def wants_program(self) -> bool:
        return self.function_id is not None or self.bitstream_id is not None

    def is_held_by(self, provider_function: str | None, provider_bitstream: str | None) -> bool:
        """True when a provider with this loaded function/bitstream needs no reprogramming."""
        if self.function_id is not None and provider_function == self.function_id:
            return True
        return self.bitstream_id is not None and provider_bitstream == self.bitstream_id


@dataclass(frozen=True, eq=False)
class Request:
    """All groups of one device profile; they must all land on one host.

    `group_policy` is Placement's: "isolate" puts every group on a different provider, "none" lets
    groups share a provider whose capacity covers their summed amounts. `numa`: "prefer" ranks
    single-NUMA-node candidates higher, "require" drops the others, "ignore" does neither.
    """

    groups: tuple[RequestGroup, ...]
    group_policy: GroupPolicy = "none"
    numa: NumaPreference = "prefer"


@dataclass(frozen=True)
class GroupAllocation:
    """Which provider serves one request group."""

    group_id: int
    provider_uuid: str
    device_uuid: str
    deployable_uuid: str


@dataclass(frozen=True)
class Candidate:
    """One way to satisfy a whole request on one host; higher `score` is better."""

    hostname: str
    score: float
    groups: tuple[GroupAllocation, ...] = field(default_factory=tuple)
    programmed_groups: int = 0  # groups placed on a provider already holding their function
    numa_local: bool = False

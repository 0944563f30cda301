"""Equivalence classes of providers and the host "shape" built from them.

Two usable providers are equivalent when every fact the search looks at is equal: free capacity and
max_unit per resource class, traits, loaded function/bitstream and NUMA node. Equivalent providers
are interchangeable for every request group (same eligibility, same preference, same capacity left),
so the search assigns groups to *classes* with a count instead of to individual providers; this is
what keeps eight identical FPGAs from turning into 8! permutations.

A host's shape is the multiset of its classes. Hosts of equal shape get equal answers, so a query is
solved once per shape and the answer is mapped onto each host's concrete providers afterwards.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from operator import attrgetter

from accord.domain.matching import trait_mismatch
from accord.scheduler.model import Host, Provider, RequestGroup

# (resource class, free, largest unit) per inventory, sorted by resource class
Capacity = tuple[tuple[str, int, int], ...]
# A signature's fields as a plain tuple: what interning looks signatures up by, before building one
SignatureKey = tuple[Capacity, tuple[str, ...], str | None, str | None, int | None]


@dataclass(frozen=True)
class ClassSignature:
    capacity: Capacity
    traits: tuple[str, ...]
    function_id: str | None
    bitstream_id: str | None
    numa_node: int | None
    trait_set: frozenset[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Signatures are dictionary keys in every query and sort keys in every layout: build the
        # key and hash the nested tuples once, not per lookup.
        key = (
            self.capacity,
            self.traits,
            self.function_id or "",
            self.bitstream_id or "",
            -1 if self.numa_node is None else self.numa_node,
        )
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_hash", hash(key))
        object.__setattr__(self, "trait_set", frozenset(self.traits))

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined, no-any-return]

    def key(self) -> tuple[object, ...]:
        """The sort key (None made comparable)."""
        return self._key  # type: ignore[attr-defined, no-any-return]

    def free(self, resource_class: str) -> int:
        return next((free for rc, free, _ in self.capacity if rc == resource_class), 0)

    def fits(self, group: RequestGroup) -> bool:
        """Can one (unused) provider of this class serve `group` alone?"""
        if trait_mismatch(group.required_traits, group.forbidden_traits, self.trait_set) is not None:
            return False
        limits = {rc: (free, unit) for rc, free, unit in self.capacity}
        for rc, amount in group.resources.items():
            free, unit = limits.get(rc, (0, 0))
            if amount > free or amount > unit:
                return False
        return True

    def holds(self, group: RequestGroup) -> bool:
        return group.is_held_by(self.function_id, self.bitstream_id)


@dataclass(frozen=True, slots=True)
class ProviderClass:
    signature: ClassSignature
    count: int


Shape = tuple[ProviderClass, ...]


def _capacity(provider: Provider) -> Capacity:
    items = provider.inventories.items()
    if len(items) == 1:  # the usual provider: no sort
        ((rc, inventory),) = items
        free = inventory.free
        return ((rc, free, min(inventory.largest_unit, free)),)
    return tuple(sorted((rc, inv.free, min(inv.largest_unit, inv.free)) for rc, inv in items))


def _sorted_traits(provider: Provider) -> tuple[str, ...]:
    traits = provider.traits
    return tuple(traits) if len(traits) < 2 else tuple(sorted(traits))


def signature_key(provider: Provider) -> SignatureKey:
    return (
        _capacity(provider),
        _sorted_traits(provider),
        provider.function_id,
        provider.bitstream_id,
        provider.numa_node,
    )


def signature_of(provider: Provider) -> ClassSignature:
    return ClassSignature(
        _capacity(provider),
        _sorted_traits(provider),
        provider.function_id,
        provider.bitstream_id,
        provider.numa_node,
    )


_by_uuid = attrgetter("uuid")


@dataclass(frozen=True, slots=True)
class HostLayout:
    """A host's shape plus, per class (in shape order), its providers sorted by uuid."""

    name: str
    shape: Shape
    members: tuple[tuple[Provider, ...], ...]

    @classmethod
    def of(
        cls,
        host: Host,
        interned: MutableMapping[SignatureKey, ClassSignature] | None = None,
        shapes: MutableMapping[Shape, Shape] | None = None,
    ) -> HostLayout:
        """`interned` shares one signature object among hosts, so lookups hit on identity; it is
        keyed by `signature_key`, so a known signature is found without building one. `shapes`
        likewise shares one shape object among the hosts of a shape (memory, and per-shape memos)."""
        by_signature: dict[ClassSignature, list[Provider]] = defaultdict(list)
        for provider in host.usable_providers():
            if interned is None:
                signature = signature_of(provider)
            else:
                key = signature_key(provider)
                found = interned.get(key)
                if found is None:
                    found = interned[key] = signature_of(provider)
                signature = found
            by_signature[signature].append(provider)
        ordered = sorted(by_signature, key=ClassSignature.key)
        shape: Shape = tuple(ProviderClass(sig, len(by_signature[sig])) for sig in ordered)
        if shapes is not None and shape:
            shape = shapes.setdefault(shape, shape)
        members = tuple(tuple(sorted(by_signature[sig], key=_by_uuid)) for sig in ordered)
        return cls(host.name, shape, members)

"""Does a deployable satisfy a device-profile group? One rule for the scheduler and every bind.

Nova normally binds to a provider Placement matched, but any service caller (or a Placement out of
sync) may name another; a bind to a deployable that does not offer what the group asks for is
refused with the mismatch named, before anything is stored.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from accord.domain.device_profile import ProfileGroup


@dataclass(frozen=True)
class Offer:
    """What one deployable offers a request group."""

    name: str
    resource_class: str
    traits: frozenset[str]
    function_id: str | None = None  # loaded now (read back by the agent)
    bitstream_id: str | None = None
    programmable: bool = False  # a region with a PR interface Accord can program


def trait_mismatch(
    required: AbstractSet[str], forbidden: AbstractSet[str], traits: AbstractSet[str]
) -> str | None:
    """The first trait problem, or None: every required trait present, no forbidden one."""
    if required <= traits and not forbidden & traits:
        return None  # the scheduler's hot path: no sorting, no message
    missing = sorted(set(required) - traits)
    if missing:
        return f"lacks required trait(s) {', '.join(missing)}"
    present = sorted(set(forbidden) & traits)
    if present:
        return f"carries forbidden trait(s) {', '.join(present)}"
    return None


def group_mismatch(group: ProfileGroup, offer: Offer) -> str | None:
    """Why `offer` cannot serve `group`, or None when it can."""
    if offer.resource_class not in group.resources:
        wanted = ", ".join(sorted(group.resources))
        return f"offers {offer.resource_class or 'no resource class'}, the request asks for {wanted}"
    problem = trait_mismatch(group.required_traits, group.forbidden_traits, offer.traits)
    if problem is not None:
        return problem
    if group.function_id is not None and offer.function_id != group.function_id and not offer.programmable:
        return (
            f"cannot be programmed with function {group.function_id} (it holds {offer.function_id or 'none'})"
        )
    if group.bitstream_id is not None and offer.bitstream_id != group.bitstream_id and not offer.programmable:
        return f"cannot be programmed with bitstream {group.bitstream_id}"
    return None

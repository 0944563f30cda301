"""Candidate search: which hosts (and which providers on them) can serve a device profile, best first.

Rules (Placement's semantics for granular groups): every group is served by one provider whose
free capacity (total - reserved - used) and max_unit cover each amount, that has every required
trait and no forbidden one; all groups land on one host; with group_policy "isolate" each group
gets its own provider, with "none" groups may share a provider whose capacity covers their sum.
Unusable providers and lost hosts offer nothing.

Ranking, lexicographic: (1) more groups on a provider already holding the group's function or
bitstream (a reprogram costs seconds to minutes); (2) all groups on one NUMA node; (3) `Policy`:
pack = least free capacity of the requested resource classes left on the host afterwards,
spread = most; (4) host name, so answers are deterministic. One candidate per host: the best one.

Why it stays fast, and why it is still exact:
- Providers with equal free capacity, max_unit, traits, loaded function and NUMA node are
  interchangeable for every group, so they are collapsed into a class with a count
  (`classes.ProviderClass`). Eight identical FPGAs are one class of eight, not 8! orderings.
- Groups are assigned to classes by an exact min-cost max-flow (`assign.solve_isolate`), which
  finds an assignment whenever one exists — including the cases where giving a scarce provider to
  the first group that fits (greedy) would strand a later group. Edge costs encode (1) and the
  within-host part of (3), so the flow's answer is also the best one for that host. "none" adds a
  class-level branch-and-bound for sharing (`assign.solve_shared`).
- NUMA: the host is solved unrestricted and, when that answer spans nodes, once per NUMA node;
  a per-node answer wins if it holds as many pre-programmed groups (rule 1 outranks rule 2).
- Hosts with the same multiset of classes (their *shape*) get the same answer, so each query is
  solved once per distinct shape, then mapped onto the concrete providers of the best hosts only.
  `index.ProviderIndex` keeps hosts bucketed by shape between queries.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from accord.scheduler.assign import Assignment, eligibility, solve_isolate, solve_shared
from accord.scheduler.classes import HostLayout, ProviderClass, Shape
from accord.scheduler.model import Candidate, GroupAllocation, Host, Policy, Request, RequestGroup


@dataclass(frozen=True)
class ShapeAnswer:
    """The best way to serve a request on any host of one shape."""

    assignment: Assignment
    numa_local: bool
    free_left: int

    def rank_key(self, policy: Policy) -> tuple[int, int, int]:
        fit = self.free_left if policy is Policy.PACK else -self.free_left
        return (-self.assignment.programmed, -int(self.numa_local), fit)

    def score(self, policy: Policy) -> float:
        # fit is in [0, 1) and NUMA adds 1, so one more pre-programmed group (+2) always outranks both.
        fit = 1 / (1 + self.free_left) if policy is Policy.PACK else self.free_left / (1 + self.free_left)
        return 2 * self.assignment.programmed + int(self.numa_local) + fit


def _solve(shape: Sequence[ProviderClass], request: Request, policy: Policy) -> Assignment | None:
    groups = request.groups
    eligible = eligibility(shape, groups)
    if any(not options for options in eligible):
        return None
    if len(groups) == 1:
        group = groups[0]

        def preference(c: int) -> tuple[bool, int]:
            left = sum(shape[c].signature.free(rc) - n for rc, n in group.resources.items())
            return (shape[c].signature.holds(group), -left if policy is Policy.PACK else left)

        best = max(eligible[0], key=preference)
        return Assignment(((best, 0),), int(shape[best].signature.holds(group)))
    if request.group_policy == "isolate":
        return solve_isolate(shape, groups, eligible, policy)
    return solve_shared(shape, groups, eligible, policy)


def _is_numa_local(shape: Shape, assignment: Assignment) -> bool:
    return len({shape[c].signature.numa_node for c, _ in assignment.slots}) == 1


def _solve_on_node(shape: Shape, node: int | None, request: Request, policy: Policy) -> Assignment | None:
    kept = [c for c, cls in enumerate(shape) if cls.signature.numa_node == node]
    found = _solve([shape[c] for c in kept], request, policy)
    if found is None:
        return None
    return Assignment(tuple((kept[c], slot) for c, slot in found.slots), found.programmed)


def requested_classes(groups: Iterable[RequestGroup]) -> set[str]:
    return {rc for g in groups for rc in g.resources}


def solve_shape(shape: Shape, request: Request, policy: Policy) -> ShapeAnswer | None:
    """The best assignment of `request` onto a host of this shape, or None when it cannot fit."""
    wanted = requested_classes(request.groups)
    capacity = sum(cls.count * cls.signature.free(rc) for cls in shape for rc in wanted)
    demand = sum(n for g in request.groups for n in g.resources.values())
    if capacity < demand:
        return None
    free_left = capacity - demand
    anywhere = _solve(shape, request, policy)
    if anywhere is None:
        return None
    if request.numa == "ignore" or _is_numa_local(shape, anywhere):
        if request.numa == "require" and not _is_numa_local(shape, anywhere):
            return None
        return ShapeAnswer(anywhere, _is_numa_local(shape, anywhere), free_left)
    local: Assignment | None = None
    for node in sorted({cls.signature.numa_node for cls in shape}, key=lambda n: -1 if n is None else n):
        found = _solve_on_node(shape, node, request, policy)
        if found is not None and (local is None or found.programmed > local.programmed):
            local = found
    if local is not None and (request.numa == "require" or local.programmed == anywhere.programmed):
        return ShapeAnswer(local, True, free_left)
    if request.numa == "require":
        return None
    return ShapeAnswer(anywhere, False, free_left)


def materialize(layout: HostLayout, answer: ShapeAnswer, request: Request, policy: Policy) -> Candidate:
    allocations = []
    for group, (c, slot) in zip(request.groups, answer.assignment.slots, strict=True):
        provider = layout.members[c][slot]
        allocations.append(
            GroupAllocation(group.group_id, provider.uuid, provider.device_uuid, provider.deployable_uuid)
        )
    return Candidate(
        layout.name,
        answer.score(policy),
        tuple(allocations),
        answer.assignment.programmed,
        answer.numa_local,
    )


def rank_buckets(
    buckets: Iterable[tuple[Shape, Iterable[HostLayout]]],
    request: Request,
    limit: int | None,
    policy: Policy,
) -> list[Candidate]:
    """Solve each shape once, then pick the best `limit` hosts (ties broken by host name)."""
    if not request.groups:
        raise ValueError("a request needs at least one group")
    by_key: dict[tuple[int, int, int], list[tuple[ShapeAnswer, Iterable[HostLayout]]]] = defaultdict(list)
    for shape, hosts in buckets:
        answer = solve_shape(shape, request, policy)
        if answer is not None:
            by_key[answer.rank_key(policy)].append((answer, hosts))
    out: list[Candidate] = []
    for key in sorted(by_key):
        room = None if limit is None else limit - len(out)
        if room is not None and room <= 0:
            break
        pairs = ((layout.name, layout, answer) for answer, hosts in by_key[key] for layout in hosts)
        by_name = lambda t: t[0]  # noqa: E731
        chosen = sorted(pairs, key=by_name) if room is None else heapq.nsmallest(room, pairs, key=by_name)
        out.extend(materialize(layout, answer, request, policy) for _, layout, answer in chosen)
    return out


def bucket_by_shape(layouts: Iterable[HostLayout]) -> dict[Shape, list[HostLayout]]:
    buckets: dict[Shape, list[HostLayout]] = defaultdict(list)
    for layout in layouts:
        if layout.shape:
            buckets[layout.shape].append(layout)
    return buckets


def find_candidates(
    hosts: Iterable[Host], request: Request, limit: int | None = None, policy: Policy = Policy.PACK
) -> list[Candidate]:
    """Ranked candidates for `request` over `hosts`, best first, at most `limit` of them.

    Builds a throw-away shape bucketing each call; for repeated queries over a large fleet keep an
    `index.ProviderIndex` instead.
    """
    buckets = bucket_by_shape(HostLayout.of(h) for h in hosts)
    return rank_buckets(buckets.items(), request, limit, policy)

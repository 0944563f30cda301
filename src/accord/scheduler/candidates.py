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
- Hosts with the same multiset of classes (their *shape*) get the same answer; beyond that, the
  request only sees each class through a `projection.ClassView` (which groups it serves or holds,
  its free capacity, its NUMA node), so shapes that look alike to this request are solved once.
  The answer is mapped onto concrete providers only for the hosts returned.
  `index.ProviderIndex` keeps hosts bucketed by shape between queries.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from itertools import chain

from accord.scheduler.assign import Assignment, eligibility, solve_isolate, solve_shared
from accord.scheduler.classes import ClassSignature, HostLayout, Shape, SignatureKey
from accord.scheduler.model import Candidate, GroupAllocation, Host, Policy, Request
from accord.scheduler.projection import Picks, RequestVectors, ViewShape, picks_by_view, views_on_node

# Naming the chosen hosts' buckets by a linear search costs chosen x buckets; past this, a map.
OWNER_SEARCH_LIMIT = 4096


@dataclass(frozen=True)
class Solved:
    """The best assignment of a request onto hosts whose classes project to `views`."""

    views: ViewShape
    assignment: Assignment
    numa_local: bool


@dataclass(frozen=True)
class ShapeAnswer:
    """A solved projection plus what differs per host shape: the capacity left afterwards."""

    solved: Solved
    free_left: int

    def rank_key(self, policy: Policy) -> tuple[int, int, int]:
        fit = self.free_left if policy is Policy.PACK else -self.free_left
        return (-self.solved.assignment.programmed, -int(self.solved.numa_local), fit)

    def score(self, policy: Policy) -> float:
        # fit is in [0, 1) and NUMA adds 1, so one more pre-programmed group (+2) always outranks both.
        fit = 1 / (1 + self.free_left) if policy is Policy.PACK else self.free_left / (1 + self.free_left)
        return 2 * self.solved.assignment.programmed + int(self.solved.numa_local) + fit


def _solve(views: ViewShape, vectors: RequestVectors, policy: Policy) -> Assignment | None:
    amounts = vectors.amounts
    eligible = eligibility(views, len(amounts))
    if any(not options for options in eligible):
        return None
    if len(amounts) == 1:
        best = max(eligible[0], key=lambda c: vectors.preference(views[c][0]))
        return Assignment(((best, 0),), int(0 in views[best][0].held))
    if vectors.request.group_policy == "isolate":
        return solve_isolate(views, amounts, eligible, policy)
    return solve_shared(views, amounts, eligible, policy)


def _is_numa_local(views: ViewShape, assignment: Assignment) -> bool:
    return len({views[c][0].numa_node for c, _ in assignment.slots}) == 1


def _solve_on_node(
    views: ViewShape, node: int | None, vectors: RequestVectors, policy: Policy
) -> Assignment | None:
    kept = views_on_node(views, node)
    found = _solve(tuple(views[c] for c in kept), vectors, policy)
    if found is None:
        return None
    return Assignment(tuple((kept[c], slot) for c, slot in found.slots), found.programmed)


def solve_views(views: ViewShape, vectors: RequestVectors, policy: Policy) -> Solved | None:
    """The best assignment onto a host with these class views, or None when the request cannot fit."""
    numa = vectors.request.numa
    anywhere = _solve(views, vectors, policy)
    if anywhere is None:
        return None
    if _is_numa_local(views, anywhere) or numa == "ignore":
        return Solved(views, anywhere, _is_numa_local(views, anywhere))
    local: Assignment | None = None
    for node in sorted({view.numa_node for view, _ in views}, key=lambda n: -1 if n is None else n):
        found = _solve_on_node(views, node, vectors, policy)
        if found is not None and (local is None or found.programmed > local.programmed):
            local = found
    if local is not None and (numa == "require" or local.programmed == anywhere.programmed):
        return Solved(views, local, True)
    if numa == "require":
        return None
    return Solved(views, anywhere, False)


def materialize(
    layout: HostLayout, answer: ShapeAnswer, picks: Picks, group_ids: Sequence[int], policy: Policy
) -> Candidate:
    solved = answer.solved
    allocations = []
    for group_id, (k, m) in zip(group_ids, picks, strict=True):
        provider = layout.members[k][m]
        allocations.append(
            GroupAllocation(group_id, provider.uuid, provider.device_uuid, provider.deployable_uuid)
        )
    return Candidate(
        layout.name,
        answer.score(policy),
        tuple(allocations),
        solved.assignment.programmed,
        solved.numa_local,
    )


class Ranking:
    """One request's answers, added shape by shape; hosts are named only for the best `limit`.

    Each distinct projected shape is solved once (`solve_views`); shapes whose answers rank
    equal share a rank bucket, and `best` takes hosts from the best buckets, ties by host name.
    """

    def __init__(self, request: Request, policy: Policy) -> None:
        if not request.groups:
            raise ValueError("a request needs at least one group")
        self.policy = policy
        self.vectors = RequestVectors(request, policy)
        self._solved: dict[frozenset[tuple[int, int]], Solved | None] = {}
        # (id of a host shape, id of a Solved) -> Picks: equal for every host of one shape object
        # (the index shares one per bucket), both alive for the whole query.
        self._picks: dict[tuple[int, int], Picks] = {}
        self._by_rank: dict[tuple[int, int, int], list[tuple[ShapeAnswer, Mapping[str, HostLayout]]]] = (
            defaultdict(list)
        )

    def add(self, shape: Shape, hosts: Mapping[str, HostLayout]) -> ShapeAnswer | None:
        """Solve `shape` (or reuse the answer of one that projects alike); None when it cannot serve."""
        vectors = self.vectors
        key, capacity = vectors.project(shape)
        if capacity < vectors.demand:
            return None
        if key in self._solved:
            found = self._solved[key]
        else:
            found = self._solved[key] = solve_views(vectors.canonical(key), vectors, self.policy)
        if found is None:
            return None
        answer = ShapeAnswer(found, capacity - vectors.demand)
        self._by_rank[answer.rank_key(self.policy)].append((answer, hosts))
        return answer

    def best(self, limit: int | None) -> list[Candidate]:
        out: list[Candidate] = []
        for rank in sorted(self._by_rank):
            room = None if limit is None else limit - len(out)
            if room is not None and room <= 0:
                break
            entries = self._by_rank[rank]
            # Host names only (C-level iteration, no tuple per host): a winning rank can hold
            # thousands of hosts of which `room` are named.
            names = chain.from_iterable(entries_hosts for _, entries_hosts in entries)
            chosen = sorted(names) if room is None else heapq.nsmallest(room, names)
            if len(chosen) * len(entries) <= OWNER_SEARCH_LIMIT:
                owners = [next(entry for entry in entries if name in entry[1]) for name in chosen]
            else:
                by_name = {name: entry for entry in entries for name in entry[1]}
                owners = [by_name[name] for name in chosen]
            out.extend(
                self._materialize(hosts[name], answer)
                for name, (answer, hosts) in zip(chosen, owners, strict=True)
            )
        return out

    def _materialize(self, layout: HostLayout, answer: ShapeAnswer) -> Candidate:
        solved = answer.solved
        key = (id(layout.shape), id(solved))
        picks = self._picks.get(key)
        if picks is None:
            picks = self._picks[key] = picks_by_view(
                layout.shape, self.vectors, solved.views, solved.assignment.slots
            )
        group_ids = [group.group_id for group in self.vectors.request.groups]
        return materialize(layout, answer, picks, group_ids, self.policy)


def programmed_bound(request: Request, signatures: Iterable[ClassSignature]) -> int:
    """How many groups could at best land on a provider already holding their function: those
    whose function or bitstream some class of the fleet holds (an upper bound, not a promise)."""
    wanting = [g for g in request.groups if g.wants_program]
    if not wanting:
        return 0
    held = list(signatures)
    return sum(1 for g in wanting if any(signature.holds(g) for signature in held))


def rank_buckets(
    buckets: Iterable[tuple[Shape, Mapping[str, HostLayout]]],
    request: Request,
    limit: int | None,
    policy: Policy,
) -> list[Candidate]:
    """Solve once per distinct projected shape, then pick the best `limit` hosts (ties by name)."""
    ranking = Ranking(request, policy)
    for shape, hosts in buckets:
        ranking.add(shape, hosts)
    return ranking.best(limit)


def bucket_by_shape(
    hosts: Iterable[Host], interned: MutableMapping[SignatureKey, ClassSignature] | None = None
) -> dict[Shape, dict[str, HostLayout]]:
    buckets: dict[Shape, dict[str, HostLayout]] = {}
    shapes: dict[Shape, Shape] = {}
    for host in hosts:
        layout = HostLayout.of(host, interned, shapes)
        if layout.shape:
            buckets.setdefault(layout.shape, {})[layout.name] = layout
    return buckets


def find_candidates(
    hosts: Iterable[Host], request: Request, limit: int | None = None, policy: Policy = Policy.PACK
) -> list[Candidate]:
    """Ranked candidates for `request` over `hosts`, best first, at most `limit` of them.

    Buckets the hosts by shape on every call; for repeated queries over a large fleet keep an
    `index.ProviderIndex` instead.
    """
    return rank_buckets(bucket_by_shape(hosts, {}).items(), request, limit, policy)

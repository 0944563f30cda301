"""Assign request groups to provider classes on one host shape (see `candidates` for the why).

`isolate`: every group needs its own provider. That is a bipartite b-matching: groups on one side
(demand 1 each), classes on the other (capacity = number of providers in the class), an edge where
a provider of the class can serve the group. It is solved exactly as a min-cost max-flow
(successive shortest paths with Bellman-Ford), which finds a full assignment whenever one exists —
unlike a greedy pass, which can give a scarce provider to a group that had alternatives. Edge costs
make the flow prefer, lexicographically, (1) providers already holding the group's function and
(2) the pack/spread fit of the provider left behind.

`none`: groups may share a provider if its free capacity covers their summed amounts. That is bin
packing (NP-hard in general), so it is a depth-first search — but over classes, not providers:
a group goes either into one of the already-opened providers of a class (openings with equal
residual capacity are tried once) or into one fresh provider of the class. Groups are taken
tightest first and the search is branch-and-bound on the number of pre-programmed groups. The
isolate solution is tried first; when it already places every programmable group on a holding
provider, sharing cannot do better and the search is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from accord.scheduler.classes import ProviderClass
from accord.scheduler.model import Policy, RequestGroup

# A safety valve for pathological `none` requests (many groups of many sizes); ordinary profiles
# (a handful of groups) finish in a few hundred nodes.
NONE_SEARCH_NODE_BUDGET = 50_000


@dataclass(frozen=True)
class Assignment:
    """slots[i] = (class index, provider slot within the class) for groups[i]."""

    slots: tuple[tuple[int, int], ...]
    programmed: int


def eligibility(shape: Sequence[ProviderClass], groups: Sequence[RequestGroup]) -> list[list[int]]:
    """Per group, the indices of classes whose (unused) providers can serve it."""
    return [[c for c, cls in enumerate(shape) if cls.signature.fits(g)] for g in groups]


def programmed_upper_bound(
    shape: Sequence[ProviderClass], groups: Sequence[RequestGroup], eligible: list[list[int]]
) -> int:
    return sum(
        1 for g, group in enumerate(groups) if any(shape[c].signature.holds(group) for c in eligible[g])
    )


def _residual_after(cls: ProviderClass, group: RequestGroup) -> int:
    return sum(cls.signature.free(rc) - amount for rc, amount in group.resources.items())


def solve_isolate(
    shape: Sequence[ProviderClass], groups: Sequence[RequestGroup], eligible: list[list[int]], policy: Policy
) -> Assignment | None:
    n_groups, n_classes = len(groups), len(shape)
    if n_groups > sum(cls.count for cls in shape):
        return None
    fit_sign = 1 if policy is Policy.PACK else -1
    fits = {
        (g, c): fit_sign * _residual_after(shape[c], groups[g]) for g in range(n_groups) for c in eligible[g]
    }
    spread = max((abs(v) for v in fits.values()), default=0) + 1
    hold_weight = 2 * n_groups * spread + 1  # one more held group outweighs any difference in fit

    source, sink = 0, 1 + n_groups + n_classes
    graph: list[list[int]] = [[] for _ in range(sink + 1)]
    to: list[int] = []
    cap: list[int] = []
    cost: list[int] = []

    def add_edge(u: int, v: int, capacity: int, weight: int) -> None:
        for a, b, c, w in ((u, v, capacity, weight), (v, u, 0, -weight)):
            graph[a].append(len(to))
            to.append(b)
            cap.append(c)
            cost.append(w)

    for g in range(n_groups):
        add_edge(source, 1 + g, 1, 0)
        for c in eligible[g]:
            held = shape[c].signature.holds(groups[g])
            add_edge(1 + g, 1 + n_groups + c, 1, fits[g, c] - (hold_weight if held else 0))
    for c, cls in enumerate(shape):
        add_edge(1 + n_groups + c, sink, cls.count, 0)

    for _ in range(n_groups):
        # Bellman-Ford: residual edges carry negative costs, and the graph is tiny.
        dist: list[int | None] = [None] * (sink + 1)
        via = [-1] * (sink + 1)
        dist[source] = 0
        changed = True
        while changed:
            changed = False
            for u in range(sink + 1):
                du = dist[u]
                if du is None:
                    continue
                for e in graph[u]:
                    if cap[e] > 0:
                        v, nd = to[e], du + cost[e]
                        dv = dist[v]
                        if dv is None or nd < dv:
                            dist[v], via[v], changed = nd, e, True
        if dist[sink] is None:
            return None
        v = sink
        while v != source:
            e = via[v]
            cap[e] -= 1
            cap[e ^ 1] += 1
            v = to[e ^ 1]

    used_in_class = [0] * n_classes
    slots: list[tuple[int, int]] = []
    programmed = 0
    for g in range(n_groups):
        c = next(to[e] - 1 - n_groups for e in graph[1 + g] if e % 2 == 0 and cap[e] == 0)
        slots.append((c, used_in_class[c]))
        used_in_class[c] += 1
        programmed += shape[c].signature.holds(groups[g])
    return Assignment(tuple(slots), programmed)


def solve_shared(
    shape: Sequence[ProviderClass], groups: Sequence[RequestGroup], eligible: list[list[int]], policy: Policy
) -> Assignment | None:
    """group_policy "none": isolate first, then the class-level branch-and-bound search."""
    best = solve_isolate(shape, groups, eligible, policy)
    bound = programmed_upper_bound(shape, groups, eligible)
    if best is not None and best.programmed == bound:
        return best
    return _ShareSearch(shape, groups, eligible, policy, best).run(bound)


class _ShareSearch:
    def __init__(
        self,
        shape: Sequence[ProviderClass],
        groups: Sequence[RequestGroup],
        eligible: list[list[int]],
        policy: Policy,
        best: Assignment | None,
    ) -> None:
        self.shape, self.groups, self.eligible, self.policy = shape, groups, eligible, policy
        self.best = best
        self.bound = len(groups)
        self.nodes = 0
        # Tightest first: fewest eligible classes, then the biggest amount.
        self.order = sorted(
            range(len(groups)), key=lambda g: (len(eligible[g]), -sum(groups[g].resources.values()))
        )
        # Opened providers per class: residual free per resource class.
        self.opened: list[list[dict[str, int]]] = [[] for _ in shape]
        self.slots: list[tuple[int, int]] = [(-1, -1)] * len(groups)
        self.can_hold = [
            any(shape[c].signature.holds(groups[g]) for c in eligible[g]) for g in range(len(groups))
        ]

    def run(self, bound: int) -> Assignment | None:
        self.bound = bound
        self._place(0, 0)
        return self.best

    def _options(self, g: int) -> list[tuple[int, int]]:
        group = self.groups[g]
        held: list[tuple[int, int]] = []
        other: list[tuple[int, int]] = []
        for c in self.eligible[g]:
            cls = self.shape[c]
            seen: set[tuple[tuple[str, int], ...]] = set()
            reuse: list[tuple[int, int]] = []
            for slot, residual in enumerate(self.opened[c]):
                key = tuple(sorted(residual.items()))
                if key in seen:
                    continue
                seen.add(key)
                if all(residual.get(rc, 0) >= amount for rc, amount in group.resources.items()):
                    reuse.append((c, slot))
            fresh = [(c, len(self.opened[c]))] if len(self.opened[c]) < cls.count else []
            mine = reuse + fresh if self.policy is Policy.PACK else fresh + reuse
            (held if cls.signature.holds(group) else other).extend(mine)
        return held + other

    def _place(self, depth: int, programmed: int) -> bool:
        """Returns True when the search must stop (bound reached or budget spent)."""
        self.nodes += 1
        if self.nodes > NONE_SEARCH_NODE_BUDGET:
            return True
        if depth == len(self.order):
            if self.best is None or programmed > self.best.programmed:
                self.best = Assignment(tuple(self.slots), programmed)
            return self.best.programmed == self.bound
        remaining = sum(self.can_hold[g] for g in self.order[depth:])
        if self.best is not None and programmed + remaining <= self.best.programmed:
            return False
        g = self.order[depth]
        group = self.groups[g]
        for c, slot in self._options(g):
            cls = self.shape[c]
            opened = self.opened[c]
            is_new = slot == len(opened)
            if is_new:
                opened.append({rc: cls.signature.free(rc) for rc, _, _ in cls.signature.capacity})
            for rc, amount in group.resources.items():
                opened[slot][rc] -= amount
            self.slots[g] = (c, slot)
            stop = self._place(depth + 1, programmed + cls.signature.holds(group))
            for rc, amount in group.resources.items():
                opened[slot][rc] += amount
            if is_new:
                opened.pop()
            if stop:
                return True
        return False

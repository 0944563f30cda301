"""Assign request groups to provider classes on one host (see `candidates` for the why).

Inputs are a request's views of classes (`projection.ClassView` with a provider count), so the
solver works on group indices and capacity vectors only.

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

from accord.scheduler.model import Policy
from accord.scheduler.projection import ClassView

# A safety valve for pathological `none` requests (many groups of many sizes); ordinary profiles
# (a handful of groups) finish in a few hundred nodes.
NONE_SEARCH_NODE_BUDGET = 50_000

Views = Sequence[tuple[ClassView, int]]
Amounts = Sequence[tuple[int, ...]]


@dataclass(frozen=True)
class Assignment:
    """slots[i] = (class index, provider slot within the class) for group i."""

    slots: tuple[tuple[int, int], ...]
    programmed: int


def eligibility(views: Views, n_groups: int) -> list[list[int]]:
    """Per group, the indices of classes whose (unused) providers can serve it."""
    return [[c for c, (view, _) in enumerate(views) if g in view.eligible] for g in range(n_groups)]


def programmed_upper_bound(views: Views, eligible: list[list[int]]) -> int:
    return sum(1 for g, options in enumerate(eligible) if any(g in views[c][0].held for c in options))


def _residual_after(view: ClassView, amounts: tuple[int, ...]) -> int:
    return sum(free - amount for free, amount in zip(view.free, amounts, strict=True) if amount)


def solve_isolate(
    views: Views, amounts: Amounts, eligible: list[list[int]], policy: Policy
) -> Assignment | None:
    n_groups, n_classes = len(amounts), len(views)
    if n_groups > sum(count for _, count in views):
        return None
    fit_sign = 1 if policy is Policy.PACK else -1
    fits = {
        (g, c): fit_sign * _residual_after(views[c][0], amounts[g])
        for g in range(n_groups)
        for c in eligible[g]
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
            held = g in views[c][0].held
            add_edge(1 + g, 1 + n_groups + c, 1, fits[g, c] - (hold_weight if held else 0))
    for c, (_, count) in enumerate(views):
        add_edge(1 + n_groups + c, sink, count, 0)

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
        # Forward edges sit at even indices; a saturated one out of group g is its choice.
        c = next(to[e] - 1 - n_groups for e in graph[1 + g] if e % 2 == 0 and cap[e] == 0)
        slots.append((c, used_in_class[c]))
        used_in_class[c] += 1
        programmed += g in views[c][0].held
    return Assignment(tuple(slots), programmed)


def solve_shared(
    views: Views, amounts: Amounts, eligible: list[list[int]], policy: Policy
) -> Assignment | None:
    """group_policy "none": isolate first, then the class-level branch-and-bound search."""
    best = solve_isolate(views, amounts, eligible, policy)
    bound = programmed_upper_bound(views, eligible)
    if best is not None and best.programmed == bound:
        return best
    return _ShareSearch(views, amounts, eligible, policy, best, bound).run()


class _ShareSearch:
    def __init__(
        self,
        views: Views,
        amounts: Amounts,
        eligible: list[list[int]],
        policy: Policy,
        best: Assignment | None,
        bound: int,
    ) -> None:
        self.views, self.amounts, self.eligible, self.policy = views, amounts, eligible, policy
        self.best, self.bound = best, bound
        self.nodes = 0
        # Tightest first: fewest eligible classes, then the biggest amount.
        self.order = sorted(range(len(amounts)), key=lambda g: (len(eligible[g]), -sum(amounts[g])))
        # Opened providers per class: residual free capacity vectors.
        self.opened: list[list[list[int]]] = [[] for _ in views]
        self.slots: list[tuple[int, int]] = [(-1, -1)] * len(amounts)
        self.can_hold = [any(g in views[c][0].held for c in eligible[g]) for g in range(len(amounts))]

    def run(self) -> Assignment | None:
        self._place(0, 0)
        return self.best

    def _options(self, g: int) -> list[tuple[int, int]]:
        amounts = self.amounts[g]
        held: list[tuple[int, int]] = []
        other: list[tuple[int, int]] = []
        for c in self.eligible[g]:
            view, count = self.views[c]
            seen: set[tuple[int, ...]] = set()
            reuse: list[tuple[int, int]] = []
            for slot, residual in enumerate(self.opened[c]):
                key = tuple(residual)
                if key in seen:
                    continue
                seen.add(key)
                if all(left >= amount for left, amount in zip(residual, amounts, strict=True)):
                    reuse.append((c, slot))
            fresh = [(c, len(self.opened[c]))] if len(self.opened[c]) < count else []
            mine = reuse + fresh if self.policy is Policy.PACK else fresh + reuse
            (held if g in view.held else other).extend(mine)
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
        amounts = self.amounts[g]
        for c, slot in self._options(g):
            view = self.views[c][0]
            opened = self.opened[c]
            is_new = slot == len(opened)
            if is_new:
                opened.append(list(view.free))
            residual = opened[slot]
            for k, amount in enumerate(amounts):
                residual[k] -= amount
            self.slots[g] = (c, slot)
            stop = self._place(depth + 1, programmed + (g in view.held))
            for k, amount in enumerate(amounts):
                residual[k] += amount
            if is_new:
                opened.pop()
            if stop:
                return True
        return False

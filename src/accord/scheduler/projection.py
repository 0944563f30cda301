"""A request's view of provider classes: what the solver needs and nothing else.

For one request, a class matters only through: which groups it can serve, which groups' function
it already holds, its free capacity in the requested resource classes, and its NUMA node. Classes
that differ elsewhere (a trait no group mentions, a function nobody asks for, an inventory of
another resource class) look the same to this request and are merged. Host shapes that merge to
the same view multiset are then solved once: on a 10k-host fleet this turns thousands of
distinct shapes into a few dozen solves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from accord.scheduler.classes import ClassSignature, Shape
from accord.scheduler.model import Policy, Request


@dataclass(frozen=True)
class ClassView:
    eligible: frozenset[int]  # indices of the groups one fresh provider of the class can serve
    held: frozenset[int]  # indices of the groups whose function/bitstream is already loaded
    free: tuple[int, ...]  # free capacity per requested resource class (`RequestVectors.classes`)
    numa_node: int | None
    free_total: int  # sum(free), kept because every shape of the fleet adds it up

    def sort_key(self) -> tuple[object, ...]:
        return (
            sorted(self.eligible),
            sorted(self.held),
            self.free,
            -1 if self.numa_node is None else self.numa_node,
        )


# The solver's input: views with their provider counts, in a canonical order.
ViewShape = tuple[tuple[ClassView, int], ...]
# Per request group: (class index in a host's shape, member index within that class).
Picks = tuple[tuple[int, int], ...]


class RequestVectors:
    """The request flattened to vectors over its resource classes, with per-query memos.

    Views are interned per query and shapes are projected to keys of view ids, so that the loop
    over every shape of a large fleet hashes only small integers.
    """

    def __init__(self, request: Request, policy: Policy) -> None:
        self.request = request
        self.policy = policy
        self.classes = tuple(sorted({rc for g in request.groups for rc in g.resources}))
        self.amounts = tuple(tuple(g.resources.get(rc, 0) for rc in self.classes) for g in request.groups)
        self.demand = sum(sum(a) for a in self.amounts)
        # Keyed by id(): the signatures belong to layouts that outlive this query object.
        self._view_of_signature: dict[int, ClassView] = {}
        self._interned: dict[ClassView, ClassView] = {}
        self._by_id: dict[int, ClassView] = {}
        self._preference: dict[int, tuple[bool, int]] = {}

    def view(self, signature: ClassSignature) -> ClassView:
        found = self._view_of_signature.get(id(signature))
        if found is None:
            groups = self.request.groups
            free = tuple(signature.free(rc) for rc in self.classes)
            fresh = ClassView(
                frozenset(i for i, g in enumerate(groups) if signature.fits(g)),
                frozenset(i for i, g in enumerate(groups) if signature.holds(g)),
                free,
                signature.numa_node,
                sum(free),
            )
            found = self._interned.setdefault(fresh, fresh)
            self._by_id[id(found)] = found
            if len(self.amounts) == 1:
                self._preference[id(found)] = self.preference(found)
            self._view_of_signature[id(signature)] = found
        return found

    def project(self, shape: Shape) -> tuple[frozenset[tuple[int, int]], int]:
        """(key, free capacity of the requested resource classes on the host).

        The key is an order-free set of (view id, count), equal for shapes this request cannot
        tell apart: views that serve no group are left out (they only add to the capacity), and
        counts are capped at the number of groups, since no answer uses more providers than that.
        """
        if len(self.amounts) == 1:
            return self._project_single(shape)
        counts: dict[int, int] = {}
        capacity = 0
        cap = len(self.amounts)
        known = self._view_of_signature  # inlined lookup: this loop runs for every shape in the fleet
        for cls in shape:
            view = known.get(id(cls.signature)) or self.view(cls.signature)
            capacity += cls.count * view.free_total
            if view.eligible:
                view_id = id(view)
                counts[view_id] = min(cap, counts.get(view_id, 0) + cls.count)
        return frozenset(counts.items()), capacity

    def preference(self, view: ClassView) -> tuple[bool, int]:
        """For a single group: held first, then least (pack) or most (spread) free left."""
        left = sum(free for free, amount in zip(view.free, self.amounts[0], strict=True) if amount)
        return (0 in view.held, -left if self.policy is Policy.PACK else left)

    def _project_single(self, shape: Shape) -> tuple[frozenset[tuple[int, int]], int]:
        # One group uses one provider: only the most preferred eligible view can matter.
        capacity = 0
        best = -1
        best_preference = (False, 0)
        known = self._view_of_signature
        preferences = self._preference
        for cls in shape:
            view = known.get(id(cls.signature)) or self.view(cls.signature)
            capacity += cls.count * view.free_total
            if view.eligible:
                preference = preferences[id(view)]
                if best == -1 or preference > best_preference:
                    best, best_preference = id(view), preference
        return (frozenset() if best == -1 else frozenset({(best, 1)})), capacity

    def canonical(self, key: frozenset[tuple[int, int]]) -> ViewShape:
        views = ((self._by_id[view_id], count) for view_id, count in key)
        return tuple(sorted(views, key=lambda item: item[0].sort_key()))


def picks_by_view(
    shape: Shape, vectors: RequestVectors, views: ViewShape, slots: Sequence[tuple[int, int]]
) -> Picks:
    """Where each (view, slot) of an answer lands on a host of this shape: (class index in the
    shape, member index within the class). A view's slots run over the classes that look like it,
    in shape order, and their members in uuid order; equal for every host of the shape."""
    position = {id(view): i for i, (view, _) in enumerate(views)}  # views are interned per query
    by_view: list[list[tuple[int, int]]] = [[] for _ in views]
    for k, cls in enumerate(shape):
        index = position.get(id(vectors.view(cls.signature)))
        if index is not None:  # None: the class serves no group of this request
            by_view[index].extend((k, m) for m in range(cls.count))
    return tuple(by_view[c][slot] for c, slot in slots)


def views_on_node(views: Sequence[tuple[ClassView, int]], node: int | None) -> list[int]:
    return [i for i, (view, _) in enumerate(views) if view.numa_node == node]

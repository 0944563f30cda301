"""ProviderIndex: hosts kept bucketed by shape so a query touches each distinct shape once.

The store rebuilds it from its tables at start-up and calls `upsert_host` whenever a host's
inventory, usage, traits or health change (after a report, a bind or an unbind) and `remove_host`
when a host is deleted; it holds no locks of its own and is not the source of truth — a candidate
it returns is only a proposal that the store claims in a transaction (generation check), retrying
on a fresh query if the claim loses a race.

Cost of a query: projecting distinct shapes onto the request (a few dictionary lookups each), one
solve per distinct projection (see `candidates`), and a partial sort of the host names in the
winning buckets. Cost of an update: rebuilding one host's layout. Class signatures are interned
(one object per distinct signature, held weakly so signatures no host has any more go away), so
the per-query memo of class views hits on identity.

Capacity levels: shapes are also filed by their total free capacity per resource class. Within
equal function and NUMA preference the ranking is by that capacity (least first for pack, most
for spread), so a query with a limit whose groups ask for one resource class walks the levels in
that order and stops after the first level by which `limit` hosts have reached the best rank any
host could reach (every group that any class of the fleet holds held; all on one NUMA node unless
the request isolates more groups than any host has providers on one node): hosts on later levels
can only rank below them. The answer is the one a full scan gives; the scan just ends early. A
fleet where nearly every host is unique (vGPU pools with random usage) then costs the few levels
nearest the request instead of one projection per host.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable

from accord.scheduler.candidates import Ranking, programmed_bound
from accord.scheduler.classes import ClassSignature, HostLayout, Shape, SignatureKey
from accord.scheduler.model import Candidate, Host, Policy, Request


def free_by_resource_class(shape: Shape) -> dict[str, int]:
    totals: dict[str, int] = {}
    for cls in shape:
        for rc, free, _ in cls.signature.capacity:
            totals[rc] = totals.get(rc, 0) + cls.count * free
    return totals


def widest_node(shape: Shape) -> int:
    """The most usable providers the host has on one NUMA node."""
    per_node: dict[int | None, int] = {}
    for cls in shape:
        node = cls.signature.numa_node
        per_node[node] = per_node.get(node, 0) + cls.count
    return max(per_node.values())


class ProviderIndex:
    def __init__(self, hosts: Iterable[Host] = ()) -> None:
        self._layouts: dict[str, HostLayout] = {}
        self._buckets: dict[Shape, dict[str, HostLayout]] = {}
        # One shape object per bucket, shared by its hosts' layouts (see HostLayout.of).
        self._shapes: dict[Shape, Shape] = {}
        # resource class -> total free on the host -> the buckets of the shapes with that much
        # (see the module doc); the bucket objects are those of `_buckets`, so walking a level
        # hashes no shape.
        self._levels: dict[str, dict[int, dict[Shape, dict[str, HostLayout]]]] = {}
        # widest_node -> how many shapes: whether an isolate request could be NUMA-local anywhere
        self._widths: dict[int, int] = {}
        self._signatures: weakref.WeakValueDictionary[SignatureKey, ClassSignature] = (
            weakref.WeakValueDictionary()
        )
        for host in hosts:
            self.upsert_host(host)

    def __len__(self) -> int:
        return len(self._layouts)

    def __contains__(self, name: object) -> bool:
        return name in self._layouts

    @property
    def shape_count(self) -> int:
        return len(self._buckets)

    def upsert_host(self, host: Host) -> None:
        self.remove_host(host.name)
        layout = HostLayout.of(host, self._signatures, self._shapes)
        self._layouts[host.name] = layout
        if not layout.shape:  # a lost host or one with nothing usable is remembered but never offered
            return
        bucket = self._buckets.get(layout.shape)
        if bucket is None:
            bucket = self._buckets[layout.shape] = {}
            for rc, free in free_by_resource_class(layout.shape).items():
                self._levels.setdefault(rc, {}).setdefault(free, {})[layout.shape] = bucket
            width = widest_node(layout.shape)
            self._widths[width] = self._widths.get(width, 0) + 1
        bucket[host.name] = layout

    def remove_host(self, name: str) -> None:
        layout = self._layouts.pop(name, None)
        if layout is None or not layout.shape:
            return
        bucket = self._buckets[layout.shape]
        del bucket[name]
        if bucket:
            return
        del self._buckets[layout.shape]
        del self._shapes[layout.shape]
        for rc, free in free_by_resource_class(layout.shape).items():
            levels = self._levels[rc]
            del levels[free][layout.shape]
            if not levels[free]:
                del levels[free]
                if not levels:
                    del self._levels[rc]
        width = widest_node(layout.shape)
        self._widths[width] -= 1
        if not self._widths[width]:
            del self._widths[width]

    def _best_possible(self, request: Request) -> tuple[int, bool]:
        """(pre-programmed groups, NUMA-local) that no host can beat: upper bounds, cheap to get."""
        programmed = programmed_bound(request, self._signatures.values())
        isolate = request.group_policy == "isolate" and len(request.groups) > 1
        numa_local = not isolate or len(request.groups) <= max(self._widths, default=0)
        return programmed, numa_local

    def find_candidates(
        self, request: Request, limit: int | None = None, policy: Policy = Policy.PACK
    ) -> list[Candidate]:
        ranking = Ranking(request, policy)
        vectors = ranking.vectors
        if limit is None or len(vectors.classes) != 1 or vectors.demand <= 0:
            # Several resource classes: the ranking's capacity is their sum, which no level holds.
            for shape, bucket in self._buckets.items():
                ranking.add(shape, bucket)
            return ranking.best(limit)
        levels = self._levels.get(vectors.classes[0], {})
        ordered = sorted((free for free in levels if free >= vectors.demand), reverse=policy is Policy.SPREAD)
        top_programmed, top_local = self._best_possible(request)
        at_top = 0  # hosts whose answer reached the best rank any host could (see the module doc)
        for free in ordered:
            for shape, bucket in levels[free].items():
                answer = ranking.add(shape, bucket)
                if (
                    answer is not None
                    and answer.solved.numa_local == top_local
                    and answer.solved.assignment.programmed == top_programmed
                ):
                    at_top += len(bucket)
            if at_top >= limit:
                break
        return ranking.best(limit)

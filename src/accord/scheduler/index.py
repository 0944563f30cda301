"""ProviderIndex: hosts kept bucketed by shape so a query touches each distinct shape once.

The store rebuilds it from its tables at start-up and calls `upsert_host` whenever a host's
inventory, usage, traits or health change (after a report, a bind or an unbind) and `remove_host`
when a host is deleted; it holds no locks of its own and is not the source of truth — a candidate
it returns is only a proposal that the store claims in a transaction (generation check), retrying
on a fresh query if the claim loses a race.

Cost of a query: projecting each distinct shape onto the request (a few dictionary lookups), one
solve per distinct projection (see `candidates`), and a partial sort of the host names in the
winning buckets. Cost of an update: rebuilding one host's layout. Class signatures are interned
(one object per distinct signature, held weakly so signatures no host has any more go away), so
the per-query memo of class views hits on identity.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable

from accord.scheduler.candidates import rank_buckets
from accord.scheduler.classes import ClassSignature, HostLayout, Shape
from accord.scheduler.model import Candidate, Host, Policy, Request


class ProviderIndex:
    def __init__(self, hosts: Iterable[Host] = ()) -> None:
        self._layouts: dict[str, HostLayout] = {}
        self._buckets: dict[Shape, dict[str, HostLayout]] = {}
        self._signatures: weakref.WeakValueDictionary[ClassSignature, ClassSignature] = (
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
        layout = HostLayout.of(host, self._signatures)
        self._layouts[host.name] = layout
        if layout.shape:  # a lost host or one with nothing usable is remembered but never offered
            self._buckets.setdefault(layout.shape, {})[host.name] = layout

    def remove_host(self, name: str) -> None:
        layout = self._layouts.pop(name, None)
        if layout is None or not layout.shape:
            return
        bucket = self._buckets[layout.shape]
        del bucket[name]
        if not bucket:
            del self._buckets[layout.shape]

    def find_candidates(
        self, request: Request, limit: int | None = None, policy: Policy = Policy.PACK
    ) -> list[Candidate]:
        return rank_buckets(
            ((shape, bucket.values()) for shape, bucket in self._buckets.items()), request, limit, policy
        )

"""A process-local ProviderIndex over the store that follows the store's changes host by host,
so a candidate query over a large fleet neither reads every provider nor rebuilds the index.

It is a cache of proposals, never the truth: a bind still claims its handle with a conditional
update and places again when it loses. How it keeps up (`store/host_versions.py`):

- Every transaction that changes what a host offers bumps the host's version as it commits.
  This process's own commits reach the index at once (`committed`): a claim or a release is
  applied to the host's entry in place when the entry is at the version just before it (exact:
  one handle more or less in use); anything else marks the host to be read again.
- Before a query, when hosts are marked or the last look is older than `max_age_s`, one
  indexed query asks which hosts' versions moved since then (other workers' and replicas'
  writes are only visible there) and only those hosts are read (`_sync`), in one snapshot with
  their versions, so an entry is always the host as of its recorded version.
- The whole fleet is read only by the first query and then every `rebuild_s` (a safety net, in
  a thread of its own while queries go on with the current index). Entries the process moved
  past the rebuild's snapshot meanwhile are kept.

A change counts as seen once a look started after it committed, less `SINCE_MARGIN`: a
transaction that commits that long after bumping its version (or a replica's clock that far
off) would be missed until the next rebuild.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from accord.scheduler.index import ProviderIndex
from accord.scheduler.model import Candidate, Host, Inventory, Policy, Provider, Request
from accord.store.host_versions import Committed, changed_since, versions_of
from accord.store.models import utcnow
from accord.store.providers import read_hosts

REBUILD_THREAD = "scheduler-index-rebuild"
SINCE_MARGIN = timedelta(seconds=30)
DEFAULT_REBUILD_S = 600.0
_log = logging.getLogger(__name__)


@dataclass
class Fleet:
    """The index and what it was built from: each host's entry, and the version it is at."""

    index: ProviderIndex = field(default_factory=ProviderIndex)
    hosts: dict[str, Host] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    partitioned: set[str] = field(default_factory=set)  # hosts where a claim is not only a count

    def install(self, name: str, host: Host | None, version: int, partitioned: bool) -> None:
        if host is None:
            self.index.remove_host(name)
            self.hosts.pop(name, None)
        else:
            self.index.upsert_host(host)
            self.hosts[name] = host
        self.versions[name] = version
        if partitioned:
            self.partitioned.add(name)
        else:
            self.partitioned.discard(name)


def with_usage(host: Host, usage: dict[str, int]) -> Host | None:
    """`host` with handles taken (or given back) on its providers; None when one is not known."""
    providers = []
    left = dict(usage)
    for provider in host.providers:
        taken = left.pop(provider.uuid, 0)
        if taken:
            ((rc, inventory),) = provider.inventories.items()  # load_hosts: one class per provider
            used = inventory.used + taken
            counted = Inventory(inventory.total, inventory.reserved, inventory.max_unit, used)
            provider = Provider(
                provider.uuid,
                provider.host,
                provider.device_uuid,
                provider.deployable_uuid,
                {rc: counted},
                provider.traits,
                provider.numa_node,
                provider.function_id,
                provider.bitstream_id,
                provider.generation,
                provider.usable,
            )
        providers.append(provider)
    if left:
        return None
    return Host(host.name, tuple(providers), host.lost)


@dataclass
class CacheStats:
    """What the cache did (read by tests and benchmarks)."""

    rebuilds: int = 0
    syncs: int = 0
    hosts_read: int = 0
    applied_in_place: int = 0


class SchedulerCache:
    """See the module doc. `max_age_s` 0 turns the index off (every query reads the store, as a
    fleet of a few hosts wants anyway)."""

    def __init__(self, max_age_s: float, rebuild_s: float = DEFAULT_REBUILD_S) -> None:
        self.max_age_s = max_age_s
        self.rebuild_s = rebuild_s
        self.stats = CacheStats()
        self._fleet: Fleet | None = None
        # Guards the fleet in memory (queries and per-host updates: microseconds); database
        # reads never run under it.
        self._lock = threading.Lock()
        self._rebuild_lock = threading.Lock()  # one full read at a time
        self._sync_lock = threading.Lock()  # one look at the changes at a time
        # host -> the version it must reach: this process committed a change it could not
        # apply in place, or a query asked for the host to be read again
        self._dirty: dict[str, int] = {}
        self._since: datetime = utcnow()
        self._synced_at = 0.0
        self._built_at = 0.0
        self._readers: dict[Engine, Engine] = {}  # engine -> the same for snapshot reads

    @property
    def enabled(self) -> bool:
        return self.max_age_s > 0

    @property
    def built(self) -> bool:
        """Nothing to keep fresh until a query built the index (a Nova-only cloud never does)."""
        return self._fleet is not None

    def candidates(
        self, session: Session, request: Request, limit: int | None, policy: Policy
    ) -> list[Candidate]:
        fleet = self._current(session)
        with self._lock:
            return fleet.index.find_candidates(request, limit, policy)

    def hosts(self) -> dict[str, Host]:
        """The hosts the index holds now, as it holds them (tests compare them with the store)."""
        with self._lock:
            return {} if self._fleet is None else dict(self._fleet.hosts)

    def refresh(self, session: Session, hostnames: set[str]) -> None:
        """Read these hosts again now (a bind lost a race on them: the index was behind)."""
        if not self.enabled or not hostnames or self._fleet is None:
            return
        with self._lock:
            for name in hostnames:
                self._dirty.setdefault(name, 0)
        self._sync(session)

    def committed(self, changes: Committed) -> None:
        """This process committed these hosts' changes (`Database.on_commit`)."""
        with self._lock:
            fleet = self._fleet
            if fleet is None:
                return
            for name, (version, usage) in changes.items():
                known = fleet.versions.get(name, -1)
                if known >= version:
                    continue  # a look at the store already read it
                if usage is not None and known == version - 1 and name not in fleet.partitioned:
                    host = fleet.hosts.get(name)
                    updated = None if host is None else with_usage(host, usage)
                    if updated is not None:
                        fleet.install(name, updated, version, False)
                        self.stats.applied_in_place += 1
                        continue
                self._dirty[name] = max(self._dirty.get(name, 0), version)

    def _current(self, session: Session) -> Fleet:
        with self._lock:
            fleet = self._fleet
        if fleet is None:  # the first query builds the index; queries meanwhile wait for it
            with self._rebuild_lock:
                if self._fleet is None:
                    self._rebuild(session)
            assert self._fleet is not None
            return self._fleet
        now = time.monotonic()
        if now - self._built_at > self.rebuild_s and self._rebuild_lock.acquire(blocking=False):
            bind = session.get_bind()
            if isinstance(bind, Engine):
                threading.Thread(
                    target=self._rebuild_detached, args=(bind,), name=REBUILD_THREAD, daemon=True
                ).start()
            else:
                self._rebuild_lock.release()
        if self._dirty or now - self._synced_at > self.max_age_s:
            self._sync(session)
        return self._fleet or fleet

    @contextmanager
    def _snapshot(self, session: Session) -> Iterator[Session]:
        """A read transaction of its own whose statements all see one snapshot (PostgreSQL's
        REPEATABLE READ; SQLite's read transaction already is one), so the versions read with
        the hosts are theirs. Not the caller's session: it may be a bind's write transaction."""
        bind = session.get_bind()
        if not isinstance(bind, Engine):
            yield session
            return
        engine = self._readers.get(bind)
        if engine is None:
            options: dict[str, object] = {"accord_write": False}
            if bind.dialect.name == "postgresql":
                options["isolation_level"] = "REPEATABLE READ"
            engine = self._readers[bind] = bind.execution_options(**options)
        with Session(engine) as reader:
            yield reader

    def _sync(self, session: Session) -> None:
        if not self._sync_lock.acquire(blocking=False):
            return  # another thread is looking: this query goes on with the index as it is
        try:
            started, started_at = time.monotonic(), utcnow()
            with self._snapshot(session) as reader:
                changed = changed_since(reader, self._since)
                with self._lock:
                    fleet = self._fleet
                    if fleet is None:
                        return
                    wanted = {n for n, v in changed.items() if fleet.versions.get(n, -1) < v}
                    wanted.update(self._dirty)
                unseen = wanted - changed.keys()
                versions = {**changed, **(versions_of(reader, unseen) if unseen else {})}
                hosts, partitioned = read_hosts(reader, hostnames=wanted) if wanted else ([], set())
            read = {host.name: host for host in hosts}
            with self._lock:
                fleet = self._fleet or fleet  # a rebuild may have swapped in a newer one
                for name in wanted:
                    version = versions.get(name, 0)
                    if fleet.versions.get(name, -1) <= version:
                        fleet.install(name, read.get(name), version, name in partitioned)
                    if self._dirty.get(name, version + 1) <= version:
                        del self._dirty[name]
                self._since = started_at - SINCE_MARGIN
                self._synced_at = started
                self.stats.syncs += 1
                self.stats.hosts_read += len(wanted)
        except Exception:  # the index stays as it is; the next query looks again
            _log.warning("could not read the scheduler index's changes", exc_info=True)
        finally:
            self._sync_lock.release()

    def _rebuild_detached(self, bind: Engine) -> None:
        try:
            with Session(bind) as session:
                self._rebuild(session)
        except Exception:  # the old index keeps serving; a later query starts another
            # A database outage or a disposed engine (shutdown) must not kill the process.
            _log.warning("scheduler index rebuild failed; the previous index stays", exc_info=True)
        finally:
            self._rebuild_lock.release()

    def _rebuild(self, session: Session) -> None:
        """Read the whole fleet outside `_lock` and swap it in; the caller holds `_rebuild_lock`."""
        started, started_at = time.monotonic(), utcnow()
        with self._snapshot(session) as reader:
            versions = versions_of(reader)
            hosts, partitioned = read_hosts(reader)
        fresh = Fleet(ProviderIndex(hosts), {host.name: host for host in hosts}, versions, partitioned)
        for host in hosts:
            fresh.versions.setdefault(host.name, 0)
        with self._lock:
            old = self._fleet
            if old is not None:
                # What this process moved past the snapshot meanwhile stays.
                for name, version in old.versions.items():
                    if version > fresh.versions.get(name, -1):
                        fresh.install(name, old.hosts.get(name), version, name in old.partitioned)
                self._since = min(self._since, started_at - SINCE_MARGIN)
            else:
                self._since = started_at - SINCE_MARGIN
                self._synced_at = started
            self._dirty = {n: v for n, v in self._dirty.items() if v > fresh.versions.get(n, -1)}
            self._fleet = fresh
            self._built_at = started
            self.stats.rebuilds += 1

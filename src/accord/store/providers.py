"""The resource-provider tree as the scheduler sees it, read from the store, and the host-less
bind chooser built on it.

Capacity is counted in attach handles (what a bind actually takes): total = handles the agent
reports, used = handles in use, reserved = total when the device is disabled; on a partitioned
device (`domain/partitions.py`) reserved also holds back what cannot coexist with what is in use,
so free = what the partition can really still take. A disabled,
unhealthy, quarantined or lost device, or a lost host, offers nothing.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from accord.domain.device_profile import ProfileGroup, parse_group
from accord.domain.errors import Conflict
from accord.domain.usability import device_usable
from accord.scheduler.candidates import find_candidates
from accord.scheduler.model import Candidate, Host, Inventory, Policy, Provider, Request, RequestGroup
from accord.store.models import AcceleratorRequest, AttachHandle, Attribute, Deployable, Device
from accord.store.models import Host as HostRow
from accord.store.partitions import drop_conflicting, free_units

if TYPE_CHECKING:
    from accord.store.scheduler_cache import SchedulerCache

TIE_POOL = 16


def load_hosts(
    session: Session,
    resource_classes: set[str] | None = None,
    exclude: set[int] | None = None,
    hostnames: set[str] | None = None,
) -> list[Host]:
    return read_hosts(session, resource_classes, exclude, hostnames)[0]


def read_hosts(
    session: Session,
    resource_classes: set[str] | None = None,
    exclude: set[int] | None = None,
    hostnames: set[str] | None = None,
) -> tuple[list[Host], set[str]]:
    """The hosts, and the names of those with a partitioned device (where one claim changes what
    the device's other partitions can take)."""
    # Plain column rows, not ORM objects: this runs on every host-less bind.
    query = select(
        Deployable.id,
        Deployable.rp_uuid,
        Deployable.uuid,
        Deployable.resource_class,
        Deployable.function_id,
        Deployable.bitstream_id,
        Device.uuid,
        Device.hostname,
        Device.status,
        Device.health,
        Device.lost,
        Device.quarantine_reason,
        Device.numa_node,
    ).join(Device, Device.id == Deployable.device_id)
    # The same deployables again as a subquery for the queries below: a list of their ids would
    # be one bound parameter per deployable (80,000 for a 10,000-host fleet), whose binding cost
    # an index rebuild more than the queries themselves.
    chosen = select(Deployable.id).join(Device, Device.id == Deployable.device_id)
    if resource_classes:
        query = query.where(Deployable.resource_class.in_(resource_classes))
        chosen = chosen.where(Deployable.resource_class.in_(resource_classes))
    if hostnames is not None:
        query = query.where(Device.hostname.in_(hostnames))
        chosen = chosen.where(Device.hostname.in_(hostnames))
    rows = [row for row in session.execute(query) if not exclude or row[0] not in exclude]
    counts = {
        dep_id: (total, used)
        for dep_id, total, used in session.execute(
            select(
                AttachHandle.deployable_id,
                func.count(),
                func.sum(case((AttachHandle.in_use.is_(True), 1), else_=0)),
            )
            .where(AttachHandle.deployable_id.in_(chosen), AttachHandle.lost.is_(False))
            .group_by(AttachHandle.deployable_id)
        )
    }
    traits: dict[int, set[str]] = defaultdict(set)
    for dep_id, value in session.execute(
        select(Attribute.deployable_id, Attribute.value).where(
            Attribute.deployable_id.in_(chosen), Attribute.key.like("trait%")
        )
    ):
        traits[dep_id].add(value)
    free_partitions = free_units(session, chosen)  # what coexists on a partitioned device
    lost_query = select(HostRow.name).where(HostRow.state.in_(("lost", "in use")))
    if hostnames is not None:
        lost_query = lost_query.where(HostRow.name.in_(hostnames))
    lost_hosts = set(session.scalars(lost_query))
    by_host: dict[str, list[Provider]] = defaultdict(list)
    partitioned: set[str] = set()
    for (dep_id, rp_uuid, dep_uuid, rc, function_id, bitstream_id, dev_uuid, hostname, status, health, lost,
         quarantine, numa) in rows:  # fmt: skip
        total, used = counts.get(dep_id, (0, 0))
        enabled = status == "enabled"
        free = free_partitions.get(dep_id)
        if free is not None:
            partitioned.add(hostname)
        reserved = total if not enabled else 0 if free is None else max(0, total - int(used or 0) - free)
        by_host[hostname].append(
            Provider(
                uuid=rp_uuid,
                host=hostname,
                device_uuid=dev_uuid,
                deployable_uuid=dep_uuid,
                inventories={rc: Inventory(total=total, reserved=reserved, used=int(used or 0))},
                traits=frozenset(traits[dep_id]),
                numa_node=numa,
                function_id=function_id,
                bitstream_id=bitstream_id,
                usable=device_usable(status, health, lost, quarantine),
            )
        )
    hosts = [Host(name, tuple(providers), name in lost_hosts) for name, providers in by_host.items()]
    return hosts, partitioned


def request_for(groups: Sequence[tuple[int, ProfileGroup, int]]) -> Request:
    """(group_id, group, units) → a scheduler Request; units are ARQs, each needing one handle of the
    group's first resource class (the class Cyborg binds by)."""
    return Request(
        tuple(
            RequestGroup(
                group_id=group_id,
                resources={next(iter(group.resources)): units},
                required_traits=group.required_traits,
                forbidden_traits=group.forbidden_traits,
                function_id=group.function_id,
                bitstream_id=group.bitstream_id,
            )
            for group_id, group, units in groups
        )
    )


def profile_request(raw_groups: list[dict[str, str]]) -> Request:
    parsed = [parse_group(i, g) for i, g in enumerate(raw_groups)]
    return request_for([(i, g, g.arq_count()) for i, g in enumerate(parsed)])


def candidates_for(
    session: Session,
    request: Request,
    limit: int | None,
    policy: Policy = Policy.PACK,
    exclude: set[int] | None = None,
    cache: SchedulerCache | None = None,
) -> list[Candidate]:
    found = _candidates(session, request, limit, policy, exclude, cache)
    # Groups that share a partitioned device must also coexist there.
    return drop_conflicting(session, found, request) if len(request.groups) > 1 else found


def _candidates(
    session: Session,
    request: Request,
    limit: int | None,
    policy: Policy,
    exclude: set[int] | None,
    cache: SchedulerCache | None,
) -> list[Candidate]:
    if cache is None or not cache.enabled:
        classes = {rc for group in request.groups for rc in group.resources}
        return find_candidates(load_hosts(session, classes, exclude), request, limit, policy)
    if not exclude:
        return cache.candidates(session, request, limit, policy)
    # Lost a race on these deployables: re-read their hosts, and never propose them again here.
    rows = session.execute(
        select(Deployable.uuid, Device.hostname).join(Device).where(Deployable.id.in_(exclude))
    ).all()
    cache.refresh(session, {hostname for _, hostname in rows})
    excluded = {dep_uuid for dep_uuid, _ in rows}
    found = cache.candidates(session, request, None if limit is None else limit + len(excluded) * 4, policy)
    kept = [c for c in found if not any(g.deployable_uuid in excluded for g in c.groups)]
    return kept[:limit] if limit is not None else kept


def choose_deployables(
    session: Session,
    arqs: Sequence[AcceleratorRequest],
    exclude: set[int],
    cache: SchedulerCache | None = None,
) -> list[Deployable]:
    """Host-less bind: place each instance's ARQs (all on one host), best candidate first."""
    chosen: dict[str, Deployable] = {}
    by_instance: dict[str | None, list[AcceleratorRequest]] = defaultdict(list)
    for arq in arqs:
        by_instance[arq.instance_uuid].append(arq)
    for instance_arqs in by_instance.values():
        units: dict[int, int] = defaultdict(int)
        groups: dict[int, ProfileGroup] = {}
        for arq in instance_arqs:
            units[arq.device_profile_group_id] += 1
            groups[arq.device_profile_group_id] = parse_group(
                arq.device_profile_group_id, arq.device_profile_group
            )
        request = request_for([(gid, groups[gid], units[gid]) for gid in sorted(groups)])
        found = candidates_for(session, request, limit=TIE_POOL, exclude=exclude, cache=cache)
        if not found:
            raise Conflict(
                f"No host has room for profile {instance_arqs[0].profile.name!r} "
                f"({len(instance_arqs)} accelerator requests)."
            )
        # Concurrent binds would all pick the same best candidate and fight over it. Picking at
        # random among the top ones that are as good on what matters (function already loaded,
        # NUMA locality) spreads them; only the pack/spread tie-break is loosened.
        top = found[0]
        best = [
            c for c in found if (c.programmed_groups, c.numa_local) == (top.programmed_groups, top.numa_local)
        ]
        by_group = {g.group_id: g.deployable_uuid for g in random.choice(best).groups}
        deployables = {
            d.uuid: d
            for d in session.scalars(select(Deployable).where(Deployable.uuid.in_(by_group.values())))
        }
        for arq in instance_arqs:
            chosen[arq.uuid] = deployables[by_group[arq.device_profile_group_id]]
    return [chosen[arq.uuid] for arq in arqs]

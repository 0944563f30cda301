"""Property tests: every candidate is valid, and the search agrees with brute force on small fleets.

Brute force tries every mapping of groups to providers on a host (P**G of them, fine for P <= 4,
G <= 3) and keeps the best (pre-programmed groups, NUMA-local) pair; the search must find a
candidate on exactly the hosts where brute force finds one, and reach the same best pair.
"""

from __future__ import annotations

import itertools
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.scheduler.candidates import find_candidates
from accord.scheduler.model import Candidate, Host, Inventory, Policy, Provider, Request, RequestGroup

TRAITS = ("CUSTOM_X", "CUSTOM_Y")
PROVIDER_TRAITS: tuple[frozenset[str], ...] = (
    frozenset(TRAITS),
    frozenset({"CUSTOM_X"}),
    frozenset({"CUSTOM_Y"}),
    frozenset(),
)
CLASSES = ("FPGA", "CUSTOM_VF")
FUNCTIONS = (None, "f1", "f2")


# Hypothesis starts from (and shrinks towards) the first element of sampled_from, and repeated values
# weight the rest: both lean towards feasible instances, so most examples have candidates to check.
@st.composite
def providers(draw: st.DrawFn, hostname: str, index: int) -> Provider:
    inventories = {
        rc: Inventory(
            total=draw(st.sampled_from((2, 1, 3, 4, 0))),
            reserved=draw(st.sampled_from((0, 0, 0, 0, 1))),
            max_unit=draw(st.sampled_from((None, None, 2, 1))),
            used=draw(st.sampled_from((0, 0, 0, 0, 1, 2))),
        )
        for rc in draw(st.sampled_from((("FPGA",), ("CUSTOM_VF",), CLASSES, CLASSES)))
    }
    return Provider(
        uuid=f"{hostname}-p{index}",
        host=hostname,
        device_uuid=f"{hostname}-d{index}",
        deployable_uuid=f"{hostname}-e{index}",
        inventories=inventories,
        traits=draw(st.sampled_from(PROVIDER_TRAITS)),
        numa_node=draw(st.sampled_from((1, 0))),
        function_id=draw(st.sampled_from(FUNCTIONS)),
        usable=draw(st.sampled_from((True, True, True, False))),
    )


@st.composite
def hosts(draw: st.DrawFn) -> list[Host]:
    out = []
    for h in range(draw(st.integers(1, 3))):
        name = f"h{h}"
        count = draw(st.sampled_from((4, 3, 2, 0)))
        members = tuple(draw(providers(name, i)) for i in range(count))
        out.append(Host(name, members, lost=draw(st.sampled_from((False,) * 5 + (True,)))))
    return out


@st.composite
def requests(draw: st.DrawFn) -> Request:
    groups = []
    for g in range(draw(st.integers(1, 3))):
        required = draw(st.sampled_from((set(), set(), {"CUSTOM_X"}, {"CUSTOM_Y"})))
        forbidden = draw(st.sampled_from((set(), set(), set(), {"CUSTOM_X"}))) - required
        rcs = draw(st.sampled_from((("FPGA",), ("CUSTOM_VF",), ("FPGA",), ("CUSTOM_VF",), CLASSES)))
        resources = {rc: draw(st.sampled_from((1, 1, 2))) for rc in rcs}
        groups.append(
            RequestGroup(
                g, resources, frozenset(required), frozenset(forbidden), draw(st.sampled_from(FUNCTIONS))
            )
        )
    return Request(
        tuple(groups),
        draw(st.sampled_from(("isolate", "none"))),
        draw(st.sampled_from(("prefer", "require", "ignore"))),
    )


def is_valid(request: Request, mapping: list[Provider]) -> bool:
    if request.group_policy == "isolate" and len({p.uuid for p in mapping}) != len(mapping):
        return False
    demand: Counter[tuple[str, str]] = Counter()
    for group, provider in zip(request.groups, mapping, strict=True):
        if not provider.usable or not group.required_traits <= provider.traits:
            return False
        if group.forbidden_traits & provider.traits:
            return False
        for rc, amount in group.resources.items():
            inventory = provider.inventories.get(rc)
            if inventory is None or amount > inventory.largest_unit:
                return False
            demand[provider.uuid, rc] += amount
    by_uuid = {p.uuid: p for p in mapping}
    return all(by_uuid[uuid].inventories[rc].free >= total for (uuid, rc), total in demand.items())


def brute_force_best(host: Host, request: Request) -> tuple[int, bool] | None:
    if host.lost:
        return None
    best: tuple[int, bool] | None = None
    for mapping in itertools.product(host.providers, repeat=len(request.groups)):
        if not is_valid(request, list(mapping)):
            continue
        local = len({p.numa_node for p in mapping}) == 1
        if request.numa == "require" and not local:
            continue
        programmed = sum(
            g.is_held_by(p.function_id, p.bitstream_id) for g, p in zip(request.groups, mapping, strict=True)
        )
        key = (programmed, local and request.numa != "ignore")
        if best is None or key > best:
            best = key
    return best


def check_candidate(fleet: list[Host], request: Request, candidate: Candidate) -> None:
    host = next(h for h in fleet if h.name == candidate.hostname)
    assert not host.lost
    by_uuid = {p.uuid: p for p in host.providers}
    assert [g.group_id for g in candidate.groups] == [g.group_id for g in request.groups]
    mapping = [by_uuid[g.provider_uuid] for g in candidate.groups]
    for allocation, provider in zip(candidate.groups, mapping, strict=True):
        assert (allocation.device_uuid, allocation.deployable_uuid) == (
            provider.device_uuid,
            provider.deployable_uuid,
        )
    assert is_valid(request, mapping)
    if request.numa == "require":
        assert len({p.numa_node for p in mapping}) == 1


@settings(max_examples=1000, deadline=None)
@given(fleet=hosts(), request=requests(), policy=st.sampled_from(list(Policy)))
def test_candidates_are_valid_and_match_brute_force(
    fleet: list[Host], request: Request, policy: Policy
) -> None:
    found = find_candidates(fleet, request, policy=policy)
    for candidate in found:
        check_candidate(fleet, request, candidate)
    expected = {h.name: best for h in fleet if (best := brute_force_best(h, request)) is not None}
    assert {c.hostname for c in found} == set(expected)
    for candidate in found:
        local = candidate.numa_local and request.numa != "ignore"
        assert (candidate.programmed_groups, local) == expected[candidate.hostname]
    keys = [(-c.programmed_groups, -int(c.numa_local)) for c in found]
    if request.numa != "ignore":
        assert keys == sorted(keys)
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)

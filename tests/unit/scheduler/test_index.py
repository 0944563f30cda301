"""ProviderIndex: same answers as the one-shot search, and updates take effect immediately."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.scheduler.candidates import find_candidates
from accord.scheduler.index import ProviderIndex
from accord.scheduler.model import Host, Policy, Request
from tests.unit.scheduler.builders import device, group, host, identical_host, request


def fleet() -> list[Host]:
    return [
        identical_host("a", 4),
        identical_host("b", 4),
        host("c", device("c", "d0", function="fn"), device("c", "d1", numa=1)),
        host("d", device("d", "d0", used=1), device("d", "d1"), device("d", "d2")),
    ]


def test_index_answers_like_the_one_shot_search() -> None:
    hosts = fleet()
    index = ProviderIndex(hosts)
    for req in (
        request(group(0)),
        request(group(0, function="fn"), group(1)),
        request(*(group(i) for i in range(4))),
    ):
        for policy in Policy:
            for limit in (None, 1, 2):
                assert index.find_candidates(req, limit, policy) == find_candidates(hosts, req, limit, policy)


def test_hosts_of_one_shape_share_a_bucket() -> None:
    index = ProviderIndex([identical_host(f"h{i}", 8) for i in range(50)])
    assert len(index) == 50
    assert index.shape_count == 1


def test_upsert_replaces_a_hosts_state() -> None:
    index = ProviderIndex([identical_host("a", 2)])
    assert [c.hostname for c in index.find_candidates(request(group(0), group(1)))] == ["a"]
    index.upsert_host(host("a", device("a", "d0"), device("a", "d1", used=1)))
    assert index.find_candidates(request(group(0), group(1))) == []
    assert [c.groups[0].provider_uuid for c in index.find_candidates(request(group(0)))] == ["rp-a-d0"]


def test_a_host_marked_lost_or_removed_is_no_longer_offered() -> None:
    index = ProviderIndex([identical_host("a", 1), identical_host("b", 1)])
    index.upsert_host(host("a", device("a", "d0"), lost=True))
    assert "a" in index
    assert [c.hostname for c in index.find_candidates(request(group(0)))] == ["b"]
    index.remove_host("b")
    assert "b" not in index
    assert index.find_candidates(request(group(0))) == []
    assert index.shape_count == 0
    index.remove_host("never-there")


@st.composite
def counter_hosts(draw: st.DrawFn, name: str) -> Host:
    """A host of vGPU-like counters: many distinct free totals, so the capacity levels matter."""
    devices = [
        device(
            name,
            f"d{i}",
            draw(st.sampled_from(("VGPU", "VGPU", "FPGA"))),
            total=4,
            used=draw(st.integers(0, 4)),
            max_unit=draw(st.sampled_from((None, None, 1))),
            traits=draw(st.sampled_from((frozenset(), frozenset({"CUSTOM_X"})))),
            numa=draw(st.sampled_from((0, 1))),
            function=draw(st.sampled_from((None, None, "fn"))),
            usable=draw(st.sampled_from((True, True, True, False))),
        )
        for i in range(draw(st.integers(1, 4)))
    ]
    return host(name, *devices, lost=draw(st.sampled_from((False,) * 9 + (True,))))


@st.composite
def counter_requests(draw: st.DrawFn) -> Request:
    classes = draw(st.sampled_from((("VGPU",), ("VGPU",), ("FPGA",), ("VGPU", "FPGA"))))
    groups = [
        group(
            g,
            draw(st.sampled_from(classes)),
            draw(st.integers(1, 3)),
            required=draw(st.sampled_from((None, None, {"CUSTOM_X"}))),
            function=draw(st.sampled_from((None, "fn", "other"))),
        )
        for g in range(draw(st.integers(1, 3)))
    ]
    return request(
        *groups,
        policy=draw(st.sampled_from(("isolate", "none"))),
        numa=draw(st.sampled_from(("prefer", "require", "ignore"))),
    )


@settings(max_examples=300, deadline=None)
@given(data=st.data(), req=counter_requests(), policy=st.sampled_from(list(Policy)))
def test_the_capacity_levels_end_the_scan_on_the_full_scans_answer(
    data: st.DataObject, req: Request, policy: Policy
) -> None:
    hosts = [data.draw(counter_hosts(f"h{i:02d}")) for i in range(data.draw(st.integers(1, 12)))]
    index = ProviderIndex(hosts)
    for limit in (1, 2, 3, 5, None):
        assert index.find_candidates(req, limit, policy) == find_candidates(hosts, req, limit, policy)
    # The levels follow updates: hosts change state or go away, and the answers still agree.
    changed = [data.draw(counter_hosts(h.name)) for h in hosts[: len(hosts) // 2]]
    for new in changed:
        index.upsert_host(new)
    index.remove_host(hosts[-1].name)
    now = {h.name: h for h in hosts[:-1]} | {h.name: h for h in changed}
    for limit in (1, 3, None):
        assert index.find_candidates(req, limit, policy) == find_candidates(
            list(now.values()), req, limit, policy
        )

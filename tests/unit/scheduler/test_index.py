"""ProviderIndex: same answers as the one-shot search, and updates take effect immediately."""

from __future__ import annotations

from accord.scheduler.candidates import find_candidates
from accord.scheduler.index import ProviderIndex
from accord.scheduler.model import Host, Policy
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

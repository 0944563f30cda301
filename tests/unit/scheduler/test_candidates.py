"""Candidate search behaviour: filters, group policies, ranking and the identical-devices case."""

from __future__ import annotations

import pytest

from accord.scheduler.candidates import find_candidates
from accord.scheduler.model import Host, Inventory, Policy, Provider, Request, RequestGroup
from tests.unit.scheduler.builders import device, group, host, identical_host, request


def providers_of(hosts: list[Host], hostname: str, uuids: list[str]) -> list[Provider]:
    by_uuid = {p.uuid: p for h in hosts if h.name == hostname for p in h.providers}
    return [by_uuid[u] for u in uuids]


def test_required_trait_selects_only_providers_that_have_it() -> None:
    hosts = [
        host("a", device("a", "plain")),
        host("b", device("b", "intel", traits={"CUSTOM_FPGA_INTEL"})),
    ]
    found = find_candidates(hosts, request(group(0, required={"CUSTOM_FPGA_INTEL"})))
    assert [c.hostname for c in found] == ["b"]
    assert found[0].groups[0].provider_uuid == "rp-b-intel"


def test_forbidden_trait_excludes_providers_that_have_it() -> None:
    hosts = [host("a", device("a", "x", traits={"CUSTOM_X"}), device("a", "y", traits={"CUSTOM_Y"}))]
    found = find_candidates(hosts, request(group(0, forbidden={"CUSTOM_X"})))
    assert [g.provider_uuid for g in found[0].groups] == ["rp-a-y"]


def test_isolate_puts_groups_on_different_providers() -> None:
    hosts = [host("a", device("a", "big", "CUSTOM_VF", 4))]
    two_groups = (group(0, "CUSTOM_VF", 1), group(1, "CUSTOM_VF", 1))
    assert find_candidates(hosts, request(*two_groups, policy="isolate")) == []
    shared = find_candidates(hosts, request(*two_groups, policy="none"))
    assert [g.provider_uuid for g in shared[0].groups] == ["rp-a-big", "rp-a-big"]


def test_none_policy_never_exceeds_a_shared_providers_capacity() -> None:
    hosts = [host("a", device("a", "big", "CUSTOM_VF", 3))]
    assert (
        find_candidates(hosts, request(group(0, "CUSTOM_VF", 2), group(1, "CUSTOM_VF", 2), policy="none"))
        == []
    )


def test_none_policy_packs_groups_when_fresh_providers_run_out() -> None:
    # Two providers of 2 VFs each; three groups (2, 1, 1) fit only if the 1s share.
    hosts = [host("a", device("a", "p", "CUSTOM_VF", 2), device("a", "q", "CUSTOM_VF", 2))]
    req = request(group(0, "CUSTOM_VF", 2), group(1, "CUSTOM_VF", 1), group(2, "CUSTOM_VF", 1), policy="none")
    found = find_candidates(hosts, req)
    uuids = [g.provider_uuid for g in found[0].groups]
    assert uuids[1] == uuids[2] != uuids[0]
    assert find_candidates(hosts, request(*req.groups, policy="isolate")) == []


def test_all_groups_must_fit_on_one_host() -> None:
    hosts = [host("a", device("a", "d0")), host("b", device("b", "d0"))]
    assert find_candidates(hosts, request(group(0), group(1))) == []


def test_multiple_groups_of_different_kinds_on_one_host() -> None:
    hosts = [
        host("gpu-only", device("gpu-only", "g", "GPU")),
        host("both", device("both", "g", "GPU"), device("both", "f", "FPGA")),
    ]
    found = find_candidates(hosts, request(group(0, "GPU"), group(1, "FPGA")))
    assert [c.hostname for c in found] == ["both"]
    assert {(g.group_id, g.provider_uuid) for g in found[0].groups} == {(0, "rp-both-g"), (1, "rp-both-f")}


def test_a_group_with_several_resource_classes_takes_them_from_one_provider() -> None:
    split = host(
        "split",
        Provider("s1", "split", "d1", "e1", {"FPGA": Inventory(1)}),
        Provider("s2", "split", "d2", "e2", {"CUSTOM_MEM": Inventory(4)}),
    )
    whole = host(
        "whole", Provider("w", "whole", "d", "e", {"FPGA": Inventory(1), "CUSTOM_MEM": Inventory(4)})
    )
    req = Request((RequestGroup(0, {"FPGA": 1, "CUSTOM_MEM": 2}),))
    assert [c.hostname for c in find_candidates([split, whole], req)] == ["whole"]


def test_reserved_and_used_capacity_are_not_offered() -> None:
    hosts = [
        host("reserved", device("reserved", "d", "CUSTOM_VF", 4, reserved=3)),
        host("used", device("used", "d", "CUSTOM_VF", 4, used=2)),
    ]
    assert [c.hostname for c in find_candidates(hosts, request(group(0, "CUSTOM_VF", 2)))] == ["used"]
    assert find_candidates(hosts, request(group(0, "CUSTOM_VF", 3))) == []


def test_max_unit_caps_one_groups_amount() -> None:
    hosts = [host("a", device("a", "d", "CUSTOM_VF", 8, max_unit=2))]
    assert find_candidates(hosts, request(group(0, "CUSTOM_VF", 2)))
    assert find_candidates(hosts, request(group(0, "CUSTOM_VF", 3))) == []


def test_disabled_unhealthy_and_lost_offer_nothing() -> None:
    hosts = [
        host("disabled", device("disabled", "d", usable=False)),
        host("lost", device("lost", "d"), lost=True),
        host("ok", device("ok", "d")),
    ]
    assert [c.hostname for c in find_candidates(hosts, request(group(0)))] == ["ok"]


def test_prefers_a_provider_already_holding_the_function() -> None:
    hosts = [
        host("blank", device("blank", "d")),
        host("other", device("other", "d", function="fn-other")),
        host("holds", device("holds", "d", function="fn-aes")),
    ]
    found = find_candidates(hosts, request(group(0, function="fn-aes")))
    assert [c.hostname for c in found] == ["holds", "blank", "other"]
    assert found[0].programmed_groups == 1 and found[1].programmed_groups == 0
    assert found[0].score > found[1].score


def test_within_a_host_the_programmed_provider_is_chosen() -> None:
    hosts = [host("a", device("a", "d0"), device("a", "d1", function="fn"), device("a", "d2"))]
    found = find_candidates(hosts, request(group(0, function="fn"), group(1)))
    assert dict((g.group_id, g.provider_uuid) for g in found[0].groups)[0] == "rp-a-d1"


def test_programmed_outranks_numa_locality() -> None:
    split_programmed = host(
        "split", device("split", "x", numa=0, function="fn"), device("split", "y", numa=1)
    )
    local_blank = host("local", device("local", "x", numa=0), device("local", "y", numa=0))
    found = find_candidates([local_blank, split_programmed], request(group(0, function="fn"), group(1)))
    assert [c.hostname for c in found] == ["split", "local"]
    assert not found[0].numa_local and found[1].numa_local


def test_numa_preference_picks_one_node_on_a_host_and_ranks_local_hosts_first() -> None:
    mixed = host(
        "mixed", device("mixed", "a", numa=0), device("mixed", "b", numa=1), device("mixed", "c", numa=1)
    )
    spread = host("spread", device("spread", "a", numa=0), device("spread", "b", numa=1))
    found = find_candidates([spread, mixed], request(group(0), group(1)))
    assert [c.hostname for c in found] == ["mixed", "spread"]
    assert found[0].numa_local
    assert {g.provider_uuid for g in found[0].groups} == {"rp-mixed-b", "rp-mixed-c"}


def test_numa_require_drops_hosts_that_cannot_stay_on_one_node() -> None:
    spread = host("spread", device("spread", "a", numa=0), device("spread", "b", numa=1))
    assert find_candidates([spread], request(group(0), group(1), numa="require")) == []
    assert find_candidates([spread], request(group(0), group(1), numa="ignore"))


def test_pack_prefers_fullest_host_and_spread_the_emptiest() -> None:
    hosts = [identical_host("empty", 4), host("full", device("full", "d0"), device("full", "d1", used=1))]
    req = request(group(0))
    assert [c.hostname for c in find_candidates(hosts, req, policy=Policy.PACK)] == ["full", "empty"]
    assert [c.hostname for c in find_candidates(hosts, req, policy=Policy.SPREAD)] == ["empty", "full"]


def test_pack_and_spread_choose_the_provider_inside_a_host() -> None:
    hosts = [host("a", device("a", "small", "CUSTOM_VF", 2), device("a", "large", "CUSTOM_VF", 8))]
    req = request(group(0, "CUSTOM_VF", 2))
    assert find_candidates(hosts, req, policy=Policy.PACK)[0].groups[0].provider_uuid == "rp-a-small"
    assert find_candidates(hosts, req, policy=Policy.SPREAD)[0].groups[0].provider_uuid == "rp-a-large"


def test_limit_keeps_the_best_and_ties_break_by_host_name() -> None:
    hosts = [identical_host(name, 2) for name in ("h3", "h1", "h2", "h0")]
    found = find_candidates(hosts, request(group(0)), limit=2)
    assert [c.hostname for c in found] == ["h0", "h1"]
    assert len(find_candidates(hosts, request(group(0)))) == 4


def test_eight_identical_devices_and_eight_groups_use_every_device_once() -> None:
    hosts = [identical_host("big", 8)]
    req = request(*(group(i) for i in range(8)))
    found = find_candidates(hosts, req)
    assert len(found) == 1
    assert sorted(g.group_id for g in found[0].groups) == list(range(8))
    assert len({g.provider_uuid for g in found[0].groups}) == 8
    assert find_candidates(hosts, request(*(group(i) for i in range(9)))) == []


def test_finds_the_assignment_a_first_fit_greedy_would_miss() -> None:
    # Listed first and fitting group 0, "both" is what first-fit hands to group 0; then group 1 (needs X,
    # and "x" is used) has nothing left. The only valid answer: 0→plain, 1→both, 2→y.
    hosts = [
        host(
            "a",
            device("a", "both", traits={"CUSTOM_X", "CUSTOM_Y"}),
            device("a", "x", traits={"CUSTOM_X"}, used=1),
            device("a", "y", traits={"CUSTOM_Y"}),
            device("a", "plain"),
        )
    ]
    req = request(
        group(0, forbidden={"CUSTOM_Z"}), group(1, required={"CUSTOM_X"}), group(2, required={"CUSTOM_Y"})
    )
    found = find_candidates(hosts, req)
    chosen = dict((g.group_id, g.provider_uuid) for g in found[0].groups)
    assert chosen == {0: "rp-a-plain", 1: "rp-a-both", 2: "rp-a-y"}


def test_tightest_first_greedy_is_not_enough_either() -> None:
    # Every group has exactly two options, so ordering by tightness gives no hint, and first-fit
    # hands "ab" to group 0; groups 1 and 2 then compete for "b" alone. Valid: 0→a, {1, 2}→{ab, b}.
    hosts = [
        host(
            "h",
            device("h", "ab", traits={"CUSTOM_A", "CUSTOM_B"}),
            device("h", "a", traits={"CUSTOM_A"}),
            device("h", "b", traits={"CUSTOM_B"}),
        )
    ]
    req = request(
        group(0, required={"CUSTOM_A"}), group(1, required={"CUSTOM_B"}), group(2, required={"CUSTOM_B"})
    )
    found = find_candidates(hosts, req)
    assert len(found) == 1
    providers = providers_of(hosts, "h", [g.provider_uuid for g in found[0].groups])
    assert providers[0].uuid == "rp-h-a"
    assert {p.uuid for p in providers[1:]} == {"rp-h-ab", "rp-h-b"}
    for g, p in zip(req.groups, providers, strict=True):
        assert g.required_traits <= p.traits


def test_no_candidate_when_impossible() -> None:
    hosts = [identical_host("a", 2, traits={"CUSTOM_X"})]
    assert find_candidates(hosts, request(group(0, forbidden={"CUSTOM_X"}))) == []
    assert find_candidates(hosts, request(group(0, amount=2))) == []
    assert find_candidates([], request(group(0))) == []


def test_none_policy_shares_a_programmed_provider_rather_than_reprogramming() -> None:
    hosts = [
        host(
            "a",
            device("a", "aes", "CUSTOM_VF", 2, function="fn-aes"),
            device("a", "blank", "CUSTOM_VF", 2),
        )
    ]
    two = (group(0, "CUSTOM_VF", function="fn-aes"), group(1, "CUSTOM_VF", function="fn-aes"))
    shared = find_candidates(hosts, request(*two, policy="none"))
    assert [g.provider_uuid for g in shared[0].groups] == ["rp-a-aes", "rp-a-aes"]
    assert shared[0].programmed_groups == 2
    isolated = find_candidates(hosts, request(*two, policy="isolate"))
    assert {g.provider_uuid for g in isolated[0].groups} == {"rp-a-aes", "rp-a-blank"}
    assert isolated[0].programmed_groups == 1


def test_devices_differing_only_in_what_the_request_ignores_are_all_usable() -> None:
    # gzip-loaded, blank and vendor-tagged devices look alike to this request; all three are needed.
    hosts = [
        host(
            "a",
            device("a", "gzip", function="fn-gzip"),
            device("a", "blank"),
            device("a", "tagged", traits={"CUSTOM_VENDOR"}, numa=0),
        )
    ]
    found = find_candidates(hosts, request(group(0), group(1), group(2)))
    assert {g.provider_uuid for g in found[0].groups} == {"rp-a-gzip", "rp-a-blank", "rp-a-tagged"}


def test_an_empty_request_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one group"):
        find_candidates([identical_host("a", 1)], Request(()))

"""resource.k8s.io/v1's limits, each kept by the DRA export whatever the inventory: 128 devices
per slice, 64 when taints or counters are used, 32 attributes and capacities per device, 8
counter sets per slice, DNS-label and DNS-subdomain names; and every list round-trips through
the official client's models."""

from __future__ import annotations

import re
from typing import Any

import kubernetes.client as k8s

from accord.domain.dra import DraPool, DraUnit, dns_label, resource_slices

DRIVER = "accelerators.accord"
LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def unit(i: int, counters: bool = False, taint: bool = False, attributes: int = 3) -> DraUnit:
    return DraUnit(
        name_hint=f"0000:3b:00.0-nvidia-222-{i}",
        attributes={f"attr{j}": j for j in range(attributes)},
        consumes={"gpu-0000:3b:00.0": {"framebuffer": "1024Mi"}} if counters else {},
        taints=(("accord/disabled", "true", "NoSchedule"),) if taint else (),
    )


def export(units: list[DraUnit], counter_sets: int = 0, host: str = "host-a") -> dict[str, Any]:
    sets = {f"gpu-0000:{i:02x}:00.0": {"framebuffer": "16384Mi"} for i in range(counter_sets)}
    document = resource_slices(DraPool(host, 3, sets, units), DRIVER)
    parsed = k8s.V1ResourceSliceList.from_dict(document)
    assert k8s.ApiClient().sanitize_for_serialization(parsed) == document
    return document


def sizes(document: dict[str, Any]) -> list[int]:
    return [len(item["spec"]["devices"]) for item in document["items"] if "devices" in item["spec"]]


def test_at_most_128_devices_per_slice() -> None:
    document = export([unit(i) for i in range(300)])
    assert sizes(document) == [128, 128, 44]
    assert {item["spec"]["pool"]["resourceSliceCount"] for item in document["items"]} == {3}


def test_at_most_64_devices_per_slice_with_counters_or_taints() -> None:
    assert sizes(export([unit(i, counters=True) for i in range(130)], counter_sets=1)) == [64, 64, 2]
    assert sizes(export([unit(i, taint=True) for i in range(65)])) == [64, 1]
    # Plain devices are not held to the lower limit because others have taints.
    assert sizes(export([unit(i, taint=i < 10) for i in range(138)])) == [10, 128]


def test_at_most_8_counter_sets_per_slice_and_never_beside_devices() -> None:
    document = export([unit(0, counters=True)], counter_sets=20)
    counter_slices = [item["spec"] for item in document["items"] if "sharedCounters" in item["spec"]]
    assert [len(s["sharedCounters"]) for s in counter_slices] == [8, 8, 4]
    assert all("devices" not in s for s in counter_slices)


def test_at_most_32_attributes_and_capacities_per_device() -> None:
    crowded = DraUnit(
        name_hint="x", attributes={f"a{i}": i for i in range(40)}, capacity={"memory": "1Gi", "slots": "4"}
    )
    [device] = export([crowded])["items"][0]["spec"]["devices"]
    assert len(device["attributes"]) + len(device["capacity"]) == 32


def test_attribute_names_and_values_stay_within_v1() -> None:
    odd = DraUnit(
        name_hint="y",
        attributes={"ok": "v" * 100, "has-dash": 1, "x" * 33: 2, "1starts_with_digit": 3},
    )
    [device] = export([odd])["items"][0]["spec"]["devices"]
    assert device["attributes"] == {"ok": {"string": "v" * 64}}


def test_names_are_dns_labels_and_subdomains_even_from_long_or_odd_input() -> None:
    long_hint = "0000:3b:00.0-" + "Very_Long-Type.Name" * 8
    assert LABEL.match(dns_label(long_hint)) and len(dns_label(long_hint)) == 63
    assert dns_label(long_hint) != dns_label(long_hint + "2")  # cut names stay distinct
    document = export(
        [unit(i) for i in range(3)] + [DraUnit(long_hint, {})], counter_sets=2, host="Node_1.Rack-A"
    )
    for item in document["items"]:
        assert SUBDOMAIN.match(item["metadata"]["name"]), item["metadata"]["name"]
        assert SUBDOMAIN.match(item["spec"]["pool"]["name"])
        for device in item["spec"].get("devices", []):
            assert LABEL.match(device["name"]), device["name"]
        for counter_set in item["spec"].get("sharedCounters", []):
            assert LABEL.match(counter_set["name"])
    names = [d["name"] for item in document["items"] for d in item["spec"].get("devices", [])]
    assert len(names) == len(set(names))


def test_an_empty_host_is_one_empty_slice() -> None:
    document = export([])
    assert [item["spec"]["devices"] for item in document["items"]] == [[]]

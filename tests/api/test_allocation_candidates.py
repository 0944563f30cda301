"""Accord's own scheduler over HTTP: ranked candidates, and host-less binds that place for you."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from tests.api.conftest import MEMBER, NOVA, Api
from tests.scenarios import fpga_host_snapshot

FUNCTION = "d8424dc4-a4a9-44ea-9f44-16e7d4a8d6fb"


@pytest.fixture
def fleet(api: Api) -> dict[str, Any]:
    """host-a: 2 FPGAs with 2 VFs each; host-b: 1 FPGA with 4 VFs already holding FUNCTION."""
    api.post("/v2/hosts/host-a/inventory", json=fpga_host_snapshot("host-a", vfs=2, devices=2))
    b = copy.deepcopy(fpga_host_snapshot("host-b", vfs=4))
    b["devices"][0]["deployables"][0]["function_id"] = FUNCTION
    api.post("/v2/hosts/host-b/inventory", json=b)
    api.post("/v2/device_profiles", json=[{"name": "one", "groups": [{"resources:FPGA": "1"}]}])
    api.post(
        "/v2/device_profiles",
        json=[{"name": "two", "groups": [{"resources:FPGA": "1"}, {"resources:FPGA": "1"}]}],
    )
    api.post("/v2/device_profiles", json=[{"name": "gpu", "groups": [{"resources:GPU": "1"}]}])
    deps = {d["name"]: d for d in api.get("/v2/deployables").json()["deployables"]}
    return {"deployables": deps}


def test_candidates_are_ranked_and_shaped(api: Api, fleet: dict[str, Any]) -> None:
    r = api.get("/v2/allocation_candidates?device_profile=one")
    assert r.status_code == 200
    found = r.json()["allocation_candidates"]
    assert {c["hostname"] for c in found} == {"host-a", "host-b"}
    first = found[0]
    [group] = first["groups"]
    assert set(group) == {"group_id", "device_uuid", "deployable_uuid", "device_rp_uuid"}
    assert group["device_rp_uuid"] in {d["rp_uuid"] for d in fleet["deployables"].values()}
    assert [c["score"] for c in found] == sorted((c["score"] for c in found), reverse=True)
    assert (
        len(api.get("/v2/allocation_candidates?device_profile=one&limit=1").json()["allocation_candidates"])
        == 1
    )
    assert api.get("/v2/allocation_candidates?device_profile=gpu").json() == {"allocation_candidates": []}


def test_prefers_a_region_already_holding_the_function(api: Api, fleet: dict[str, Any]) -> None:
    api.post(
        "/v2/device_profiles",
        json=[{"name": "fn", "groups": [{"resources:FPGA": "1", "accel:function_id": FUNCTION}]}],
    )
    found = api.get("/v2/allocation_candidates?device_profile=fn").json()["allocation_candidates"]
    assert found[0]["hostname"] == "host-b"


def test_disabled_devices_offer_nothing(api: Api, fleet: dict[str, Any]) -> None:
    device = fleet["deployables"]["host-b_0000:5e:00.0"]["device_id"]
    api.post(f"/v2/devices/{device}/disable")
    found = api.get("/v2/allocation_candidates?device_profile=one").json()["allocation_candidates"]
    assert {c["hostname"] for c in found} == {"host-a"}


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 400),
        ("?device_profile=nope", 404),
        ("?device_profile=one&limit=0", 400),
        ("?device_profile=one&limit=x", 400),
    ],
)
def test_bad_queries(api: Api, fleet: dict[str, Any], query: str, status: int) -> None:
    r = api.get(f"/v2/allocation_candidates{query}")
    assert r.status_code == status
    assert r.json()["error_message"]


def test_members_cannot_see_candidates(api: Api, fleet: dict[str, Any]) -> None:
    assert api.as_(MEMBER).get("/v2/allocation_candidates?device_profile=one").status_code == 403


def hostless_bind(api: Api, arqs: list[str], vm: str) -> Any:
    body = {a: [{"op": "add", "path": "/instance_uuid", "value": vm}] for a in arqs}
    return api.as_(NOVA).patch("/v2/accelerator_requests", json=body)


def test_hostless_bind_places_all_groups_on_one_host(api: Api, fleet: dict[str, Any]) -> None:
    arqs = [
        a["uuid"]
        for a in api.as_(MEMBER)
        .post("/v2/accelerator_requests", json={"device_profile_name": "two"})
        .json()["arqs"]
    ]
    assert hostless_bind(api, arqs, str(uuid.uuid4())).status_code == 202
    bound = [api.get(f"/v2/accelerator_requests/{a}").json() for a in arqs]
    assert [b["state"] for b in bound] == ["Bound", "Bound"]
    assert len({b["hostname"] for b in bound}) == 1
    assert len({b["attach_handle_uuid"] for b in bound}) == 2


def test_hostless_bind_with_no_room_is_409_and_stores_nothing(api: Api, fleet: dict[str, Any]) -> None:
    arq = (
        api.as_(MEMBER)
        .post("/v2/accelerator_requests", json={"device_profile_name": "gpu"})
        .json()["arqs"][0]["uuid"]
    )
    r = hostless_bind(api, [arq], str(uuid.uuid4()))
    assert r.status_code == 409
    assert "No host has room" in r.json()["error_message"]
    after = api.get(f"/v2/accelerator_requests/{arq}").json()
    assert (after["state"], after["hostname"]) == ("Initial", None)


def test_hostless_binds_fill_the_fleet_exactly(api: Api, fleet: dict[str, Any]) -> None:
    """8 handles in all: 8 single binds succeed, the 9th gets a clear 409."""
    results = []
    for _ in range(9):
        arq = (
            api.as_(MEMBER)
            .post("/v2/accelerator_requests", json={"device_profile_name": "one"})
            .json()["arqs"][0]["uuid"]
        )
        results.append(hostless_bind(api, [arq], str(uuid.uuid4())).status_code)
    assert results == [202] * 8 + [409]
    arqs = api.get("/v2/accelerator_requests").json()["arqs"]
    handles = [a["attach_handle_uuid"] for a in arqs if a["state"] == "Bound"]
    assert len(handles) == len(set(handles)) == 8

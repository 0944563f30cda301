"""/v2/device_profiles as HTTP transcripts: create, list, get, delete, and every grammar rule."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import MEMBER, READER, Api

GROUP = {"resources:FPGA": "1", "trait:CUSTOM_FPGA_INTEL": "required", "accel:function_id": "f00d"}


def post(api: Api, item: Any) -> Any:
    return api.post("/v2/device_profiles", json=[item] if isinstance(item, dict) else item)


def test_create_returns_unwrapped_profile(api: Api) -> None:
    r = post(api, {"name": "dp1", "description": "one fpga", "groups": [GROUP]})
    assert r.status_code == 201
    body = r.json()
    assert body["name"] == "dp1"
    assert body["description"] == "one fpga"
    assert body["groups"] == [GROUP]
    assert body["links"] == [{"href": f"http://accord.test/v2/device_profiles/{body['uuid']}", "rel": "self"}]
    assert body["created_at"].endswith("+00:00")
    assert body["updated_at"] is None


def test_create_strips_whitespace_in_key_suffixes(api: Api) -> None:
    r = post(api, {"name": "dp1", "groups": [{"resources: FPGA ": "2"}]})
    assert r.status_code == 201
    assert r.json()["groups"] == [{"resources:FPGA": "2"}]


def test_create_with_given_uuid(api: Api) -> None:
    uuid = "8f6a1f0e-1c55-4f5b-9a0f-3a3c1e3d2b10"
    r = post(api, {"name": "dp1", "uuid": uuid.upper(), "groups": [GROUP]})
    assert r.status_code == 201
    assert r.json()["uuid"] == uuid


def test_list_filters_by_names(api: Api) -> None:
    for name in ("a", "b", "c"):
        assert post(api, {"name": name, "groups": [GROUP]}).status_code == 201
    r = api.get("/v2/device_profiles?name=a,c")
    assert r.status_code == 200
    assert [p["name"] for p in r.json()["device_profiles"]] == ["a", "c"]
    assert [p["name"] for p in api.get("/v2/device_profiles").json()["device_profiles"]] == ["a", "b", "c"]


def test_get_by_uuid_is_wrapped(api: Api) -> None:
    created = post(api, {"name": "dp1", "groups": [GROUP]}).json()
    r = api.get(f"/v2/device_profiles/{created['uuid']}")
    assert r.status_code == 200
    assert r.json() == {"device_profile": created}


def test_get_by_name_needs_2_2(api: Api) -> None:
    post(api, {"name": "dp1", "groups": [GROUP]})
    assert api.get("/v2/device_profiles/dp1").status_code == 406
    r = api.get("/v2/device_profiles/dp1", headers={"OpenStack-API-Version": "accelerator 2.2"})
    assert r.status_code == 200
    assert r.json()["device_profile"]["name"] == "dp1"


def test_get_unknown_is_404(api: Api) -> None:
    r = api.get("/v2/device_profiles/6a4c1c66-5c5e-4a43-8d86-6a3ad05c3d4b")
    assert r.status_code == 404
    assert "could not be found" in r.json()["error_message"]


@pytest.mark.parametrize("how", ["uuid", "name", "value"])
def test_delete_by_uuid_name_or_value(api: Api, how: str) -> None:
    created = post(api, {"name": "dp1", "groups": [GROUP]}).json()
    post(api, {"name": "keep", "groups": [GROUP]})
    path = {
        "uuid": f"/v2/device_profiles/{created['uuid']}",
        "name": "/v2/device_profiles/dp1",
        "value": "/v2/device_profiles?value=dp1",
    }[how]
    assert api.delete(path).status_code == 204
    assert [p["name"] for p in api.get("/v2/device_profiles").json()["device_profiles"]] == ["keep"]


def test_delete_many_is_all_or_nothing(api: Api) -> None:
    post(api, {"name": "a", "groups": [GROUP]})
    r = api.delete("/v2/device_profiles?value=a,missing")
    assert r.status_code == 404
    assert [p["name"] for p in api.get("/v2/device_profiles").json()["device_profiles"]] == ["a"]


def test_delete_with_empty_name_is_400(api: Api) -> None:
    r = api.delete("/v2/device_profiles/")
    assert r.status_code == 400
    assert r.json()["error_message"]


def test_delete_profile_in_use_is_409_and_keeps_it(api: Api) -> None:
    post(api, {"name": "dp1", "groups": [GROUP]})
    assert api.post("/v2/accelerator_requests", json={"device_profile_name": "dp1"}).status_code == 201
    r = api.delete("/v2/device_profiles/dp1")
    assert r.status_code == 409
    assert len(api.get("/v2/device_profiles").json()["device_profiles"]) == 1


def test_duplicate_name_is_409(api: Api) -> None:
    assert post(api, {"name": "dp1", "groups": [GROUP]}).status_code == 201
    r = post(api, {"name": "dp1", "groups": [GROUP]})
    assert r.status_code == 409
    assert "already exists" in r.json()["error_message"]


def test_duplicate_uuid_is_409_not_500(api: Api) -> None:
    uuid = "8f6a1f0e-1c55-4f5b-9a0f-3a3c1e3d2b10"
    assert post(api, {"name": "a", "uuid": uuid, "groups": [GROUP]}).status_code == 201
    r = post(api, {"name": "b", "uuid": uuid, "groups": [GROUP]})
    assert r.status_code == 409
    assert uuid in r.json()["error_message"]


BAD_PROFILES = [
    ({"name": "", "groups": [GROUP]}, "empty"),
    ({"name": "x" * 256, "groups": [GROUP]}, "longer than 255"),
    ({"name": "bad name!", "groups": [GROUP]}, "may only contain"),
    ({"name": 7, "groups": [GROUP]}, "must be a string"),
    ({"groups": [GROUP]}, "empty"),
    ({"name": "dp"}, "non-empty 'groups'"),
    ({"name": "dp", "groups": []}, "non-empty 'groups'"),
    ({"name": "dp", "groups": "x"}, "must be a list"),
    ({"name": "dp", "groups": [["x"]]}, "must be an object"),
    ({"name": "dp", "groups": [{"foo:FPGA": "1"}]}, "must start with"),
    ({"name": "dp", "groups": [{"resources:FPGA": "1", "trait:FPGA_INTEL": "required"}]}, "CUSTOM_"),
    (
        {"name": "dp", "groups": [{"resources:FPGA": "1", "trait:CUSTOM_X": "maybe"}]},
        "'required' or 'forbidden'",
    ),
    ({"name": "dp", "groups": [{"resources:FPGA": "0"}]}, "whole number"),
    ({"name": "dp", "groups": [{"resources:FPGA": "-1"}]}, "whole number"),
    ({"name": "dp", "groups": [{"resources:FPGA": "one"}]}, "whole number"),
    ({"name": "dp", "groups": [{"resources:FPGA": 1}]}, "must be a string"),
    ({"name": "dp", "groups": [{"resources:NPU": "1"}]}, "unknown resource class"),
    ({"name": "dp", "groups": [{"trait:CUSTOM_X": "required"}]}, "no resources"),
    ({"name": "dp", "uuid": "not-a-uuid", "groups": [GROUP]}, "not a valid UUID"),
    ({"name": "dp", "groups": [GROUP], "extra": 1}, "Unknown device profile fields"),
    ({"name": "dp", "description": 5, "groups": [GROUP]}, "description"),
]


@pytest.mark.parametrize(("item", "message"), BAD_PROFILES)
def test_bad_profiles_are_400_and_store_nothing(api: Api, item: dict[str, Any], message: str) -> None:
    r = post(api, item)
    assert r.status_code == 400, r.text
    assert message in r.json()["error_message"]
    r = api.get("/v2/device_profiles")
    assert r.status_code == 200
    assert r.json() == {"device_profiles": []}


@pytest.mark.parametrize("body", [[], [{"name": "a", "groups": [GROUP]}] * 2, {"name": "a"}, "x", None])
def test_body_must_be_a_one_element_list(api: Api, body: Any) -> None:
    r = api.post("/v2/device_profiles", json=body)
    assert r.status_code == 400
    assert "exactly one" in r.json()["error_message"]


def test_members_read_but_cannot_create_or_delete(api: Api) -> None:
    post(api, {"name": "dp1", "groups": [GROUP]})
    assert api.as_(READER).get("/v2/device_profiles").status_code == 200
    r = api.as_(MEMBER).post("/v2/device_profiles", json=[{"name": "x", "groups": [GROUP]}])
    assert r.status_code == 403
    assert (
        r.json()["error_message"]
        == "Access was denied to the following resource: cyborg:device_profile:create"
    )
    assert api.as_(MEMBER).delete("/v2/device_profiles/dp1").status_code == 403
    assert api.as_({}).get("/v2/device_profiles").status_code == 401

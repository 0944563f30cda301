"""/v2/quotas: admins set per-project limits by resource class; binds over quota get 403."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.conftest import MEMBER, NOVA, OTHER_MEMBER, Api


def bind(api: Api, arq: str, rp: str, caller: dict[str, str] = NOVA) -> Any:
    body = {
        arq: [
            {"op": "add", "path": "/hostname", "value": "host-a"},
            {"op": "add", "path": "/device_rp_uuid", "value": rp},
            {"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())},
        ]
    }
    return api.as_(caller).patch("/v2/accelerator_requests", json=body)


def new_arq(api: Api, headers: dict[str, str] = MEMBER) -> str:
    return str(
        api.as_(headers)
        .post("/v2/accelerator_requests", json={"device_profile_name": "fpga1"})
        .json()["arqs"][0]["uuid"]
    )


def test_bind_over_quota_is_403_with_the_limit(
    api: Api, one_fpga_host: dict[str, Any], profile: dict[str, Any]
) -> None:
    r = api.request("PUT", "/v2/quotas/p-one/FPGA", json={"limit": 1})
    assert r.status_code == 200
    assert r.json() == {"project_id": "p-one", "resource_class": "FPGA", "limit": 1, "in_use": 0}
    rp = one_fpga_host["rp_uuid"]
    first = new_arq(api)
    assert bind(api, first, rp).status_code == 202
    second = new_arq(api)
    r = bind(api, second, rp)
    assert r.status_code == 403
    assert "over its quota of 1" in r.json()["error_message"]
    assert api.get(f"/v2/accelerator_requests/{second}").json()["state"] == "Initial"
    # Another project is not limited by p-one's quota.
    other_nova = {**OTHER_MEMBER, "X-Service-Roles": "service"}
    assert bind(api, new_arq(api, OTHER_MEMBER), rp, other_nova).status_code == 202
    assert api.get("/v2/quotas?project_id=p-one").json()["quotas"][0]["in_use"] == 1
    # Unbinding gives the room back.
    api.as_(NOVA).delete(f"/v2/accelerator_requests?arqs={first}")
    assert bind(api, second, rp).status_code == 202


def test_projects_read_only_their_own(api: Api) -> None:
    api.request("PUT", "/v2/quotas/p-one/FPGA", json={"limit": 2})
    api.request("PUT", "/v2/quotas/p-two/GPU", json={"limit": 3})
    assert [q["project_id"] for q in api.as_(MEMBER).get("/v2/quotas").json()["quotas"]] == ["p-one"]
    assert api.as_(MEMBER).get("/v2/quotas?project_id=p-two").status_code == 403
    assert len(api.get("/v2/quotas").json()["quotas"]) == 2
    assert api.as_(MEMBER).request("PUT", "/v2/quotas/p-one/FPGA", json={"limit": 9}).status_code == 403


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v2/quotas/p/FPGA", {"limit": -1}),
        ("/v2/quotas/p/FPGA", {"limit": "2"}),
        ("/v2/quotas/p/FPGA", {"limit": 2, "x": 1}),
        ("/v2/quotas/p/NPU", {"limit": 2}),
    ],
)
def test_bad_quota_is_400(api: Api, path: str, body: Any) -> None:
    assert api.request("PUT", path, json=body).status_code == 400
    assert api.get("/v2/quotas").json() == {"quotas": []}


def test_delete_quota(api: Api) -> None:
    api.request("PUT", "/v2/quotas/p/FPGA", json={"limit": 2})
    assert api.delete("/v2/quotas/p/FPGA").status_code == 204
    assert api.delete("/v2/quotas/p/FPGA").status_code == 404

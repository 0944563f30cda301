"""/v2/attributes: list with filters, get, create, delete."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.conftest import MEMBER, Api


def test_list_and_filters(api: Api, one_fpga_host: dict[str, Any]) -> None:
    dep = one_fpga_host["deployable"]
    attrs = api.get("/v2/attributes").json()["attributes"]
    assert [(a["key"], a["value"]) for a in attrs] == [
        ("rc", "FPGA"),
        ("trait0", "CUSTOM_FPGA_INTEL"),
        ("trait1", "CUSTOM_FPGA_INTEL_PAC_ARRIA10"),
    ]
    assert all(a["deployable_id"] == dep["uuid"] for a in attrs)
    rc = api.get(f"/v2/attributes?deployable_id={dep['uuid']}&key=rc").json()["attributes"]
    assert [(a["key"], a["value"]) for a in rc] == [("rc", "FPGA")]
    assert api.get(f"/v2/attributes/{rc[0]['uuid']}").json() == rc[0]
    assert api.get(f"/v2/attributes?deployable_id={uuid.uuid4()}").status_code == 404


def test_create_get_delete(api: Api, one_fpga_host: dict[str, Any]) -> None:
    dep = one_fpga_host["deployable"]
    r = api.post(
        "/v2/attributes", json={"deployable_id": dep["uuid"], "key": "trait9", "value": "CUSTOM_EXTRA"}
    )
    assert r.status_code == 201
    created = r.json()
    assert (created["key"], created["value"], created["deployable_id"]) == (
        "trait9",
        "CUSTOM_EXTRA",
        dep["uuid"],
    )
    assert api.get(f"/v2/attributes/{created['uuid']}").json() == created
    assert api.delete(f"/v2/attributes/{created['uuid']}").status_code == 204
    assert api.get(f"/v2/attributes/{created['uuid']}").status_code == 404
    assert api.delete(f"/v2/attributes/{created['uuid']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"key": "k", "value": "v"}, 400),
        ({"deployable_id": "00000000-0000-0000-0000-000000000000", "key": "k", "value": "v"}, 404),
        ({"deployable_id": "DEP", "key": "", "value": "v"}, 400),
        ({"deployable_id": "DEP", "key": "k", "value": 3}, 400),
        ({"deployable_id": "DEP", "key": "k", "value": "v", "x": 1}, 400),
        (["x"], 400),
    ],
)
def test_bad_create_stores_nothing(api: Api, one_fpga_host: dict[str, Any], body: Any, status: int) -> None:
    if isinstance(body, dict) and body.get("deployable_id") == "DEP":
        body = {**body, "deployable_id": one_fpga_host["deployable"]["uuid"]}
    r = api.post("/v2/attributes", json=body)
    assert r.status_code == status
    assert r.json()["error_message"]
    assert len(api.get("/v2/attributes").json()["attributes"]) == 3


def test_writes_are_admin_only(api: Api, one_fpga_host: dict[str, Any]) -> None:
    body = {"deployable_id": one_fpga_host["deployable"]["uuid"], "key": "k", "value": "v"}
    assert api.as_(MEMBER).post("/v2/attributes", json=body).status_code == 403


def test_create_accepts_openstacksdk_wrapped_body(api: Api, one_fpga_host: dict[str, Any]) -> None:
    body = {
        "attribute": {
            "deployable_id": one_fpga_host["deployable"]["uuid"],
            "key": "trait2",
            "value": "CUSTOM_ZIP",
        }
    }
    r = api.post("/v2/attributes", json=body)
    assert r.status_code == 201
    assert (r.json()["key"], r.json()["value"]) == ("trait2", "CUSTOM_ZIP")

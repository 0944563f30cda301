"""/v2/deployables: list and get in Cyborg's shape (device_id is the device's uuid)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.api.conftest import MEMBER, Api


def test_list_shape(api: Api, one_fpga_host: dict[str, Any]) -> None:
    r = api.get("/v2/deployables")
    assert r.status_code == 200
    [dep] = r.json()["deployables"]
    [device] = api.get("/v2/devices").json()["devices"]
    assert dep["name"] == "host-a_0000:5e:00.0"
    assert dep["rp_uuid"] == str(uuid.uuid3(uuid.NAMESPACE_DNS, "host-a_0000:5e:00.0"))
    assert dep["num_accelerators"] == 4
    assert dep["device_id"] == device["uuid"]
    assert dep["driver_name"] == "intel"
    assert dep["bitstream_id"] is None
    assert dep["parent_id"] is None and dep["root_id"] is None
    assert json.loads(dep["attributes_list"]) == [
        {"rc": "FPGA"},
        {"trait0": "CUSTOM_FPGA_INTEL"},
        {"trait1": "CUSTOM_FPGA_INTEL_PAC_ARRIA10"},
    ]
    assert [link["rel"] for link in dep["links"]] == ["self", "bookmark"]
    assert dep["links"][1]["href"] == f"http://accord.test/deployables/{dep['uuid']}"


def test_get_one_and_unknown(api: Api, one_fpga_host: dict[str, Any]) -> None:
    dep = one_fpga_host["deployable"]
    assert api.get(f"/v2/deployables/{dep['uuid']}").json() == dep
    assert api.get(f"/v2/deployables/{uuid.uuid4()}").status_code == 404


def test_program_is_not_routed_yet_and_members_cannot_list(api: Api, one_fpga_host: dict[str, Any]) -> None:
    assert api.as_(MEMBER).get("/v2/deployables").status_code == 403

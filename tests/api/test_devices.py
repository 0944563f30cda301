"""/v2/devices: list with filters, get, enable/disable, and the 2.3 status field."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.api.conftest import MEMBER, Api
from tests.scenarios import fpga_host_snapshot

V23 = {"OpenStack-API-Version": "accelerator 2.3"}


def test_list_shows_reported_devices(api: Api, one_fpga_host: dict[str, Any]) -> None:
    r = api.get("/v2/devices")
    assert r.status_code == 200
    [device] = r.json()["devices"]
    assert device["type"] == "FPGA"
    assert device["vendor"] == "8086"
    assert device["model"] == "Intel PAC Arria 10"
    assert device["hostname"] == "host-a"
    assert json.loads(device["std_board_info"]) == {
        "controller": "Intel PAC Arria 10",
        "pci_address": "0000:5e:00.0",
        "product_id": "0b30",
    }
    assert isinstance(device["vendor_board_info"], str)
    assert "status" not in device
    assert device["links"][0]["href"] == f"http://accord.test/v2/devices/{device['uuid']}"


def test_status_appears_at_2_3(api: Api, one_fpga_host: dict[str, Any]) -> None:
    [device] = api.get("/v2/devices", headers=V23).json()["devices"]
    assert device["status"] == "enabled"


def test_filters_combine_with_and(api: Api) -> None:
    api.post("/v2/hosts/host-a/inventory", json=fpga_host_snapshot("host-a"))
    api.post("/v2/hosts/host-b/inventory", json=fpga_host_snapshot("host-b", devices=2))
    assert len(api.get("/v2/devices").json()["devices"]) == 3
    assert len(api.get("/v2/devices?hostname=host-b").json()["devices"]) == 2
    assert len(api.get("/v2/devices?hostname=host-b&type=FPGA&vendor=8086").json()["devices"]) == 2
    assert api.get("/v2/devices?hostname=host-b&type=GPU").json() == {"devices": []}
    assert api.get("/v2/devices?vendor=10de").json() == {"devices": []}


def test_get_and_unknown(api: Api, one_fpga_host: dict[str, Any]) -> None:
    [device] = api.get("/v2/devices").json()["devices"]
    assert api.get(f"/v2/devices/{device['uuid']}").json() == device
    assert api.get(f"/v2/devices/{uuid.uuid4()}").status_code == 404
    assert api.get("/v2/devices/not-a-uuid").status_code == 404


def test_disable_then_enable(api: Api, one_fpga_host: dict[str, Any]) -> None:
    [device] = api.get("/v2/devices").json()["devices"]
    r = api.post(f"/v2/devices/{device['uuid']}/disable")
    assert r.status_code == 200
    assert r.content == b""
    assert api.get(f"/v2/devices/{device['uuid']}", headers=V23).json()["status"] == "maintaining"
    assert api.post(f"/v2/devices/{device['uuid']}/enable").status_code == 200
    assert api.get(f"/v2/devices/{device['uuid']}", headers=V23).json()["status"] == "enabled"
    assert api.post(f"/v2/devices/{uuid.uuid4()}/enable").status_code == 404


def test_members_cannot_see_or_change_hardware(api: Api, one_fpga_host: dict[str, Any]) -> None:
    [device] = api.get("/v2/devices").json()["devices"]
    assert api.as_(MEMBER).get("/v2/devices").status_code == 403
    assert api.as_(MEMBER).post(f"/v2/devices/{device['uuid']}/disable").status_code == 403
    manager = {**MEMBER, "X-Roles": "manager"}
    assert api.as_(manager).get("/v2/devices").status_code == 200
    assert api.as_(manager).post(f"/v2/devices/{device['uuid']}/disable").status_code == 403

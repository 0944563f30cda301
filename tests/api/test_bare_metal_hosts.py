"""Ironic nodes as hosts: an admin enrols a node (`PUT /v2/hosts/{name}`), its ramdisk starts its
own programming or firmware operation (`POST /v2/hosts/{name}/operations`, leased to it at once),
and a deployed node's silence is `in use`, not `lost`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from accord.images.formats.build import build_gbs
from accord.store.db import Database
from accord.store.inventory import mark_lost_hosts
from accord.store.models import utcnow
from tests.api.conftest import MEMBER, Api
from tests.scenarios import fpga_host_snapshot

NODE = "5d8a3b5e-1f7e-4c1e-9a55-0d6e5f4a3b21"
AGENT = {"X-User-Id": "ironic-node", "X-Roles": "agent", "X-Accord-Host": NODE}
AFU = "f7df405c-bd7a-cf72-22f1-44b0b93acd18"


def approved_bitstream(api: Api, interface: str | None = None) -> str:
    image = api.post("/v2/images", json={"name": "afu", "kind": "bitstream"}).json()["uuid"]
    gbs = build_gbs(AFU, interface) if interface else build_gbs(AFU, "00000000-0000-0000-0000-00000000000a")
    assert api.request("PUT", f"/v2/images/{image}/file", content=gbs).status_code == 200
    assert api.post(f"/v2/images/{image}/approve").status_code == 200
    return str(image)


def enrolled_node(api: Api) -> dict[str, Any]:
    r = api.request("PUT", f"/v2/hosts/{NODE}", json={"bare_metal": True})
    assert r.status_code == 200, r.text
    snapshot = fpga_host_snapshot(NODE, vfs=0)
    assert api.as_(AGENT).post(f"/v2/hosts/{NODE}/inventory", json=snapshot).status_code == 200
    return snapshot


def test_enrol_marks_the_host_bare_metal(api: Api) -> None:
    r = api.request("PUT", f"/v2/hosts/{NODE}", json={"bare_metal": True})
    assert r.status_code == 200
    assert r.json()["name"] == NODE and r.json()["bare_metal"] is True
    assert api.get(f"/v2/hosts/{NODE}").json()["bare_metal"] is True


def test_enrol_needs_an_admin_and_a_boolean(api: Api) -> None:
    assert api.as_(MEMBER).request("PUT", f"/v2/hosts/{NODE}", json={"bare_metal": True}).status_code == 403
    r = api.request("PUT", f"/v2/hosts/{NODE}", json={"bare_metal": "yes"})
    assert r.status_code == 400 and "error_message" in r.json()
    assert api.get(f"/v2/hosts/{NODE}").status_code == 404


def test_node_starts_its_own_program_leased_to_it(api: Api) -> None:
    enrolled_node(api)
    image = approved_bitstream(api)
    r = api.as_(AGENT).post(f"/v2/hosts/{NODE}/operations", json={"kind": "program", "image_uuid": image})
    assert r.status_code == 201, r.text
    [operation] = r.json()["operations"]
    assert operation["kind"] == "program" and operation["state"] == "running"
    assert operation["attempts"] == 1 and operation["params"]["image_uuid"] == image
    assert operation["params"]["function_id"] == AFU and r.json()["lease_s"] > 0
    done = api.as_(AGENT).post(
        f"/v2/hosts/{NODE}/operations/{operation['uuid']}",
        json={"succeeded": True, "result": {"function_id": AFU}, "attempt": 1},
    )
    assert done.json()["state"] == "succeeded"
    [started] = [e for e in api.get("/v2/audit_events").json()["audit_events"] if e["outcome"] == "started"]
    assert started["action"] == "deployable.program"


def test_a_host_not_enrolled_as_bare_metal_may_not(api: Api) -> None:
    api.as_(AGENT).post(f"/v2/hosts/{NODE}/inventory", json=fpga_host_snapshot(NODE, vfs=0))
    image = approved_bitstream(api)
    r = api.as_(AGENT).post(f"/v2/hosts/{NODE}/operations", json={"kind": "program", "image_uuid": image})
    assert r.status_code == 403 and "not enrolled as a bare-metal node" in r.json()["error_message"]
    assert api.get("/v2/operations").json()["operations"] == []


def test_refusals_store_nothing(api: Api) -> None:
    enrolled_node(api)
    bitstream = approved_bitstream(api)
    other = {**AGENT, "X-Accord-Host": "another-node"}
    cases = [
        (other, {"kind": "program", "image_uuid": bitstream}, 403, "may not report"),
        (
            AGENT,
            {"kind": "program", "image_uuid": "0e4f7c55-0f3a-4b8e-9b9b-2d2f5f1e0c00"},
            404,
            "could not be found",
        ),
        (AGENT, {"kind": "firmware", "image_uuid": bitstream}, 400, "not firmware"),
        (AGENT, {"kind": "program", "image_uuid": bitstream, "pci_address": "0000:99:00.0"}, 404, "no FPGA"),
        (AGENT, {"kind": "erase", "image_uuid": bitstream}, 400, ""),
        (AGENT, {"kind": "program"}, 400, ""),
    ]
    for caller, body, status, message in cases:
        r = api.as_(caller).post(f"/v2/hosts/{NODE}/operations", json=body)
        assert r.status_code == status, (body, r.text)
        assert message in r.json()["error_message"]
    assert api.get("/v2/operations").json()["operations"] == []


def test_a_firmware_image_is_no_bitstream(api: Api) -> None:
    enrolled_node(api)
    firmware = api.post("/v2/images", json={"name": "fw", "kind": "firmware", "version": "2.0"}).json()[
        "uuid"
    ]
    r = api.as_(AGENT).post(f"/v2/hosts/{NODE}/operations", json={"kind": "program", "image_uuid": firmware})
    assert r.status_code == 400 and "firmware, not a bitstream" in r.json()["error_message"]


def test_a_silent_node_is_in_use_not_lost(api: Api, db: Database) -> None:
    enrolled_node(api)
    api.as_(AGENT).post(
        "/v2/hosts/host-a/inventory", json=fpga_host_snapshot("host-a"), headers={"X-Accord-Host": "host-a"}
    )
    with db.write() as session:
        lost = mark_lost_hosts(session, timedelta(seconds=60), now=utcnow() + timedelta(seconds=61))
    assert sorted(lost) == sorted(["host-a", NODE])
    states = {h["name"]: h["state"] for h in api.get("/v2/hosts").json()["hosts"]}
    assert states == {NODE: "in use", "host-a": "lost"}
    assert len(api.get(f"/v2/devices?hostname={NODE}").json()["devices"]) == 1


def test_a_node_back_in_its_ramdisk_with_the_same_report_is_up(api: Api, db: Database) -> None:
    snapshot = enrolled_node(api)
    with db.write() as session:
        mark_lost_hosts(session, timedelta(seconds=60), now=utcnow() + timedelta(seconds=61))
    assert api.get(f"/v2/hosts/{NODE}").json()["state"] == "in use"
    r = api.as_(AGENT).post(f"/v2/hosts/{NODE}/inventory", json=snapshot)
    assert r.json()["added"] == [] and r.json()["updated"] == []
    assert api.get(f"/v2/hosts/{NODE}").json()["state"] == "up"

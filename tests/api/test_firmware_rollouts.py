"""Firmware rollouts as transcripts: a campaign drains, flashes, verifies and re-enables wave by
wave, stops by itself on failures, and obeys pause, resume and abort. The agents' part is played
by the test; the reconcile tick is called directly (`tick`)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from accord.api.app import create_app
from accord.services.rollouts import advance_all
from accord.store.db import Database
from tests.api.conftest import MEMBER, NOVA, Api
from tests.api.test_firmware import add_firmware
from tests.scenarios import fpga_host_snapshot

HOSTS = ("host-a", "host-b", "host-c", "host-d", "host-e")


def agent(host: str) -> dict[str, str]:
    return {"X-User-Id": f"agent-{host}", "X-Roles": "agent", "X-Accord-Host": host}


@pytest.fixture
def fleet(api: Api) -> list[str]:
    """Five hosts with one Intel FPGA each, running firmware 1.0.0; device uuids by host order."""
    for host in HOSTS:
        snapshot = fpga_host_snapshot(host, vfs=1)
        snapshot["devices"][0]["firmware_version"] = "1.0.0"
        assert api.post(f"/v2/hosts/{host}/inventory", json=snapshot).status_code == 200
    return [api.get(f"/v2/devices?hostname={h}").json()["devices"][0]["uuid"] for h in HOSTS]


@pytest.fixture
def image(db: Database) -> str:
    return add_firmware(db, "2.0.0")


def tick(client: TestClient) -> None:
    advance_all(client.app.state.accord)  # type: ignore[attr-defined]


def run_flashes(api: Api, fail_hosts: tuple[str, ...] = ()) -> list[str]:
    """Every host's agent claims its operations and reports them; returns the hosts that flashed."""
    flashed = []
    for host in HOSTS:
        for op in api.as_(agent(host)).post(f"/v2/hosts/{host}/operations/claim").json()["operations"]:
            ok = host not in fail_hosts
            body = {
                "succeeded": ok,
                "result": {"version": op["params"]["version"]} if ok else {},
                "error": None if ok else "fpgasupdate exited 1",
                "attempt": op["attempts"],
            }
            r = api.as_(agent(host)).post(f"/v2/hosts/{host}/operations/{op['uuid']}", json=body)
            assert r.status_code == 200, r.text
            flashed.append(host)
    return flashed


def start(api: Api, image: str, **body: Any) -> dict[str, Any]:
    r = api.post("/v2/firmware_rollouts", json={"image_uuid": image, **body})
    assert r.status_code == 201, r.text
    return dict(r.json())


def show(api: Api, rollout: dict[str, Any]) -> dict[str, Any]:
    return dict(api.get(f"/v2/firmware_rollouts/{rollout['uuid']}").json())


def steps(rollout: dict[str, Any]) -> list[tuple[str, int, str]]:
    return [(d["host"], d["wave"], d["state"]) for d in rollout["devices"]]


def statuses(api: Api) -> list[str]:
    latest = {"OpenStack-API-Version": "accelerator 2.3"}
    return [
        api.get(f"/v2/devices?hostname={h}", headers=latest).json()["devices"][0]["status"] for h in HOSTS
    ]


def test_waves_drain_flash_verify_and_re_enable(
    api: Api, client: TestClient, fleet: list[str], image: str
) -> None:
    rollout = start(api, image, selector={"type": "FPGA"}, canary=1, wave=2)
    assert rollout["state"] == "running" and rollout["current_wave"] == 0
    assert [d["wave"] for d in rollout["devices"]] == [0, 1, 1, 2, 2]
    # The canary was drained at once: disabled, its flash queued.
    assert steps(rollout)[0] == ("host-a", 0, "flashing")
    assert statuses(api) == ["maintaining", "enabled", "enabled", "enabled", "enabled"]
    assert run_flashes(api) == ["host-a"]
    tick(client)
    rollout = show(api, rollout)
    assert steps(rollout)[:3] == [
        ("host-a", 0, "succeeded"),
        ("host-b", 1, "flashing"),
        ("host-c", 1, "flashing"),
    ]
    assert statuses(api) == ["enabled", "maintaining", "maintaining", "enabled", "enabled"]
    assert run_flashes(api) == ["host-b", "host-c"]
    tick(client)
    assert run_flashes(api) == ["host-d", "host-e"]
    tick(client)
    rollout = show(api, rollout)
    assert rollout["state"] == "completed"
    assert rollout["counts"]["succeeded"] == 5
    assert statuses(api) == ["enabled"] * 5
    versions = {api.get(f"/v2/devices/{d}/health").json()["firmware_version"] for d in fleet}
    assert versions == {"2.0.0"}
    ops = api.get("/v2/operations?kind=firmware").json()["operations"]
    assert sorted(o["hostname"] for o in ops) == sorted(HOSTS)  # one flash per device, no more


def test_a_failed_canary_stops_the_campaign_before_wave_one(
    api: Api, client: TestClient, fleet: list[str], image: str
) -> None:
    rollout = start(api, image, selector={"type": "FPGA"}, canary=1, wave=2, max_failures=3)
    assert run_flashes(api, fail_hosts=("host-a",)) == ["host-a"]
    tick(client)
    rollout = show(api, rollout)
    assert rollout["state"] == "failed" and "canary failed" in rollout["reason"]
    assert steps(rollout) == [
        ("host-a", 0, "failed"),
        ("host-b", 1, "skipped"),
        ("host-c", 1, "skipped"),
        ("host-d", 2, "skipped"),
        ("host-e", 2, "skipped"),
    ]
    assert rollout["devices"][1]["reason"] == "rollout stopped: the canary failed"
    tick(client)
    assert run_flashes(api) == []  # nothing after the canary was ever queued
    # The failed canary stays drained for an operator; the others were never touched.
    assert statuses(api) == ["maintaining", "enabled", "enabled", "enabled", "enabled"]
    trail = [e["action"] for e in api.get("/v2/audit_events?action=rollout").json()["audit_events"]]
    assert trail[0] == "rollout.stop" and "rollout.create" in trail and "rollout.flash" in trail


def test_failures_within_max_failures_go_on(
    api: Api, client: TestClient, fleet: list[str], image: str
) -> None:
    rollout = start(api, image, device_uuids=fleet[:3], canary=1, wave=1, max_failures=1)
    run_flashes(api)
    tick(client)
    run_flashes(api, fail_hosts=("host-b",))
    tick(client)
    assert show(api, rollout)["state"] == "running"
    run_flashes(api)
    tick(client)
    rollout = show(api, rollout)
    assert rollout["state"] == "completed"
    assert rollout["counts"] == {
        "pending": 0,
        "draining": 0,
        "flashing": 0,
        "succeeded": 2,
        "failed": 1,
        "skipped": 0,
    }


def bind_on(api: Api, host: str) -> str:
    """Nova binds an ARQ onto host's FPGA, so its handle is in use."""
    api.post("/v2/device_profiles", json=[{"name": f"p-{host}", "groups": [{"resources:FPGA": "1"}]}])
    arq = api.as_(MEMBER).post("/v2/accelerator_requests", json={"device_profile_name": f"p-{host}"})
    arq_uuid = arq.json()["arqs"][0]["uuid"]
    rp = next(
        d["rp_uuid"]
        for d in api.get("/v2/deployables").json()["deployables"]
        if api.get(f"/v2/devices/{d['device_id']}").json()["hostname"] == host
    )
    patch = {
        arq_uuid: [
            {"op": "add", "path": "/hostname", "value": host},
            {"op": "add", "path": "/device_rp_uuid", "value": rp},
            {"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())},
        ]
    }
    r = api.as_(NOVA).patch("/v2/accelerator_requests", json=patch)
    assert r.status_code == 202, r.text
    return str(arq_uuid)


def test_in_use_skip_gives_the_device_back_untouched(
    api: Api, client: TestClient, fleet: list[str], image: str
) -> None:
    bind_on(api, "host-b")
    rollout = start(api, image, device_uuids=fleet[:3], canary=1, wave=2, in_use="skip")
    run_flashes(api)
    tick(client)
    rollout = show(api, rollout)
    assert steps(rollout)[1] == ("host-b", 1, "skipped")
    assert "in use" in rollout["devices"][1]["reason"]
    assert statuses(api)[1] == "enabled"  # given back at once
    assert run_flashes(api) == ["host-c"]
    tick(client)
    rollout = show(api, rollout)
    assert rollout["state"] == "completed" and rollout["counts"]["skipped"] == 1
    assert api.get(f"/v2/devices/{fleet[1]}/health").json()["firmware_version"] == "1.0.0"


def test_in_use_wait_keeps_it_drained_until_released(
    api: Api, client: TestClient, fleet: list[str], image: str
) -> None:
    arq = bind_on(api, "host-b")
    rollout = start(api, image, device_uuids=fleet[:2], canary=1, wave=1, in_use="wait")
    run_flashes(api)
    tick(client)
    tick(client)
    rollout = show(api, rollout)
    assert steps(rollout)[1] == ("host-b", 1, "draining")
    assert statuses(api)[1] == "maintaining"  # nothing new binds while it waits
    assert run_flashes(api) == []
    assert api.as_(NOVA).delete(f"/v2/accelerator_requests?arqs={arq}").status_code == 204
    tick(client)
    assert run_flashes(api) == ["host-b"]
    tick(client)
    rollout = show(api, rollout)
    assert rollout["state"] == "completed" and statuses(api)[1] == "enabled"


def test_pause_resume_abort(api: Api, client: TestClient, fleet: list[str], image: str) -> None:
    rollout = start(api, image, selector={"type": "FPGA"}, canary=1, wave=2)
    url = f"/v2/firmware_rollouts/{rollout['uuid']}"
    assert api.post(f"{url}/resume").status_code == 409
    r = api.post(f"{url}/pause")
    assert r.status_code == 200 and r.json()["state"] == "paused"
    assert api.post(f"{url}/pause").status_code == 409
    assert run_flashes(api) == ["host-a"]  # a flash already queued is never cut off
    tick(client)
    rollout = show(api, rollout)
    assert steps(rollout)[:2] == [("host-a", 0, "succeeded"), ("host-b", 1, "pending")]
    assert statuses(api)[0] == "enabled"
    r = api.post(f"{url}/resume")
    assert r.status_code == 200 and r.json()["current_wave"] == 1
    assert steps(r.json())[1:3] == [("host-b", 1, "flashing"), ("host-c", 1, "flashing")]
    r = api.post(f"{url}/abort")
    assert r.status_code == 200 and r.json()["state"] == "aborted"
    assert [d["state"] for d in r.json()["devices"]] == [
        "succeeded",
        "flashing",
        "flashing",
        "skipped",
        "skipped",
    ]
    assert api.post(f"{url}/abort").status_code == 409
    assert api.post(f"{url}/resume").status_code == 409
    run_flashes(api)
    tick(client)
    rollout = show(api, rollout)
    assert [d["state"] for d in rollout["devices"]] == ["succeeded"] * 3 + ["skipped"] * 2
    assert statuses(api) == ["enabled"] * 5
    actions = {e["action"] for e in api.get("/v2/audit_events?action=rollout").json()["audit_events"]}
    assert {"rollout.pause", "rollout.resume", "rollout.abort"} <= actions
    refused = api.get("/v2/audit_events?action=rollout.abort&outcome=refused").json()["audit_events"]
    assert len(refused) == 1


def test_a_restarted_server_carries_on(
    api: Api, client: TestClient, fleet: list[str], image: str, db: Database, app_settings: Any
) -> None:
    rollout = start(api, image, selector={"type": "FPGA"}, canary=1, wave=4)
    run_flashes(api)
    # A new server process on the same database: the campaign lives only there.
    with TestClient(create_app(app_settings, db=db), base_url="http://accord.test") as second:
        other = Api(second, api.headers)
        tick(second)
        assert run_flashes(other) == ["host-b", "host-c", "host-d", "host-e"]
        tick(second)
        assert show(other, rollout)["state"] == "completed"
    ops = api.get("/v2/operations?kind=firmware").json()["operations"]
    assert len(ops) == 5 == len({o["device_uuid"] for o in ops})


def test_a_device_is_in_one_unfinished_campaign_at_a_time(api: Api, fleet: list[str], image: str) -> None:
    start(api, image, device_uuids=fleet[:2])
    r = api.post("/v2/firmware_rollouts", json={"image_uuid": image, "device_uuids": fleet[1:3]})
    assert r.status_code == 409 and fleet[1] in r.json()["error_message"]
    r = api.delete(f"/v2/images/{image}")
    assert r.status_code == 409 and "rolled out" in r.json()["error_message"]


def test_devices_already_on_the_version_are_skipped(
    api: Api, client: TestClient, fleet: list[str], db: Database
) -> None:
    same = add_firmware(db, "1.0.0")
    rollout = start(api, same, device_uuids=fleet[:2], canary=0, wave=2)
    assert rollout["state"] == "completed"
    assert {d["reason"] for d in rollout["devices"]} == {"already runs firmware 1.0.0 (image is 1.0.0)"}
    assert statuses(api)[:2] == ["enabled", "enabled"] and run_flashes(api) == []


BAD_ROLLOUTS: list[tuple[dict[str, Any], int, str]] = [
    ({}, 400, "needs 'image_uuid'"),
    ({"image_uuid": "IMAGE"}, 400, "Say which devices"),
    ({"image_uuid": "IMAGE", "selector": {}}, 400, "Say which devices"),
    ({"image_uuid": "IMAGE", "device_uuids": []}, 400, "device_uuids"),
    ({"image_uuid": "IMAGE", "device_uuids": ["nope"]}, 400, "not a uuid"),
    ({"image_uuid": "IMAGE", "device_uuids": [str(uuid.uuid4())]}, 400, "No such device"),
    ({"image_uuid": "IMAGE", "selector": {"host": "nowhere"}}, 400, "No device matches"),
    ({"image_uuid": "IMAGE", "selector": {"rack": "r1"}}, 400, "Unknown field"),
    ({"image_uuid": "IMAGE", "selector": {"type": "FPGA"}, "device_uuids": ["x"]}, 400, "not both"),
    ({"image_uuid": "IMAGE", "selector": {"type": "FPGA"}, "canary": -1}, 400, "canary"),
    ({"image_uuid": "IMAGE", "selector": {"type": "FPGA"}, "canary": "1"}, 400, "canary"),
    ({"image_uuid": "IMAGE", "selector": {"type": "FPGA"}, "wave": 0}, 400, "'wave'"),
    ({"image_uuid": "IMAGE", "selector": {"type": "FPGA"}, "wave": "150%"}, 400, "'wave'"),
    ({"image_uuid": "IMAGE", "selector": {"type": "FPGA"}, "max_failures": -2}, 400, "max_failures"),
    ({"image_uuid": "IMAGE", "selector": {"type": "FPGA"}, "in_use": "evict"}, 400, "in_use"),
    ({"image_uuid": "IMAGE", "selector": {"type": "FPGA"}, "force": True}, 400, "Unknown field"),
    ({"image_uuid": "not-a-uuid", "selector": {"type": "FPGA"}}, 400, "approved firmware image"),
    ({"image_uuid": str(uuid.uuid4()), "selector": {"type": "FPGA"}}, 404, "could not be found"),
    ({"image_uuid": "BITSTREAM", "selector": {"type": "FPGA"}}, 400, "not firmware"),
    ({"image_uuid": "UNAPPROVED", "selector": {"type": "FPGA"}}, 409, "not approved"),
]


def test_bad_rollouts_are_refused_and_store_nothing(
    api: Api, fleet: list[str], image: str, db: Database
) -> None:
    images = {
        "IMAGE": image,
        "BITSTREAM": add_firmware(db, "5.0", kind="bitstream"),
        "UNAPPROVED": add_firmware(db, "6.0", state="uploaded"),
    }
    for body, status, needle in BAD_ROLLOUTS:
        if body.get("image_uuid") in images:
            body = {**body, "image_uuid": images[body["image_uuid"]]}
        r = api.post("/v2/firmware_rollouts", json=body)
        assert (r.status_code, needle in r.json()["error_message"]) == (status, True), (body, r.text)
    assert api.get("/v2/firmware_rollouts").json() == {"firmware_rollouts": []}
    assert statuses(api) == ["enabled"] * 5
    refused = api.get("/v2/audit_events?action=rollout.create&outcome=refused").json()["audit_events"]
    # Refusals past the body's shape (unknown devices, targets, images…) are audited with the reason.
    assert refused and all(e["detail"]["reason"] for e in refused)


def test_rollouts_are_for_admins_and_unknown_ones_are_404(api: Api, fleet: list[str], image: str) -> None:
    r = api.as_(MEMBER).post("/v2/firmware_rollouts", json={"image_uuid": image, "device_uuids": fleet})
    assert r.status_code == 403
    assert api.as_(MEMBER).get("/v2/firmware_rollouts").status_code == 403
    assert api.get(f"/v2/firmware_rollouts/{uuid.uuid4()}").status_code == 404
    assert api.post(f"/v2/firmware_rollouts/{uuid.uuid4()}/pause").status_code == 404
    assert api.get("/v2/firmware_rollouts?state=sleeping").status_code == 400

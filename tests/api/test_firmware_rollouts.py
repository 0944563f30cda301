"""Firmware rollouts as transcripts: a campaign drains, flashes, verifies and re-enables wave by
wave, stops by itself on failures, and obeys pause, resume and abort. The agents' part is played
by the test; the reconcile tick is called directly (`tick`)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from accord.services.rollouts import advance_all
from accord.store.db import Database
from tests.api.conftest import Api
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

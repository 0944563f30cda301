"""Firmware as transcripts: only on a drained device, version-checked, verified after the flash,
restored or quarantined on failure. The agent's part is played by the test."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from accord.store.db import Database
from accord.store.models import Image
from tests.api.conftest import MEMBER, NOVA, Api
from tests.scenarios import fpga_host_snapshot

AGENT = {"X-User-Id": "agent-a", "X-Roles": "agent", "X-Accord-Host": "host-a"}


def add_firmware(db: Database, version: str, state: str = "approved", kind: str = "firmware") -> str:
    with db.write() as session:
        image = Image(
            name=f"fw-{version}",
            kind=kind,
            version=version,
            state=state,
            sha256="cd" * 32,
            size=10,
            parsed={},
        )
        session.add(image)
        session.flush()
        return image.uuid


@pytest.fixture
def device(api: Api) -> dict[str, Any]:
    snapshot = copy.deepcopy(fpga_host_snapshot("host-a", vfs=1))
    snapshot["devices"][0]["firmware_version"] = "2.0.1"
    api.post("/v2/hosts/host-a/inventory", json=snapshot)
    [dev] = api.get("/v2/devices").json()["devices"]
    return dict(dev)


def flash(api: Api, device: dict[str, Any], image: str, force: bool = False) -> Any:
    return api.post(f"/v2/devices/{device['uuid']}/firmware", json={"image_uuid": image, "force": force})


def run_agent(api: Api, **result: Any) -> dict[str, Any]:
    [op] = api.as_(AGENT).post("/v2/hosts/host-a/operations/claim").json()["operations"]
    succeeded = result.pop("succeeded", True)
    body = {"succeeded": succeeded, "result": result, "error": None if succeeded else "flash tool exited 1"}
    return dict(api.as_(AGENT).post(f"/v2/hosts/host-a/operations/{op['uuid']}", json=body).json())


def test_enabled_device_is_refused(api: Api, db: Database, device: dict[str, Any]) -> None:
    image = add_firmware(db, "2.1.0")
    r = flash(api, device, image)
    assert r.status_code == 409
    assert "disable it first" in r.json()["error_message"]


def test_device_in_use_is_refused(api: Api, db: Database, device: dict[str, Any]) -> None:
    image = add_firmware(db, "2.1.0")
    api.post("/v2/device_profiles", json=[{"name": "dp", "groups": [{"resources:FPGA": "1"}]}])
    arq = (
        api.as_(MEMBER)
        .post("/v2/accelerator_requests", json={"device_profile_name": "dp"})
        .json()["arqs"][0]["uuid"]
    )
    rp = api.get("/v2/deployables").json()["deployables"][0]["rp_uuid"]
    bind = {
        arq: [
            {"op": "add", "path": p, "value": v}
            for p, v in (
                ("/hostname", "host-a"),
                ("/device_rp_uuid", rp),
                ("/instance_uuid", str(uuid.uuid4())),
            )
        ]
    }
    api.as_(NOVA).patch("/v2/accelerator_requests", json=bind)
    api.post(f"/v2/devices/{device['uuid']}/disable")
    r = flash(api, device, image)
    assert r.status_code == 409
    assert "in use" in r.json()["error_message"]


def test_upgrade_verified(api: Api, db: Database, device: dict[str, Any]) -> None:
    image = add_firmware(db, "2.1.0")
    api.post(f"/v2/devices/{device['uuid']}/disable")
    r = flash(api, device, image)
    assert r.status_code == 202
    op = r.json()
    assert (op["kind"], op["state"], op["params"]["version"], op["params"]["previous_version"]) == (
        "firmware",
        "pending",
        "2.1.0",
        "2.0.1",
    )
    assert run_agent(api, version="2.1.0")["state"] == "succeeded"
    assert api.get(f"/v2/devices/{device['uuid']}/health").json()["firmware_version"] == "2.1.0"


@pytest.mark.parametrize("version", ["2.0.1", "1.9.9", "2.0.0"])
def test_no_downgrade_or_reflash_without_force(
    api: Api, db: Database, device: dict[str, Any], version: str
) -> None:
    image = add_firmware(db, version)
    api.post(f"/v2/devices/{device['uuid']}/disable")
    r = flash(api, device, image)
    assert r.status_code == 409
    assert "force=true" in r.json()["error_message"]
    assert flash(api, device, image, force=True).status_code == 202


def test_failed_flash_restores_previous_when_kept(api: Api, db: Database, device: dict[str, Any]) -> None:
    previous = add_firmware(db, "2.0.1")
    image = add_firmware(db, "2.1.0")
    api.post(f"/v2/devices/{device['uuid']}/disable")
    op = flash(api, device, image).json()
    assert op["params"]["previous_image_uuid"] == previous
    done = run_agent(api, succeeded=False, restored=True, version="2.0.1")
    assert done["state"] == "failed"
    health = api.get(f"/v2/devices/{device['uuid']}/health").json()
    assert (health["firmware_version"], health["quarantine_reason"]) == ("2.0.1", None)
    assert api.post(f"/v2/devices/{device['uuid']}/enable").status_code == 200


def test_failed_flash_without_previous_quarantines(api: Api, db: Database, device: dict[str, Any]) -> None:
    image = add_firmware(db, "2.1.0")
    api.post(f"/v2/devices/{device['uuid']}/disable")
    flash(api, device, image)
    run_agent(api, succeeded=False)
    health = api.get(f"/v2/devices/{device['uuid']}/health").json()
    assert health["health"] == "unusable"
    assert "no image to restore" in health["quarantine_reason"]
    r = api.post(f"/v2/devices/{device['uuid']}/enable")
    assert r.status_code == 409
    assert "quarantined" in r.json()["error_message"]
    # A working flash lifts the quarantine.
    fixed = add_firmware(db, "2.1.1")
    assert flash(api, device, fixed).status_code == 202
    run_agent(api, version="2.1.1")
    assert api.post(f"/v2/devices/{device['uuid']}/enable").status_code == 200


def test_wrong_version_read_back_is_a_failure(api: Api, db: Database, device: dict[str, Any]) -> None:
    image = add_firmware(db, "2.1.0")
    api.post(f"/v2/devices/{device['uuid']}/disable")
    flash(api, device, image)
    done = run_agent(api, version="2.0.1")
    assert done["state"] == "failed"
    assert "read back firmware version" in done["error"]


@pytest.mark.parametrize(
    ("make_body", "status"),
    [
        (lambda db: {"image_uuid": "nope"}, 400),
        (lambda db: {"image_uuid": str(uuid.uuid4())}, 404),
        (lambda db: {"image_uuid": add_firmware(db, "3.0", state="uploaded")}, 409),
        (lambda db: {"image_uuid": add_firmware(db, "3.0", kind="bitstream")}, 400),
        (lambda db: {"image_uuid": add_firmware(db, "3.0"), "force": "yes"}, 400),
        (lambda db: [], 400),
    ],
)
def test_bad_requests(api: Api, db: Database, device: dict[str, Any], make_body: Any, status: int) -> None:
    api.post(f"/v2/devices/{device['uuid']}/disable")
    r = api.post(f"/v2/devices/{device['uuid']}/firmware", json=make_body(db))
    assert r.status_code == status
    assert api.get("/v2/operations").json() == {"operations": []}


def test_members_cannot_flash(api: Api, db: Database, device: dict[str, Any]) -> None:
    image = add_firmware(db, "2.1.0")
    assert (
        api.as_(MEMBER).post(f"/v2/devices/{device['uuid']}/firmware", json={"image_uuid": image}).status_code
        == 403
    )

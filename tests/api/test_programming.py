"""Programming on the user's behalf, server side: the bind chooses an approved image, queues a
program operation, and only a verified read-back makes the ARQ Bound."""

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
FUNCTION = "d8424dc4-a4a9-44ea-9f44-16e7d4a8d6fb"
OTHER_FUNCTION = "1d0c9c3e-5a7e-4b1a-8d0a-6a2b3c4d5e6f"
INTERFACE = "69528db6-eb31-577a-8c36-68f9faa081f6"


def add_image(db: Database, function_id: str, state: str = "approved", interface: str = INTERFACE) -> str:
    with db.write() as session:
        image = Image(
            name=f"afu-{function_id[:4]}",
            kind="bitstream",
            vendor="intel",
            function_id=function_id,
            state=state,
            sha256="ab" * 32,
            size=1024,
            parsed={"interface_id": interface, "format": "gbs"},
        )
        session.add(image)
        session.flush()
        return image.uuid


@pytest.fixture
def fpga(api: Api) -> dict[str, Any]:
    snapshot = fpga_host_snapshot("host-a", vfs=2)
    snapshot["devices"][0]["deployables"][0]["interface_id"] = INTERFACE
    assert api.post("/v2/hosts/host-a/inventory", json=snapshot).status_code == 200
    rp = api.get("/v2/deployables").json()["deployables"][0]["rp_uuid"]
    for name, function in (("fn", FUNCTION), ("other", OTHER_FUNCTION)):
        api.post(
            "/v2/device_profiles",
            json=[{"name": name, "groups": [{"resources:FPGA": "1", "accel:function_id": function}]}],
        )
    return {"rp": rp, "snapshot": snapshot}


def bind(api: Api, rp: str, profile: str = "fn") -> tuple[Any, str]:
    arq = (
        api.as_(MEMBER)
        .post("/v2/accelerator_requests", json={"device_profile_name": profile})
        .json()["arqs"][0]["uuid"]
    )
    body = {
        arq: [
            {"op": "add", "path": "/hostname", "value": "host-a"},
            {"op": "add", "path": "/device_rp_uuid", "value": rp},
            {"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())},
        ]
    }
    return api.as_(NOVA).patch("/v2/accelerator_requests", json=body), arq


def finish(api: Api, op: dict[str, Any], **result: Any) -> Any:
    body = {"succeeded": True, "result": result}
    return api.as_(AGENT).post(f"/v2/hosts/host-a/operations/{op['uuid']}", json=body)


def test_bind_programs_then_binds_after_verified_read_back(
    api: Api, db: Database, fpga: dict[str, Any]
) -> None:
    image = add_image(db, FUNCTION)
    r, arq = bind(api, fpga["rp"])
    assert r.status_code == 202
    assert api.get(f"/v2/accelerator_requests/{arq}").json()["state"] == "BindStarted"
    [op] = api.as_(AGENT).post("/v2/hosts/host-a/operations/claim").json()["operations"]
    assert op["kind"] == "program"
    assert op["params"]["image_uuid"] == image
    assert op["params"]["function_id"] == FUNCTION
    assert op["params"]["sha256"] == "ab" * 32
    assert finish(api, op, function_id=FUNCTION).json()["state"] == "succeeded"
    assert api.get(f"/v2/accelerator_requests/{arq}").json()["state"] == "Bound"
    dep = api.get("/v2/deployables").json()["deployables"][0]
    assert dep["bitstream_id"] == image
    # Cyborg's spelling (vendor from the deployable's driver, `intel` here) and Accord's earlier one.
    assert "CUSTOM_FPGA_FUNCTION_ID_INTEL_D8424DC4A4A944EA9F4416E7D4A8D6FB" in dep["attributes_list"]
    assert "CUSTOM_FPGA_FUNCTION_ID_D8424DC4A4A944EA9F4416E7D4A8D6FB" in dep["attributes_list"]
    # A second user of the same function on this region skips programming.
    r, second = bind(api, fpga["rp"])
    assert api.get(f"/v2/accelerator_requests/{second}").json()["state"] == "Bound"
    assert api.as_(AGENT).post("/v2/hosts/host-a/operations/claim").json()["operations"] == []


def test_wrong_read_back_fails_the_bind(api: Api, db: Database, fpga: dict[str, Any]) -> None:
    add_image(db, FUNCTION)
    _, arq = bind(api, fpga["rp"])
    [op] = api.as_(AGENT).post("/v2/hosts/host-a/operations/claim").json()["operations"]
    assert finish(api, op, function_id=OTHER_FUNCTION).json()["state"] == "failed"
    got = api.get(f"/v2/accelerator_requests/{arq}").json()
    assert got["state"] == "BindFailed"
    assert api.get("/v2/deployables").json()["deployables"][0]["bitstream_id"] is None


@pytest.mark.parametrize(
    ("state", "interface", "message"),
    [("uploaded", INTERFACE, "not approved"), ("approved", str(uuid.uuid4()), "PR interface")],
)
def test_unusable_images_are_refused_before_the_device_is_touched(
    api: Api, db: Database, fpga: dict[str, Any], state: str, interface: str, message: str
) -> None:
    add_image(db, FUNCTION, state=state, interface=interface)
    r, arq = bind(api, fpga["rp"])
    assert r.status_code == 409
    assert message in r.json()["error_message"]
    assert api.get(f"/v2/accelerator_requests/{arq}").json()["state"] == "Initial"
    assert api.get("/v2/operations").json() == {"operations": []}


def test_no_image_for_the_function_is_refused(api: Api, fpga: dict[str, Any]) -> None:
    r, _ = bind(api, fpga["rp"])
    assert r.status_code == 409
    assert "no approved image for function" in r.json()["error_message"]


def test_region_in_use_is_not_reprogrammed_for_someone_else(
    api: Api, db: Database, fpga: dict[str, Any]
) -> None:
    add_image(db, FUNCTION)
    add_image(db, OTHER_FUNCTION)
    _, first = bind(api, fpga["rp"])
    [op] = api.as_(AGENT).post("/v2/hosts/host-a/operations/claim").json()["operations"]
    finish(api, op, function_id=FUNCTION)
    r, _ = bind(api, fpga["rp"], "other")
    assert r.status_code == 409
    assert "in use" in r.json()["error_message"]
    assert api.get(f"/v2/accelerator_requests/{first}").json()["state"] == "Bound"


def test_report_of_loaded_function_skips_programming(api: Api, db: Database, fpga: dict[str, Any]) -> None:
    add_image(db, FUNCTION)
    snapshot = copy.deepcopy(fpga["snapshot"])
    snapshot["devices"][0]["deployables"][0]["function_id"] = FUNCTION
    api.post("/v2/hosts/host-a/inventory", json=snapshot)
    _, arq = bind(api, fpga["rp"])
    assert api.get(f"/v2/accelerator_requests/{arq}").json()["state"] == "Bound"
    assert api.get("/v2/operations").json() == {"operations": []}


def test_admin_program_answers_202_then_the_operation_updates_the_region(
    api: Api, db: Database, fpga: dict[str, Any], data_dir: Any
) -> None:
    from fastapi.testclient import TestClient

    from accord.api.app import create_app
    from accord.config import load_settings
    from tests.api.conftest import ADMIN

    image = add_image(db, FUNCTION)
    settings = load_settings(env={}, data_dir=data_dir, reconcile_interval_s=0, program_wait_s=0)
    with TestClient(create_app(settings, db=db)) as quick:
        dep = api.get("/v2/deployables").json()["deployables"][0]
        body = [{"op": "replace", "path": "/program", "value": [{"image_uuid": image}]}]
        r = quick.patch(f"/v2/deployables/{dep['uuid']}/program", json=body, headers=ADMIN)
        assert r.status_code == 202
        assert r.json()["kind"] == "program"
        bad = quick.patch(f"/v2/deployables/{dep['uuid']}/program", json=[{"op": "add"}], headers=ADMIN)
        assert bad.status_code == 400
        member = quick.patch(f"/v2/deployables/{dep['uuid']}/program", json=body, headers=MEMBER)
        assert member.status_code == 403
    [op] = api.as_(AGENT).post("/v2/hosts/host-a/operations/claim").json()["operations"]
    finish(api, op, function_id=FUNCTION)
    assert api.get(f"/v2/deployables/{dep['uuid']}").json()["bitstream_id"] == image

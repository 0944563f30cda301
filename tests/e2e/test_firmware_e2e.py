"""Firmware end to end with the real agent and the Intel FPGA driver's flash path on the
simulated card: refused while the device is in use, a verified upgrade, a failed flash that
restores the kept image, a failed flash with nothing to restore that quarantines; the audit
trail shows each step."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.agent.sim.firmware import build_sim_firmware
from tests.e2e.test_programming_e2e import HOST, PF, Rig, make_rig

FACTORY_VERSION = "0x23000410010309"  # the fixture card's FME bitstream_id


@pytest.fixture
def rig(tmp_path: Path, database_url: str) -> Iterator[Rig]:
    yield from make_rig(tmp_path, database_url)


def firmware_image(rig: Rig, version: str, data: bytes | None = None) -> str:
    body = {"name": f"fw-{version}", "kind": "firmware", "version": version}
    image = rig.admin.post("/v2/images", json=body).json()["uuid"]
    assert (
        rig.admin.put(f"/v2/images/{image}/file", content=data or build_sim_firmware(version)).status_code
        == 200
    )
    assert rig.admin.post(f"/v2/images/{image}/approve").status_code == 200
    return str(image)


def device_uuid(rig: Rig) -> str:
    [device] = rig.admin.get(f"/v2/devices?hostname={HOST}").json()["devices"]
    return str(device["uuid"])


def flash(rig: Rig, image: str) -> tuple[int, dict[str, object]]:
    r = rig.admin.post(f"/v2/devices/{device_uuid(rig)}/firmware", json={"image_uuid": image})
    return r.status_code, r.json()


def card_version(rig: Rig) -> str:
    [path] = list(rig.root.glob(f"sys/devices/pci0000:5e/{PF}/**/dfl-fme.*/bitstream_id"))
    return path.read_text().strip()


def health(rig: Rig) -> dict[str, object]:
    return dict(rig.admin.get(f"/v2/devices/{device_uuid(rig)}/health").json())


def test_refused_while_enabled_or_in_use(rig: Rig) -> None:
    image = firmware_image(rig, "2.0.0")
    status, body = flash(rig, image)
    assert status == 409 and "disable it first" in str(body["error_message"])
    assert (
        rig.admin.post(
            "/v2/device_profiles", json=[{"name": "any", "groups": [{"resources:FPGA": "1"}]}]
        ).status_code
        == 201
    )
    _, arq = rig.bind("any")
    assert rig.arq(arq)["state"] == "Bound"
    rig.admin.post(f"/v2/devices/{device_uuid(rig)}/disable")
    status, body = flash(rig, image)
    assert status == 409 and "in use" in str(body["error_message"])
    assert rig.agent.run_operations() == 0
    assert card_version(rig) == FACTORY_VERSION
    assert [e["outcome"] for e in rig.audit(action="device.firmware")] == ["refused", "refused"]


def test_upgrade_verified_then_failed_flash_restores(rig: Rig) -> None:
    rig.admin.post(f"/v2/devices/{device_uuid(rig)}/disable")
    good = firmware_image(rig, "2.0.0")
    assert flash(rig, good)[0] == 202
    assert rig.agent.run_operations() == 1
    assert card_version(rig) == "2.0.0"
    assert health(rig)["firmware_version"] == "2.0.0"

    broken = firmware_image(rig, "3.0.0", data=build_sim_firmware("3.0.0", corrupt=True))
    assert flash(rig, broken)[0] == 202
    assert rig.agent.run_operations() == 1
    op = rig.admin.get("/v2/operations?state=failed").json()["operations"][0]
    assert "restored" in op["error"]
    assert card_version(rig) == "2.0.0"
    assert health(rig)["quarantine_reason"] is None
    trail = [(e["action"], e["outcome"]) for e in reversed(rig.audit(device_uuid=device_uuid(rig)))]
    assert trail == [
        ("device.disable", "success"),
        ("device.firmware", "started"),
        ("operation.firmware", "success"),
        ("device.firmware", "started"),
        ("operation.firmware", "failure"),
    ]


def test_failed_flash_with_nothing_to_restore_quarantines(rig: Rig) -> None:
    rig.admin.post(f"/v2/devices/{device_uuid(rig)}/disable")
    broken = firmware_image(rig, "9.9.9", data=build_sim_firmware("9.9.9", corrupt=True))
    assert flash(rig, broken)[0] == 202
    assert rig.agent.run_operations() == 1
    state = health(rig)
    assert state["health"] == "unusable"
    assert "no image to restore" in str(state["quarantine_reason"])
    assert card_version(rig) == FACTORY_VERSION
    # A quarantined device offers nothing: a bind onto it is refused.
    rig.admin.post(f"/v2/devices/{device_uuid(rig)}/enable")
    rig.admin.post("/v2/device_profiles", json=[{"name": "any", "groups": [{"resources:FPGA": "1"}]}])
    r, _ = rig.bind("any")
    assert r.status_code == 409, r.text

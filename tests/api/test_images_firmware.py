"""/v2/images for firmware: the containers the flash tools take are recognised at upload (Intel
secure-update for fpgasupdate, Xilinx xsabin for xbmgmt, Accord's simulated firmware), what they
carry is recorded, anything else is refused with the reason, and a flash or a rollout onto a
device the image is not for is refused before anything is touched."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from accord.images.formats.build import build_gbs, build_xclbin
from accord.images.formats.build_firmware import (
    build_intel_secure_update,
    build_sim_firmware,
    build_sim_firmware_for,
    build_xsabin,
)
from tests.api.conftest import Api
from tests.scenarios import fpga_host_snapshot

U250_SHELL = "xilinx_u250_gen3x16_base_4"
AFU = "d8424dc4-a4a9-3c26-9bd6-c0f2eb4a5e3b"
IFACE = "69528db6-eb31-577a-8c36-68f9faa081f6"


def create(api: Api, version: str, **fields: Any) -> str:
    r = api.post(
        "/v2/images", json={"name": f"fw-{version}", "kind": "firmware", "version": version, **fields}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["uuid"])


def upload(api: Api, image: str, data: bytes) -> Any:
    return api.request(
        "PUT", f"/v2/images/{image}/file", content=data, headers={"Content-Type": "application/octet-stream"}
    )


def uploaded(api: Api, version: str, data: bytes, **fields: Any) -> dict[str, Any]:
    image = create(api, version, **fields)
    r = upload(api, image, data)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_simulated_firmware_records_its_version_and_target(api: Api) -> None:
    body = uploaded(api, "2.0.0", build_sim_firmware_for("Intel FPGA PAC N3000", "2.0.0"))
    assert body["state"] == "uploaded"
    parsed = body["parsed"]
    assert (parsed["firmware_format"], parsed["version"], parsed["target"]) == (
        "accord-sim",
        "2.0.0",
        "Intel FPGA PAC N3000",
    )


def test_intel_secure_update_records_its_content_type(api: Api) -> None:
    body = uploaded(api, "0x2300011001030f", build_intel_secure_update(b"\x55" * 1000), vendor="intel")
    parsed = body["parsed"]
    assert parsed["firmware_format"] == "intel-secure-update"
    assert (parsed["target_vendor"], parsed["target_type"]) == ("8086", "FPGA")
    assert parsed["content_type"] == "static region (FIM)" and parsed["payload_length"] == 1024
    bmc = uploaded(api, "2.0.6", build_intel_secure_update(content_type=1))
    assert bmc["parsed"]["content_type"] == "BMC firmware"


def test_xsabin_records_the_shell_it_installs(api: Api) -> None:
    body = uploaded(api, U250_SHELL, build_xsabin(U250_SHELL), vendor="xilinx")
    parsed = body["parsed"]
    assert (parsed["firmware_format"], parsed["version"], parsed["target"]) == ("xsabin", U250_SHELL, "u250")
    assert parsed["sections"] == ["BMC", "MCS"]


@pytest.mark.parametrize(
    ("version", "data", "reason"),
    [
        ("1.0", b"MZ\x90\x00 certainly not firmware", "not a firmware format Accord can check"),
        ("1.0", b"", "not a firmware format Accord can check"),
        ("1.0", build_sim_firmware("1.0")[:20], "truncated"),
        ("1.0", build_intel_secure_update(b"\x55" * 512)[:1100], "truncated: the payload ends at"),
        ("1.0", build_intel_secure_update()[:100], "truncated: block 0"),
        ("1.0", build_xsabin(U250_SHELL)[:400], "truncated"),
        ("1.0", build_intel_secure_update(content_type=2), "partial reconfiguration bitstream, not firmware"),
        ("1.0", build_intel_secure_update(subtype=1), "key cancellation image: irreversible"),
        ("1.0", build_xsabin(U250_SHELL, sections=(0,)), "a user xclbin, not a shell"),
        ("1.0", build_xclbin(AFU, IFACE, "xilinx_u250_gen3x16_xdma_shell_3_1"), "a user xclbin"),
        ("1.0", build_gbs(AFU, IFACE), "a .gbs bitstream with no secure-update block 0"),
        ("1.0", b"\x19\xfd\xea\xb6" + b"\0" * 2000, "block 1 magic"),
        ("1.0", build_sim_firmware("2.0"), "declared version '1.0' but the image says '2.0'"),
        ("1.0", build_xsabin(U250_SHELL), f"declared version '1.0' but the image says '{U250_SHELL}'"),
    ],
)
def test_bad_firmware_is_rejected_with_the_reason(api: Api, version: str, data: bytes, reason: str) -> None:
    image = create(api, version)
    r = upload(api, image, data)
    assert r.status_code == 400
    assert reason in r.json()["error_message"]
    shown = api.get(f"/v2/images/{image}").json()
    assert shown["state"] == "rejected" and reason in shown["reject_reason"]
    assert api.post(f"/v2/images/{image}/approve").status_code == 409


def test_declared_vendor_must_agree_with_the_bytes(api: Api) -> None:
    image = create(api, U250_SHELL, vendor="intel")
    r = upload(api, image, build_xsabin(U250_SHELL))
    assert r.status_code == 400 and "declared vendor 'intel'" in r.json()["error_message"]


@pytest.fixture
def drained_n3000(api: Api) -> str:
    snapshot = copy.deepcopy(fpga_host_snapshot("host-a", vfs=1))
    snapshot["devices"][0]["model"] = "Intel FPGA PAC N3000"
    snapshot["devices"][0]["firmware_version"] = "1.0.0"
    assert api.post("/v2/hosts/host-a/inventory", json=snapshot).status_code == 200
    [device] = api.get("/v2/devices").json()["devices"]
    assert api.post(f"/v2/devices/{device['uuid']}/disable").status_code == 200
    return str(device["uuid"])


def approved(api: Api, version: str, data: bytes, **fields: Any) -> str:
    image = uploaded(api, version, data, **fields)["uuid"]
    assert api.post(f"/v2/images/{image}/approve").status_code == 200
    return str(image)


@pytest.mark.parametrize(
    ("version", "data", "reason"),
    [
        ("2.0.0", build_sim_firmware_for("Alveo U250", "2.0.0"), "firmware for 'Alveo U250'"),
        (U250_SHELL, build_xsabin(U250_SHELL), "for PCI vendor 10ee"),
    ],
)
def test_a_flash_onto_a_device_the_image_is_not_for_is_refused_before_anything(
    api: Api, drained_n3000: str, version: str, data: bytes, reason: str
) -> None:
    image = approved(api, version, data)
    r = api.post(f"/v2/devices/{drained_n3000}/firmware", json={"image_uuid": image})
    assert r.status_code == 400, r.text
    assert reason in r.json()["error_message"]
    assert api.get("/v2/operations").json()["operations"] == []
    r = api.post("/v2/firmware_rollouts", json={"image_uuid": image, "device_uuids": [drained_n3000]})
    assert r.status_code == 400 and reason in r.json()["error_message"]
    assert api.get("/v2/firmware_rollouts").json()["firmware_rollouts"] == []
    [refusal] = api.get("/v2/audit_events?action=device.firmware").json()["audit_events"]
    assert refusal["outcome"] == "refused"


def test_a_flash_onto_the_device_the_image_is_for_is_queued(api: Api, drained_n3000: str) -> None:
    for data in (
        build_sim_firmware_for("Intel FPGA PAC N3000", "2.0.0"),
        build_sim_firmware_for("8086:0b30", "2.0.0"),
    ):
        image = approved(api, "2.0.0", data)
        r = api.post(f"/v2/devices/{drained_n3000}/firmware", json={"image_uuid": image})
        assert r.status_code == 202, r.text
        break
    secure = approved(api, "3.0.0", build_intel_secure_update())
    assert api.get(f"/v2/images/{secure}").json()["parsed"]["target_vendor"] == "8086"

"""A bind must land on a deployable that offers what the ARQ's group asks for: the resource class,
every required trait, no forbidden one, and the `accel:` function if the region cannot be
programmed with it. Anything else is a 400 naming the mismatch, and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import MEMBER, NOVA, Api
from tests.api.test_accelerator_requests import bind_patch, create
from tests.scenarios import gpu_mdev_snapshot


@pytest.fixture
def fpga_and_gpu(api: Api, one_fpga_host: dict[str, Any]) -> dict[str, str]:
    """host-a: an Intel FPGA (rc FPGA, traits CUSTOM_FPGA_INTEL*); host-g: a T4 (rc VGPU)."""
    assert api.post("/v2/hosts/host-g/inventory", json=gpu_mdev_snapshot("host-g")).status_code == 200
    deployables = api.get("/v2/deployables").json()["deployables"]
    gpu = next(d for d in deployables if d["rp_uuid"] != one_fpga_host["rp_uuid"])
    return {"fpga": one_fpga_host["rp_uuid"], "gpu": gpu["rp_uuid"]}


def profile(api: Api, name: str, group: dict[str, str]) -> None:
    r = api.post("/v2/device_profiles", json=[{"name": name, "groups": [group]}])
    assert r.status_code == 201, r.text


def refused(api: Api, arq: str, rp: str, host: str) -> str:
    r = api.as_(NOVA).patch("/v2/accelerator_requests", json=bind_patch(arq, rp, host))
    assert r.status_code == 400, r.text
    after = api.get(f"/v2/accelerator_requests/{arq}").json()
    assert (after["state"], after["hostname"], after["device_rp_uuid"]) == ("Initial", None, None)
    return str(r.json()["error_message"])


def test_vgpu_request_bound_to_an_fpga_is_refused(api: Api, fpga_and_gpu: dict[str, str]) -> None:
    profile(api, "vgpu", {"resources:VGPU": "1"})
    [arq] = create(api.as_(MEMBER), "vgpu")
    message = refused(api, arq["uuid"], fpga_and_gpu["fpga"], "host-a")
    assert "offers FPGA, the request asks for VGPU" in message
    assert arq["uuid"] in message


def test_missing_required_trait_is_refused(api: Api, fpga_and_gpu: dict[str, str]) -> None:
    profile(api, "xil", {"resources:FPGA": "1", "trait:CUSTOM_FPGA_XILINX_U250": "required"})
    arq = create(api.as_(MEMBER), "xil")[0]
    assert "lacks required trait(s) CUSTOM_FPGA_XILINX_U250" in refused(
        api, arq["uuid"], fpga_and_gpu["fpga"], "host-a"
    )


def test_forbidden_trait_present_is_refused(api: Api, fpga_and_gpu: dict[str, str]) -> None:
    profile(api, "not-intel", {"resources:FPGA": "1", "trait:CUSTOM_FPGA_INTEL": "forbidden"})
    [arq] = create(api.as_(MEMBER), "not-intel")
    assert "carries forbidden trait(s) CUSTOM_FPGA_INTEL" in refused(
        api, arq["uuid"], fpga_and_gpu["fpga"], "host-a"
    )


def test_function_on_a_region_that_cannot_be_programmed_is_refused(
    api: Api, fpga_and_gpu: dict[str, str]
) -> None:
    # The scenario's FPGA region reports no PR interface, so nothing can be programmed into it.
    profile(api, "fn", {"resources:FPGA": "1", "accel:function_id": "9f2a4b4c-52a1-4f83-a1a8-0a1b2c3d4e5f"})
    [arq] = create(api.as_(MEMBER), "fn")
    message = refused(api, arq["uuid"], fpga_and_gpu["fpga"], "host-a")
    assert "cannot be programmed with function 9f2a4b4c-52a1-4f83-a1a8-0a1b2c3d4e5f" in message


def test_a_matching_target_still_binds(api: Api, fpga_and_gpu: dict[str, str]) -> None:
    profile(api, "vgpu", {"resources:VGPU": "1"})
    [arq] = create(api.as_(MEMBER), "vgpu")
    r = api.as_(NOVA).patch(
        "/v2/accelerator_requests", json=bind_patch(arq["uuid"], fpga_and_gpu["gpu"], "host-g")
    )
    assert r.status_code == 202, r.text
    # A vGPU handle is an mdev the agent must create first.
    assert api.get(f"/v2/accelerator_requests/{arq['uuid']}").json()["state"] == "BindStarted"


def test_refusal_is_audited(api: Api, fpga_and_gpu: dict[str, str]) -> None:
    profile(api, "vgpu", {"resources:VGPU": "1"})
    [arq] = create(api.as_(MEMBER), "vgpu")
    refused(api, arq["uuid"], fpga_and_gpu["fpga"], "host-a")
    events = api.get("/v2/audit_events", params={"action": "arq.bind", "outcome": "refused"}).json()
    assert [e["target_uuid"] for e in events["audit_events"]] == [arq["uuid"]]

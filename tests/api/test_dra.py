"""The DRA export over HTTP: `GET /v2/hosts/{name}/resourceslices` and `GET /v2/deviceclasses`
give resource.k8s.io/v1 lists that the official Kubernetes client's models take and give back
unchanged; pinning a GPU's vGPU type moves what is exported; taints follow the device."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pytest

from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.layouts import gpu
from tests.api.conftest import MEMBER, Api
from tests.api.test_partitions import T4, T4_TYPES, bind, by_suffix, report, vgpu_profile

DRIVER = "accelerators.accord"


def round_trips(document: dict[str, Any], model: type[Any]) -> None:
    """The client's model takes the document and serializes it back unchanged: no field unknown
    to resource.k8s.io/v1 (it would be dropped), none misnamed or mistyped."""
    parsed = model.from_dict(document)
    assert k8s.ApiClient().sanitize_for_serialization(parsed) == document


def slices(api: Api, host: str = "host-t4") -> dict[str, Any]:
    r = api.get(f"/v2/hosts/{host}/resourceslices")
    assert r.status_code == 200, r.text
    document = r.json()
    round_trips(document, k8s.V1ResourceSliceList)
    return dict(document)


def devices(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for item in document["items"] for d in item["spec"].get("devices", [])]


@pytest.fixture
def t4(api: Api, tmp_path: Path) -> str:
    b = SysfsBuilder(tmp_path / "t4")
    gpu.tesla_t4_with_vgpu(b, T4, types=T4_TYPES)
    report(api, b.root, "host-t4")
    return str(api.get("/v2/devices").json()["devices"][0]["uuid"])


def test_an_idle_t4_is_one_counter_slice_and_the_default_type(api: Api, t4: str) -> None:
    document = slices(api)
    assert (document["apiVersion"], document["kind"]) == ("resource.k8s.io/v1", "ResourceSliceList")
    counters, devs = document["items"]
    assert [i["spec"]["pool"] for i in document["items"]] == [
        {"name": "host-t4", "generation": 1, "resourceSliceCount": 2}
    ] * 2
    assert counters["spec"]["driver"] == DRIVER and counters["spec"]["nodeName"] == "host-t4"
    assert "devices" not in counters["spec"]  # v1: one of devices and sharedCounters per slice
    assert counters["spec"]["sharedCounters"] == [
        {"name": "gpu-0000-3b-00-0", "counters": {"framebuffer": {"value": "16384Mi"}}}
    ]
    # Only the mirrored type (by default the one holding the most vGPUs: 16 x T4-1B).
    exported = devs["spec"]["devices"]
    assert len(exported) == 16
    first = exported[0]
    assert first["name"] == "0000-3b-00-0-nvidia-222-0"
    assert first["consumesCounters"] == [
        {"counterSet": "gpu-0000-3b-00-0", "counters": {"framebuffer": {"value": "1024Mi"}}}
    ]
    assert first["capacity"] == {"memory": {"value": "1024Mi"}}
    attributes = first["attributes"]
    assert attributes["partType"] == {"string": "nvidia-222"}
    assert attributes["resourceClass"] == {"string": "VGPU"}
    assert attributes["pciAddress"] == {"string": T4}
    assert attributes["CUSTOM_VGPU_TYPE_NVIDIA_222"] == {"bool": True}
    assert "taints" not in first


def test_pinning_an_idle_gpu_moves_the_export_and_bumps_the_generation(api: Api, t4: str) -> None:
    r = api.put(f"/v2/devices/{t4}/vgpu_type", json={"vgpu_type": "nvidia-232"})
    assert r.status_code == 200, r.text
    assert r.json() == {"uuid": t4, "vgpu_type": "nvidia-232", "mirrored_type": "nvidia-232"}
    document = slices(api)
    assert {d["attributes"]["partType"]["string"] for d in devices(document)} == {"nvidia-232"}
    assert len(devices(document)) == 4
    assert document["items"][0]["spec"]["pool"]["generation"] == 2


def test_a_busy_gpu_keeps_its_type_whatever_is_pinned(api: Api, t4: str) -> None:
    rps = {k: d["rp_uuid"] for k, d in by_suffix(api).items()}
    assert bind(api, vgpu_profile(api, "nvidia-223"), rps["nvidia-223"], "host-t4")[0] == 202
    r = api.put(f"/v2/devices/{t4}/vgpu_type", json={"vgpu_type": "nvidia-232"})
    assert r.json()["mirrored_type"] == "nvidia-223"
    assert {d["attributes"]["partType"]["string"] for d in devices(slices(api))} == {"nvidia-223"}


def test_pinning_a_type_the_gpu_lacks_is_a_400(api: Api, t4: str) -> None:
    r = api.put(f"/v2/devices/{t4}/vgpu_type", json={"vgpu_type": "nvidia-999"})
    assert r.status_code == 400
    assert "has no partition type 'nvidia-999'" in r.json()["error_message"]
    assert api.put(f"/v2/devices/{t4}/vgpu_type", json={"vgpu_type": 5}).status_code == 400


def test_a_disabled_device_is_tainted(api: Api, t4: str) -> None:
    assert api.post(f"/v2/devices/{t4}/disable").status_code == 200
    document = slices(api)
    assert {str(d["taints"]) for d in devices(document)} == {
        str([{"key": "accord/disabled", "value": "true", "effect": "NoSchedule"}])
    }
    assert document["items"][0]["spec"]["pool"]["generation"] == 2


def test_device_classes_select_by_profile(api: Api, t4: str) -> None:
    vgpu_profile(api, "nvidia-222")
    group = {
        "resources:FPGA": "1",
        "trait:CUSTOM_FPGA_INTEL": "forbidden",
        "accel:function_id": str(uuid.UUID(int=7)),
    }
    api.post("/v2/device_profiles", json=[{"name": "Fn_One", "groups": [group, {"resources:VGPU": "2"}]}])
    r = api.get("/v2/deviceclasses")
    assert r.status_code == 200, r.text
    document = r.json()
    round_trips(document, k8s.V1DeviceClassList)
    classes = {
        c["metadata"]["name"]: c["spec"]["selectors"][0]["cel"]["expression"] for c in document["items"]
    }
    attrs = f'device.attributes["{DRIVER}"]'
    assert classes["nvidia-222"] == (
        f'device.driver == "{DRIVER}" && {attrs}.resourceClass == "VGPU" && '
        f'("CUSTOM_VGPU_TYPE_NVIDIA_222" in {attrs} && {attrs}["CUSTOM_VGPU_TYPE_NVIDIA_222"])'
    )
    assert classes["fn-one-0"].endswith(
        f'!("CUSTOM_FPGA_INTEL" in {attrs}) && ("functionId" in {attrs} && '
        f'{attrs}.functionId == "{uuid.UUID(int=7)}")'
    )
    assert classes["fn-one-1"] == f'device.driver == "{DRIVER}" && {attrs}.resourceClass == "VGPU"'


def test_dra_export_is_admin_only_and_names_unknown_hosts(api: Api, t4: str) -> None:
    assert api.as_(MEMBER).get("/v2/hosts/host-t4/resourceslices").status_code == 403
    assert api.as_(MEMBER).get("/v2/deviceclasses").status_code == 403
    r = api.get("/v2/hosts/nowhere/resourceslices")
    assert r.status_code == 404 and "nowhere" in r.json()["error_message"]

"""`accord device set-vgpu-type` and `accord dra export` against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import kubernetes.client as k8s
import pytest

from accord.agent.drivers.nvidia_gpu import NvidiaGpuDriver
from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.kernel import SimulatedKernel
from accord.agent.sim.layouts import gpu
from accord.schemas.inventory import InventorySnapshot
from tests.cli.test_cli import ADMIN, as_json, run
from tests.live_server import LiveServer


@pytest.mark.parametrize("backend", ["sqlite"])
def test_pin_a_type_then_export_it_for_kubectl(server: LiveServer, tmp_path: Path, backend: str) -> None:
    b = SysfsBuilder(tmp_path / "t4")
    gpu.tesla_t4_with_vgpu(b)
    devices = NvidiaGpuDriver(b.root, SimulatedKernel(b.root)).discover()
    snapshot = InventorySnapshot(hostname="gpu-1", devices=devices).model_dump(mode="json")
    httpx.post(f"{server.url}/v2/hosts/gpu-1/inventory", json=snapshot, headers=ADMIN).raise_for_status()
    httpx.post(
        f"{server.url}/v2/device_profiles",
        json=[{"name": "vgpu", "groups": [{"resources:VGPU": "1"}]}],
        headers=ADMIN,
    ).raise_for_status()
    [device] = as_json(server.url, "device", "list")

    pinned = as_json(server.url, "device", "set-vgpu-type", device["uuid"], "nvidia-223")
    assert pinned["mirrored_type"] == "nvidia-223"
    assert run(server.url, "device", "set-vgpu-type", device["uuid"], "nvidia-9").exit_code == 6

    result = run(server.url, "dra", "export", "--host", "gpu-1")
    assert result.exit_code == 0, result.output
    exported = json.loads(result.stdout)
    assert (exported["apiVersion"], exported["kind"]) == ("v1", "List")
    kinds = [item["kind"] for item in exported["items"]]
    assert kinds == ["DeviceClass", "ResourceSlice", "ResourceSlice"]
    k8s.V1DeviceClass.from_dict(exported["items"][0])
    devices_out = exported["items"][2]["spec"]["devices"]
    assert len(devices_out) == 8  # 8 x T4-2B, the pinned type
    assert {d["attributes"]["partType"]["string"] for d in devices_out} == {"nvidia-223"}
    # Without --host: every host's pool.
    assert json.loads(run(server.url, "dra", "export").stdout) == exported

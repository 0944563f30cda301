"""Partitions over HTTP: a GPU's vGPU types, SR-IOV slots and MIG profiles never promise what
cannot coexist. Hosts are reported by the real NVIDIA driver from simulated sysfs trees."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from accord.agent.drivers.nvidia_gpu import MigInstance, NvidiaGpuDriver
from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.kernel import SimulatedKernel
from accord.agent.sim.layouts import gpu
from accord.schemas.inventory import InventorySnapshot
from tests.api.conftest import MEMBER, NOVA, Api

T4 = "0000:3b:00.0"
A100 = "0000:41:00.0"
T4_TYPES = {
    **gpu.T4_TYPES,
    "nvidia-232": gpu.T4_MORE_TYPES["nvidia-232"],
    "nvidia-234": gpu.T4_MORE_TYPES["nvidia-234"],
}


class StaticNvml:
    """The simulated NVML: MIG devices per GPU address (NVML is absent on this machine)."""

    def __init__(self, migs: dict[str, list[MigInstance]]) -> None:
        self.migs = migs

    def mig_instances(self, pci_address: str) -> list[MigInstance]:
        return self.migs.get(pci_address, [])


def report(api: Api, root: Path, host: str, nvml: StaticNvml | None = None) -> None:
    driver = NvidiaGpuDriver(root, SimulatedKernel(root), nvml=nvml)
    snapshot = InventorySnapshot(hostname=host, agent_version="test", devices=driver.discover())
    r = api.post(f"/v2/hosts/{host}/inventory", json=snapshot.model_dump(mode="json"))
    assert r.status_code == 200, r.text


def by_suffix(api: Api) -> dict[str, dict[str, Any]]:
    """Deployables by the part of their name after the device address: "nvidia-222", "mig-1g.5gb"."""
    found = {}
    for d in api.get("/v2/deployables").json()["deployables"]:
        local = d["name"].split("_", 1)[1]
        found[local[13:] if local[12:13] == "-" else local] = d
    return found


def offers(api: Api) -> dict[str, int]:
    return {k: d["num_accelerators"] for k, d in by_suffix(api).items()}


def profile(api: Api, name: str, group: dict[str, str]) -> None:
    r = api.post("/v2/device_profiles", json=[{"name": name, "groups": [group]}])
    assert r.status_code == 201, r.text


def vgpu_profile(api: Api, type_id: str, units: int = 1) -> str:
    trait = "CUSTOM_VGPU_TYPE_" + type_id.upper().replace("-", "_")
    profile(api, type_id, {"resources:VGPU": str(units), f"trait:{trait}": "required"})
    return type_id


def bind(api: Api, profile_name: str, rp: str, host: str) -> tuple[int, dict[str, Any]]:
    [arq] = (
        api.as_(MEMBER)
        .post("/v2/accelerator_requests", json={"device_profile_name": profile_name})
        .json()["arqs"]
    )
    patch = {
        arq["uuid"]: [
            {"op": "add", "path": "/hostname", "value": host},
            {"op": "add", "path": "/device_rp_uuid", "value": rp},
            {"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())},
        ]
    }
    r = api.as_(NOVA).patch("/v2/accelerator_requests", json=patch)
    return r.status_code, {
        **api.get(f"/v2/accelerator_requests/{arq['uuid']}").json(),
        "response": r.json() if r.content else None,
    }


def candidates(api: Api, profile_name: str) -> list[dict[str, Any]]:
    r = api.get(f"/v2/allocation_candidates?device_profile={profile_name}")
    assert r.status_code == 200, r.text
    return list(r.json()["allocation_candidates"])


@pytest.fixture
def idle_t4(api: Api, tmp_path: Path) -> Path:
    b = SysfsBuilder(tmp_path / "t4")
    gpu.tesla_t4_with_vgpu(b, T4, types=T4_TYPES)
    report(api, b.root, "host-t4")
    return b.root


def test_idle_t4_offers_each_type_its_own_capacity(api: Api, idle_t4: Path) -> None:
    assert offers(api) == {"nvidia-222": 16, "nvidia-223": 8, "nvidia-232": 4, "nvidia-234": 1}
    for type_id in ("nvidia-222", "nvidia-223", "nvidia-232", "nvidia-234"):
        assert [c["hostname"] for c in candidates(api, vgpu_profile(api, type_id))] == ["host-t4"]


def test_two_types_are_never_bound_at_once_on_one_t4(api: Api, idle_t4: Path) -> None:
    rps = {k: d["rp_uuid"] for k, d in by_suffix(api).items()}
    vgpu_profile(api, "nvidia-222")
    vgpu_profile(api, "nvidia-223")

    status, first = bind(api, "nvidia-222", rps["nvidia-222"], "host-t4")
    assert (status, first["state"]) == (202, "BindStarted")
    status, second = bind(api, "nvidia-223", rps["nvidia-223"], "host-t4")
    # Refused before anything is stored: 409 in Cyborg's error format, the ARQ untouched.
    assert status == 409
    assert "nvidia-222 and nvidia-223 exclude each other" in second["response"]["error_message"]
    assert (second["state"], second["hostname"], second["device_rp_uuid"]) == ("Initial", None, None)

    assert offers(api) == {"nvidia-222": 16, "nvidia-223": 0, "nvidia-232": 0, "nvidia-234": 0}
    assert candidates(api, "nvidia-223") == []
    assert [c["hostname"] for c in candidates(api, "nvidia-222")] == ["host-t4"]


def test_a_vgpu_of_one_type_on_the_host_leaves_the_others_nothing(api: Api, idle_t4: Path) -> None:
    # A vGPU made outside Accord (or one whose removal is still queued) counts all the same.
    gpu.create_mdevs(SysfsBuilder(idle_t4), T4, {"nvidia-222": [str(uuid.uuid4())]})
    report(api, idle_t4, "host-t4")

    assert offers(api) == {"nvidia-222": 16, "nvidia-223": 0, "nvidia-232": 0, "nvidia-234": 0}
    rps = {k: d["rp_uuid"] for k, d in by_suffix(api).items()}
    status, refused = bind(api, vgpu_profile(api, "nvidia-232"), rps["nvidia-232"], "host-t4")
    assert status == 409 and refused["state"] == "Initial"
    assert bind(api, vgpu_profile(api, "nvidia-222"), rps["nvidia-222"], "host-t4")[0] == 202


def test_the_type_that_fills_the_gpu_leaves_no_room_for_any_other(api: Api, idle_t4: Path) -> None:
    rps = {k: d["rp_uuid"] for k, d in by_suffix(api).items()}
    assert bind(api, vgpu_profile(api, "nvidia-234"), rps["nvidia-234"], "host-t4")[0] == 202
    assert offers(api) == {"nvidia-222": 0, "nvidia-223": 0, "nvidia-232": 0, "nvidia-234": 1}
    status, refused = bind(api, vgpu_profile(api, "nvidia-222"), rps["nvidia-222"], "host-t4")
    assert status == 409 and refused["state"] == "Initial"


def test_a100_with_16_vfs_is_bounded_by_max_instance_and_falls_as_vgpus_are_bound(
    api: Api, tmp_path: Path
) -> None:
    b = SysfsBuilder(tmp_path / "a100")
    gpu.a100_sriov(b, A100, vfs=16)
    report(api, b.root, "host-a100")
    # One slot per VF (16 handles each), but the type's description says max_instance 10 (4C)
    # and 8 (5C), and 40 GiB of framebuffer agrees.
    assert offers(api) == {"nvidia-471": 10, "nvidia-472": 8}
    rps = {k: d["rp_uuid"] for k, d in by_suffix(api).items()}
    vgpu_profile(api, "nvidia-471")
    profile(api, "eight-4c", {"resources:VGPU": "8", "trait:CUSTOM_VGPU_TYPE_NVIDIA_471": "required"})
    assert [c["hostname"] for c in candidates(api, "eight-4c")] == ["host-a100"]

    for _ in range(3):
        assert bind(api, "nvidia-471", rps["nvidia-471"], "host-a100")[0] == 202
    # 7 left of 4C: eight no longer fit; 5C offers nothing once 4C is in use.
    assert offers(api) == {"nvidia-471": 10, "nvidia-472": 0}
    assert candidates(api, "eight-4c") == []
    for _ in range(7):
        assert bind(api, "nvidia-471", rps["nvidia-471"], "host-a100")[0] == 202
    status, eleventh = bind(api, "nvidia-471", rps["nvidia-471"], "host-a100")
    assert status == 409 and "at most 10 units" in eleventh["response"]["error_message"]
    assert candidates(api, "nvidia-471") == []


def test_mig_whole_gpu_and_partitions_exclude_each_other(api: Api, tmp_path: Path) -> None:
    b = SysfsBuilder(tmp_path / "mig")
    pf = gpu.go_nvlib_mock_a100(b)
    migs = [MigInstance("1g.5gb", f"MIG-{i}", i) for i in range(7)]
    report(api, b.root, "host-mig", StaticNvml({pf: migs}))
    found = by_suffix(api)
    assert offers(api) == {"mig-1g.5gb": 7, pf: 1}
    profile(api, "mig", {"resources:CUSTOM_MIG_1G_5GB": "1"})
    profile(api, "whole", {"resources:PGPU": "1"})

    assert bind(api, "mig", found["mig-1g.5gb"]["rp_uuid"], "host-mig")[0] == 202
    status, whole = bind(api, "whole", found[pf]["rp_uuid"], "host-mig")
    assert status == 409 and "overdrawn" in whole["response"]["error_message"]
    assert offers(api) == {"mig-1g.5gb": 7, pf: 0}
    assert candidates(api, "whole") == []

    # Unbound, the MIG device frees its slices: the whole GPU can be taken, and then no MIG device.
    arq = next(a for a in api.get("/v2/accelerator_requests").json()["arqs"] if a["state"] == "Bound")
    assert (
        api.as_(NOVA)
        .patch(
            "/v2/accelerator_requests",
            json={
                arq["uuid"]: [
                    {"op": "remove", "path": "/hostname"},
                    {"op": "remove", "path": "/device_rp_uuid"},
                    {"op": "remove", "path": "/instance_uuid"},
                ]
            },
        )
        .status_code
        == 202
    )
    assert bind(api, "whole", found[pf]["rp_uuid"], "host-mig")[0] == 202
    assert offers(api) == {"mig-1g.5gb": 0, pf: 1}
    assert bind(api, "mig", found["mig-1g.5gb"]["rp_uuid"], "host-mig")[0] == 409


def test_hostless_bind_skips_a_type_that_cannot_coexist(api: Api, tmp_path: Path) -> None:
    for host, pf in (("host-1", "0000:3b:00.0"), ("host-2", "0000:5e:00.0")):
        b = SysfsBuilder(tmp_path / host)
        gpu.tesla_t4_with_vgpu(b, pf)
        report(api, b.root, host)
    vgpu_profile(api, "nvidia-222")
    vgpu_profile(api, "nvidia-223")
    rp_222 = next(
        d["rp_uuid"]
        for d in api.get("/v2/deployables").json()["deployables"]
        if d["name"] == "host-1_0000:3b:00.0-nvidia-222"
    )
    assert bind(api, "nvidia-222", rp_222, "host-1")[0] == 202

    [arq] = (
        api.as_(MEMBER)
        .post("/v2/accelerator_requests", json={"device_profile_name": "nvidia-223"})
        .json()["arqs"]
    )
    r = api.as_(NOVA).patch(
        "/v2/accelerator_requests",
        json={arq["uuid"]: [{"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())}]},
    )
    assert r.status_code == 202, r.text
    assert api.get(f"/v2/accelerator_requests/{arq['uuid']}").json()["hostname"] == "host-2"


def test_two_groups_of_exclusive_types_on_one_gpu_are_no_candidate(api: Api, idle_t4: Path) -> None:
    both = [
        {"resources:VGPU": "1", "trait:CUSTOM_VGPU_TYPE_NVIDIA_222": "required"},
        {"resources:VGPU": "1", "trait:CUSTOM_VGPU_TYPE_NVIDIA_223": "required"},
    ]
    assert api.post("/v2/device_profiles", json=[{"name": "mixed", "groups": both}]).status_code == 201
    same = [both[0], dict(both[0])]
    assert api.post("/v2/device_profiles", json=[{"name": "two-1b", "groups": same}]).status_code == 201
    assert candidates(api, "mixed") == []
    assert [c["hostname"] for c in candidates(api, "two-1b")] == ["host-t4"]

"""Nova 34's own Cyborg code (`tests/nova_driver/drive_cyborg.py`, in `.venv-nova`) against a live
Accord whose hosts are reported by the real agent from fixture trees: a flavor's device profile
and a Neutron port's, bound through nova-conductor's code, waited for by nova-compute's, and the
port's binding profile written by Nova's Neutron code from the bound ARQ (SR-IOV VF: `pci_slot`
and `physical_network`; the SmartNIC facts on the ARQ itself). Accord's bind events reach
Nova's event plumbing through the Nova stub."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.agent.loop import Agent
from accord.agent.runner import AgentOptions, build_agent
from tests.fixtures.sysfs.hosts import FIXTURES
from tests.live_server import LiveServer, live_server
from tests.nova_driver.runner import NovaDriver, run_plan
from tests.stubs.nova import NovaStub, nova_stub

NIC_HOST = "node-n"
GPU_HOST = "node-g"
E810 = "0000:17:00.0"
QAT = "0000:3d:00.0"
T4_TYPE = "nvidia-222"
PROFILES = {
    "qat": [{"resources:CUSTOM_QAT": "1"}],
    "vf-physnet1": [{"resources:CUSTOM_NIC": "1", "trait:CUSTOM_PHYSNET1": "required"}],
    "two-vfs": [{"resources:CUSTOM_NIC": "2"}],
    "vgpu": [{"resources:VGPU": "1"}],
}


@dataclass
class Cloud:
    server: LiveServer
    stub: NovaStub
    admin: httpx.Client
    tmp: Path

    def agent(self, host: str, fixture: str, **options: Any) -> Agent:
        root = self.tmp / fixture
        shutil.copytree(FIXTURES / fixture, root, symlinks=True)
        token = self.server.token("agents", "agent", host=host)
        agent = build_agent(
            AgentOptions(
                server=self.server.url, hostname=host, sysfs_root=root, token=token, simulate=True, **options
            )
        )
        agent.run_once()
        return agent

    def rp(self, host: str, local_name: str) -> str:
        deployables = self.admin.get("/v2/deployables").json()["deployables"]
        (rp,) = [d["rp_uuid"] for d in deployables if d["name"] == f"{host}_{local_name}"]
        return str(rp)

    def plan(
        self, steps: list[dict[str, Any]], binding_timeout_s: int = 60, service_token: bool = True
    ) -> dict[str, Any]:
        """Nova's settings in token mode: the user's token, and the service token the
        `[service_user]` section adds (`send_service_user_token`)."""
        endpoint = self.server.url + "/v2"
        return {
            "conf": {
                "DEFAULT": {"arq_binding_timeout": binding_timeout_s},
                "cyborg": {"endpoint_override": endpoint},
                "service_user": {
                    "send_service_user_token": str(service_token).lower(),
                    "auth_type": "admin_token",
                    "endpoint": endpoint,
                    "token": self.server.token("service", "service", user="nova"),
                },
            },
            "user": {
                "token": self.server.token("p-demo", "member", user="alice"),
                "user_id": "alice",
                "project_id": "p-demo",
            },
            "events_url": self.stub.url + "/_events",
            "hostname": NIC_HOST,
            "steps": steps,
        }


@pytest.fixture
def cloud(tmp_path: Path, database_url: str) -> Iterator[Cloud]:
    with nova_stub() as stub:
        env = {
            "ACCORD_RECONCILE_INTERVAL_S": "0",
            "ACCORD_NOVA_URL": stub.url + "/v2.1",
            "ACCORD_NOVA_TOKEN": "accord-calls-nova",
        }
        with live_server(tmp_path / "srv", database_url, env=env) as server:
            admin = httpx.Client(
                base_url=server.url, headers={"X-Auth-Token": server.token("p-admin", "admin")}
            )
            for name, groups in PROFILES.items():
                created = admin.post("/v2/device_profiles", json=[{"name": name, "groups": groups}])
                assert created.status_code == 201, created.text
            yield Cloud(server, stub, admin, tmp_path)
            admin.close()


def by_step(records: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(r["step"], r.get("result", r.get("error"))) for r in records if r["phase"] == "done"]


def test_flavor_and_port_profiles_through_nova(cloud: Cloud) -> None:
    agent = cloud.agent(NIC_HOST, "qat-nic", physnets=(("ens1f0", "physnet1"),))
    qat_rp, nic_rp = cloud.rp(NIC_HOST, QAT), cloud.rp(NIC_HOST, E810)
    vm, port = str(uuid.uuid4()), str(uuid.uuid4())
    port_group = f"device_profile_0{port}"
    driver = NovaDriver(
        cloud.plan(
            [
                {"do": "request_groups", "profile": "vf-physnet1", "owner": port},
                {
                    "do": "boot",
                    "instance": vm,
                    "flavor_profile": "qat",
                    "ports": [{"port_id": port, "device_profile": "vf-physnet1"}],
                    "providers": {"device_profile_0": qat_rp, port_group: nic_rp},
                },
                {"do": "arq_uuids", "instance": vm},
                {"do": "events", "expect": 2},
                {"do": "delete_instance", "instance": vm},
                {"do": "arqs", "instance": vm},
                {"do": "delete_instance", "instance": vm},
            ]
        ),
        cloud.tmp / "nova-driver.log",
    )
    # nova-api: the port's profile as one request group named after the port.
    groups = driver.next()["result"]["groups"]
    assert groups == [
        {
            "requester_id": port_group,
            "resources": {"CUSTOM_NIC": 1},
            "required_traits": ["CUSTOM_PHYSNET1"],
            "forbidden_traits": [],
            "provider_uuids": [],
        }
    ]
    # nova-conductor: two ARQs (flavor and port), bound at once (plain PCI).
    bound = driver.next()
    assert bound["phase"] == "bound"
    assert len(bound["accel_uuids"]) == 2
    port_arq = bound["arq_uuid_by_port"][port]
    assert bound["after_bind"]["states"] == ["Bound", "Bound"]
    assert sorted(bound["after_bind"]["resolved"]) == bound["accel_uuids"]

    boot = driver.next()["result"]
    assert boot["timed_out"] is False
    # The events came before nova-compute waited: its early check let it skip them.
    assert boot["exited_early"] == bound["accel_uuids"]
    assert boot["port_arqs"] == [port_arq]
    (flavor_arq,) = boot["spec_arqs"]
    arqs = {a["uuid"]: a for a in boot["arqs"]}
    assert arqs[flavor_arq]["device_rp_uuid"] == qat_rp
    assert arqs[port_arq]["device_rp_uuid"] == nic_rp
    assert {a["hostname"] for a in arqs.values()} == {NIC_HOST}
    vf = arqs[port_arq]["attach_handle_info"]
    slot = f"{vf['domain']}:{vf['bus']}:{vf['device']}.{vf['function']}"
    assert slot in ("0000:17:01.0", "0000:17:01.1")
    # Neutron's binding profile, from Nova's get_arq_pci_device_profile.
    assert boot["binding_profiles"] == {
        port: {"physical_network": "physnet1", "pci_slot": slot, "arq_uuid": port_arq}
    }
    # The SmartNIC facts the agent read from sysfs, under Nova's names, on the ARQ.
    assert vf["card_serial_number"] == "B49691170000"
    assert vf["pf_mac_address"] == "b4:96:91:17:00:00"
    assert vf["vf_num"] == slot[-1]

    rest = driver.finish()
    steps = by_step(rest)
    assert steps[0] == ("arq_uuids", bound["accel_uuids"])
    events = steps[1][1]
    assert events["invalid"] == []
    assert sorted(e["key"] for e in events["delivered"]) == sorted(
        f"accelerator-request-bound-{u}" for u in bound["accel_uuids"]
    )
    assert {(e["status"], e["version"]) for e in events["delivered"]} == {("completed", "compute 2.82")}
    assert steps[2] == ("delete_instance", "deleted")
    # Nova treats an instance without ARQs as an error; deleting again is fine.
    assert steps[3] == ("arqs", "AcceleratorRequestOpFailed")
    assert steps[4] == ("delete_instance", "deleted")
    for arq_uuid in bound["accel_uuids"]:
        assert cloud.admin.get(f"/v2/accelerator_requests/{arq_uuid}").status_code == 404
    assert agent.run_operations() == 0


def test_failed_binds_and_cleanups_through_nova(cloud: Cloud) -> None:
    cloud.agent(NIC_HOST, "qat-nic", physnets=(("ens1f0", "physnet1"),))
    qat_rp = cloud.rp(NIC_HOST, QAT)
    unknown_rp = str(uuid.uuid4())
    vm, port = str(uuid.uuid4()), str(uuid.uuid4())
    records = run_plan(
        cloud.plan(
            [
                # A port's profile may ask for one device only: nova-api refuses two.
                {
                    "do": "boot",
                    "instance": vm,
                    "ports": [{"port_id": port, "device_profile": "two-vfs"}],
                    "providers": {},
                },
                # Placement's answer names a provider Accord does not have: the bind is refused,
                # nova-conductor deletes the ARQs it created.
                {
                    "do": "boot",
                    "instance": vm,
                    "flavor_profile": "qat",
                    "providers": {"device_profile_0": unknown_rp},
                },
                {"do": "create_arqs", "profile": "qat"},
            ]
        ),
        cloud.tmp / "nova-driver.log",
    )
    assert by_step(records)[0] == ("boot", "DeviceProfileError")
    assert by_step(records)[1] == ("boot", "AcceleratorRequestBindingFailed")
    assert cloud.admin.get("/v2/accelerator_requests").json()["arqs"] == [by_step(records)[2][1][0]]

    (created,) = by_step(records)[2][1]
    cleanup = run_plan(
        cloud.plan(
            [
                {"do": "delete_arqs", "uuids": [created["uuid"]]},
                {"do": "delete_arqs", "uuids": [created["uuid"]]},  # not idempotent: Nova logs it
                {"do": "arq", "uuid": created["uuid"]},
            ]
        ),
        cloud.tmp / "nova-driver-2.log",
    )
    assert by_step(cleanup)[:2] == [("delete_arqs", "requested")] * 2
    assert by_step(cleanup)[2] == ("arq", "AcceleratorRequestOpFailed")
    assert cloud.admin.get("/v2/accelerator_requests").json()["arqs"] == []

    # Without `send_service_user_token` Nova binds with the user's token alone: a member may
    # not bind, so the boot fails and nova-conductor deletes the ARQ.
    no_service = run_plan(
        cloud.plan(
            [
                {
                    "do": "boot",
                    "instance": vm,
                    "flavor_profile": "qat",
                    "providers": {"device_profile_0": qat_rp},
                }
            ],
            service_token=False,
        ),
        cloud.tmp / "nova-driver-3.log",
    )
    assert by_step(no_service) == [("boot", "AcceleratorRequestBindingFailed")]
    assert "403" in no_service[-1]["message"]
    assert cloud.admin.get("/v2/accelerator_requests").json()["arqs"] == []


def test_nova_waits_for_a_vgpu_bind_that_needs_the_agent(cloud: Cloud) -> None:
    agent = cloud.agent(GPU_HOST, "gpu-mdev")
    vgpu_rp = cloud.rp(GPU_HOST, f"0000:3b:00.0-{T4_TYPE}")
    vm = str(uuid.uuid4())
    plan = cloud.plan(
        [
            {
                "do": "boot",
                "instance": vm,
                "flavor_profile": "vgpu",
                "providers": {"device_profile_0": vgpu_rp},
            },
            {"do": "events", "expect": 1},
            {"do": "delete_instance", "instance": vm},
        ]
    )
    plan["hostname"] = GPU_HOST
    driver = NovaDriver(plan, cloud.tmp / "nova-driver.log")
    bound = driver.next()
    (arq_uuid,) = bound["accel_uuids"]
    # The mdev is not there yet: nothing resolved, the ARQ waits for the agent.
    assert bound["after_bind"] == {"resolved": [], "states": ["BindStarted"]}

    assert agent.run_operations() == 1  # the agent creates the mdev; Accord tells Nova
    boot = driver.next()["result"]
    assert boot["timed_out"] is False
    (arq,) = boot["arqs"]
    assert (arq["uuid"], arq["state"], arq["attach_handle_type"]) == (arq_uuid, "Bound", "MDEV")
    rest = by_step(driver.finish())
    (event,) = rest[0][1]["delivered"]
    assert event["key"] == f"accelerator-request-bound-{arq_uuid}"
    assert event["status"] == "completed"
    # Either the event woke nova-compute's waiter, or the early check had already seen the bind.
    assert event["to_waiter"] or boot["exited_early"] == [arq_uuid]
    assert rest[1] == ("delete_instance", "deleted")
    assert cloud.admin.get(f"/v2/accelerator_requests/{arq_uuid}").status_code == 404
    assert agent.run_operations() == 1  # the mdev is removed


def test_nova_gives_up_on_a_bind_the_agent_never_finishes(cloud: Cloud) -> None:
    cloud.agent(GPU_HOST, "gpu-mdev")
    vgpu_rp = cloud.rp(GPU_HOST, f"0000:3b:00.0-{T4_TYPE}")
    vm = str(uuid.uuid4())
    plan = cloud.plan(
        [
            {
                "do": "boot",
                "instance": vm,
                "flavor_profile": "vgpu",
                "providers": {"device_profile_0": vgpu_rp},
            }
        ],
        binding_timeout_s=1,
    )
    plan["hostname"] = GPU_HOST
    bound, done = run_plan(plan, cloud.tmp / "nova-driver.log")
    (arq_uuid,) = bound["accel_uuids"]
    # No agent runs: nova-compute times out and deletes the ARQ, as it aborts the build.
    assert done["result"] == {"timed_out": True, "accel_uuids": [arq_uuid]}
    assert cloud.admin.get(f"/v2/accelerator_requests/{arq_uuid}").status_code == 404

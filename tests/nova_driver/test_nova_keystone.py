"""Nova 34's Cyborg code as a real deployment runs it: a Keystone user's token with its catalog
(Nova finds Accord as `accelerator` under `/accelerator/v2`, no endpoint override), Nova's
`[service_user]` logging in to Keystone with a password for the service token, and Accord in
keystone mode validating both."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import httpx

from accord.agent.runner import AgentOptions, build_agent
from tests.fixtures.sysfs.hosts import FIXTURES
from tests.keystone_server import (
    REGION,
    USER_PASSWORD,
    KeystoneCloud,
)
from tests.live_server import live_server
from tests.nova_driver.runner import run_plan
from tests.stubs.nova import nova_stub
from tests.tempest.workspace import accord_keystone_config

HOST = "node-n"
E810 = "0000:17:00.0"
QAT = "0000:3d:00.0"


def keystone_plan(ks: KeystoneCloud, events_url: str, steps: list[dict[str, object]]) -> dict[str, object]:
    """nova.conf as documented in docs/openstack.md, and a member of project-a booting."""
    login = {"user_domain_name": "Default", "project_domain_name": "Default"}
    return {
        "conf": {
            "cyborg": {"region_name": REGION, "valid_interfaces": "public"},
            "service_user": {
                "send_service_user_token": "true",
                "auth_type": "password",
                "auth_url": ks.identity_url,
                "username": "nova",
                "password": USER_PASSWORD,
                "project_name": "service",
                **login,
            },
        },
        "user": {
            "auth_url": ks.identity_url,
            "username": "a-member",
            "password": USER_PASSWORD,
            "project_name": "project-a",
            **login,
        },
        "events_url": events_url,
        "hostname": HOST,
        "steps": steps,
    }


def test_boot_and_delete_with_keystone_tokens(
    keystone: KeystoneCloud,
    tmp_path: Path,
    database_url: str,
) -> None:
    config = accord_keystone_config(tmp_path / "accord.toml", keystone)
    with nova_stub() as stub:
        env = {"ACCORD_RECONCILE_INTERVAL_S": "0", "ACCORD_NOVA_URL": stub.url + "/v2.1"}
        with live_server(tmp_path / "srv", database_url, auth="keystone", config=config, env=env) as server:
            root = tmp_path / "qat-nic"
            shutil.copytree(FIXTURES / "qat-nic", root, symlinks=True)
            agent_token = server.token("agents", "agent", host=HOST)
            physnets = (("ens1f0", "physnet1"),)
            options = AgentOptions(
                server=server.url, hostname=HOST, sysfs_root=root, token=agent_token, physnets=physnets
            )
            with build_agent(options) as agent:
                agent.run_once()
            keystone.register_accelerator(server.url + "/accelerator/v2")
            admin = httpx.Client(base_url=server.url, headers={"X-Auth-Token": keystone.token("a-admin")})
            for name, groups in {
                "qat": [{"resources:CUSTOM_QAT": "1"}],
                "vf-physnet1": [{"resources:CUSTOM_NIC": "1", "trait:CUSTOM_PHYSNET1": "required"}],
            }.items():
                created = admin.post("/v2/device_profiles", json=[{"name": name, "groups": groups}])
                assert created.status_code == 201, created.text
            rps = {d["name"]: d["rp_uuid"] for d in admin.get("/v2/deployables").json()["deployables"]}

            vm, port = str(uuid.uuid4()), str(uuid.uuid4())
            records = run_plan(
                keystone_plan(
                    keystone,
                    stub.url + "/_events",
                    [
                        {
                            "do": "boot",
                            "instance": vm,
                            "flavor_profile": "qat",
                            "ports": [{"port_id": port, "device_profile": "vf-physnet1"}],
                            "providers": {
                                "device_profile_0": rps[f"{HOST}_{QAT}"],
                                f"device_profile_0{port}": rps[f"{HOST}_{E810}"],
                            },
                        },
                        {"do": "events", "expect": 2},
                        {"do": "delete_instance", "instance": vm},
                    ],
                ),
                tmp_path / "nova-driver.log",
            )
            bound, boot, events, deleted = records
            assert bound["after_bind"]["states"] == ["Bound", "Bound"], records
            arqs = boot["result"]["arqs"]
            # The ARQs belong to the user's Keystone project.
            assert {a["project_id"] for a in arqs} == {keystone.project_ids["project-a"]}
            assert boot["result"]["binding_profiles"][port]["physical_network"] == "physnet1"
            assert len(events["result"]["delivered"]) == 2
            assert deleted["result"] == "deleted"
            assert admin.get("/v2/accelerator_requests").json()["arqs"] == []
            admin.close()

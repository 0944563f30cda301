"""Nova's conversation with Cyborg, request for request, against a real Accord server.

`NovaCyborgClient` repeats what nova/accelerator/cyborg.py (nova 34) sends, through a
keystoneauth1 adapter carrying the user's token plus a service token, as Nova's
`service_auth` wrapper does: GET /device_profiles?name=, POST /accelerator_requests, PATCH
/accelerator_requests with `add` ops, GET ?instance=, DELETE ?arqs= after a failed bind, and
DELETE ?instance= when the server is deleted. A Nova stub on loopback receives Accord's
`accelerator-request-bound` events (contract §2.2 step 6, §2.4).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from keystoneauth1 import adapter, service_token, session, token_endpoint

from tests.compat.hardware import HOST, Hardware, report_fpga_host
from tests.live_server import LiveServer, free_port, live_server
from tests.stubs.nova import NovaStub, nova_stub

ACCORD_TO_NOVA_TOKEN = "accord-calls-nova"
RESOLVED = ("Bound", "BindFailed", "Deleting")


class NovaCyborgClient:
    """The requests of nova.accelerator.cyborg._CyborgClient, with Nova's credentials."""

    def __init__(self, endpoint: str, user_token: str, nova_service_token: str) -> None:
        auth = service_token.ServiceTokenAuthWrapper(
            user_auth=token_endpoint.Token(endpoint, user_token),
            service_auth=token_endpoint.Token(endpoint, nova_service_token),
        )
        self.client = adapter.Adapter(
            session.Session(auth=auth), service_type="accelerator", endpoint_override=endpoint
        )

    def get_device_profile_groups(self, name: str) -> list[dict[str, Any]]:
        profiles = self.client.get("/device_profiles", params={"name": name}).json()["device_profiles"]
        assert len(profiles) == 1, f"Nova expects exactly one device profile named {name}"
        return list(profiles[0]["groups"])

    def create_arqs_and_match_resource_providers(
        self, name: str, rg_rp_map: dict[str, list[str]]
    ) -> list[dict[str, Any]]:
        arqs: list[dict[str, Any]] = self.client.post(
            "/accelerator_requests", json={"device_profile_name": name}
        ).json()["arqs"]
        for arq in arqs:
            arq["device_rp_uuid"] = rg_rp_map[f"device_profile_{arq['device_profile_group_id']}"][0]
        return arqs

    def bind_arqs(self, bindings: dict[str, dict[str, str]]) -> int:
        patch = {
            arq_uuid: [{"path": "/" + field, "op": "add", "value": value} for field, value in binding.items()]
            for arq_uuid, binding in bindings.items()
        }
        return int(self.client.patch("/accelerator_requests", json=patch).status_code)

    def get_arqs_for_instance(self, instance_uuid: str, only_resolved: bool = False) -> list[dict[str, Any]]:
        arqs: list[dict[str, Any]] = self.client.get(
            "/accelerator_requests", params={"instance": instance_uuid}
        ).json()["arqs"]
        return [a for a in arqs if a["state"] in RESOLVED] if only_resolved else arqs

    def delete_arqs_for_instance(self, instance_uuid: str) -> int:
        response = self.client.delete("/accelerator_requests", params={"instance": instance_uuid})
        return int(response.status_code)

    def delete_arqs_by_uuid(self, arq_uuids: list[str]) -> int:
        response = self.client.delete("/accelerator_requests", params={"arqs": ",".join(arq_uuids)})
        return int(response.status_code)


def admin_setup(server: LiveServer, vfs: int, profiles: dict[str, list[dict[str, str]]]) -> Hardware:
    admin = server.token("p-admin", "admin")
    hw = report_fpga_host(server, admin, vfs=vfs)
    for name, groups in profiles.items():
        response = httpx.post(
            server.url + "/v2/device_profiles",
            json=[{"name": name, "groups": groups}],
            headers={"X-Auth-Token": admin},
        )
        assert response.status_code == 201, response.text
    return hw


def nova_for(server: LiveServer) -> NovaCyborgClient:
    return NovaCyborgClient(
        server.url + "/v2",
        server.token("p-demo", "member", user="alice"),
        server.token("service", "service", user="nova"),
    )


def boot(nova: NovaCyborgClient, profile: str, rp_uuid: str, instance: str) -> list[dict[str, Any]]:
    """nova-api reads the profile's groups; nova-conductor creates the ARQs and binds them."""
    groups = nova.get_device_profile_groups(profile)
    rg_rp_map = {f"device_profile_{i}": [rp_uuid] for i in range(len(groups))}
    arqs = nova.create_arqs_and_match_resource_providers(profile, rg_rp_map)
    bindings = {
        a["uuid"]: {"hostname": HOST, "device_rp_uuid": a["device_rp_uuid"], "instance_uuid": instance}
        for a in arqs
    }
    assert nova.bind_arqs(bindings) == 202
    return arqs


def expected_events(instance: str, arqs: list[dict[str, Any]], status: str) -> list[dict[str, str]]:
    return sorted(
        (
            {"name": "accelerator-request-bound", "server_uuid": instance, "tag": a["uuid"], "status": status}
            for a in arqs
        ),
        key=lambda e: e["tag"],
    )


def events_for(stub: NovaStub, instance: str, total: int) -> list[dict[str, str]]:
    """The instance's events, once the stub has received `total` events in all."""
    stub.wait_for_events(total)
    return sorted((e for e in stub.events() if e["server_uuid"] == instance), key=lambda e: e["tag"])


def nova_env(nova_url: str, **extra: str) -> dict[str, str]:
    return {
        "ACCORD_RECONCILE_INTERVAL_S": "0",
        "ACCORD_NOVA_URL": nova_url,
        "ACCORD_NOVA_TOKEN": ACCORD_TO_NOVA_TOKEN,
        **extra,
    }


TWO_GROUPS = [{"resources:FPGA": "1", "trait:CUSTOM_FPGA_INTEL": "required"}, {"resources:FPGA": "1"}]


def test_boot_then_delete_two_accelerators(data_dir: Path, database_url: str) -> None:
    with nova_stub() as stub, live_server(data_dir, database_url, env=nova_env(stub.url + "/v2.1")) as server:
        hw = admin_setup(server, vfs=2, profiles={"fpga-x2": TWO_GROUPS})
        nova = nova_for(server)
        assert nova.get_device_profile_groups("fpga-x2") == TWO_GROUPS

        vm = str(uuid.uuid4())
        arqs = boot(nova, "fpga-x2", hw.rp_uuid, vm)
        assert sorted(a["device_profile_group_id"] for a in arqs) == [0, 1]
        assert events_for(stub, vm, 2) == expected_events(vm, arqs, "completed")
        (post,) = stub.event_posts()
        assert post.path == "/v2.1/os-server-external-events"
        assert post.headers["OpenStack-API-Version"] == "compute 2.82"
        assert post.headers["X-Auth-Token"] == ACCORD_TO_NOVA_TOKEN

        # nova-compute: what it reads to build the guest's PCI hostdevs.
        resolved = nova.get_arqs_for_instance(vm, only_resolved=True)
        assert {a["uuid"] for a in resolved} == {a["uuid"] for a in arqs}
        seen = {(a["state"], a["hostname"], a["device_rp_uuid"], a["attach_handle_type"]) for a in resolved}
        assert seen == {("Bound", HOST, hw.rp_uuid, "PCI")}
        infos = [a["attach_handle_info"] for a in resolved]
        assert sorted(infos, key=str) == sorted(hw.vf_infos, key=str)
        by_state = nova.client.get("/accelerator_requests", params={"instance": vm, "bind_state": "resolved"})
        assert {a["uuid"] for a in by_state.json()["arqs"]} == {a["uuid"] for a in arqs}

        # Server delete frees both handles: a second server gets them again.
        assert nova.delete_arqs_for_instance(vm) == 204
        assert nova.get_arqs_for_instance(vm) == []
        assert nova.delete_arqs_for_instance(vm) == 204  # idempotent, as Nova may retry
        vm2 = str(uuid.uuid4())
        arqs2 = boot(nova, "fpga-x2", hw.rp_uuid, vm2)
        assert events_for(stub, vm2, 4) == expected_events(vm2, arqs2, "completed")
        assert len(stub.events()) == 4


def test_bind_without_free_handle_reports_failed_then_cleanup(data_dir: Path, database_url: str) -> None:
    profiles = {"fpga-x2": [{"resources:FPGA": "2"}], "fpga-x1": [{"resources:FPGA": "1"}]}
    with nova_stub() as stub, live_server(data_dir, database_url, env=nova_env(stub.url + "/v2.1")) as server:
        hw = admin_setup(server, vfs=1, profiles=profiles)
        nova = nova_for(server)

        vm = str(uuid.uuid4())
        arqs = boot(nova, "fpga-x2", hw.rp_uuid, vm)
        assert len(arqs) == 2
        assert events_for(stub, vm, 2) == expected_events(vm, arqs, "failed")
        states = {a["state"] for a in nova.get_arqs_for_instance(vm, only_resolved=True)}
        assert states == {"BindFailed"}

        # nova-conductor cleans up the ARQs of a failed bind by uuid.
        uuids = [a["uuid"] for a in arqs]
        assert nova.delete_arqs_by_uuid(uuids) == 204
        for arq_uuid in uuids:
            assert nova.client.get(f"/accelerator_requests/{arq_uuid}", raise_exc=False).status_code == 404

        # The failed bind held nothing: the only handle is free for the next server.
        vm2 = str(uuid.uuid4())
        arqs2 = boot(nova, "fpga-x1", hw.rp_uuid, vm2)
        assert events_for(stub, vm2, 3) == expected_events(vm2, arqs2, "completed")
        (bound,) = nova.get_arqs_for_instance(vm2)
        assert bound["attach_handle_info"] == hw.vf_infos[0]


def wait_for_log(server: LiveServer, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = server.log()
        if text in log:
            return log
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in the server log:\n{server.log()}")


def test_binds_complete_while_nova_is_down(data_dir: Path, database_url: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    env = nova_env(closed, ACCORD_NOVA_EVENT_RETRIES="2")
    with live_server(data_dir, database_url, env=env) as server:
        hw = admin_setup(server, vfs=2, profiles={"fpga-x2": TWO_GROUPS})
        nova = nova_for(server)
        vm = str(uuid.uuid4())
        arqs = boot(nova, "fpga-x2", hw.rp_uuid, vm)
        resolved = nova.get_arqs_for_instance(vm, only_resolved=True)
        assert {(a["uuid"], a["state"]) for a in resolved} == {(a["uuid"], "Bound") for a in arqs}

        log = wait_for_log(server, "giving up on 2 bind events")
        assert "Nova unreachable (attempt 1/2)" in log
        assert "Nova unreachable (attempt 2/2)" in log
        after = nova.get_arqs_for_instance(vm)
        assert {a["state"] for a in after} == {"Bound"}

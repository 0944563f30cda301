"""openstacksdk's `conn.accelerator`, unchanged, against a real Accord server in token mode.

Every proxy method is called: with `accelerator_endpoint_override` (no discovery needed), and
without it, so the SDK discovers the endpoint from Accord's version documents, both when Accord
is reached at the root and under `/accelerator`. Facts about the SDK: docs/openstack-notes in
/work/shared and openstacksdk 4.22's openstack/accelerator/v2/.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from openstack import exceptions as sdk_exc
from openstack.connection import Connection

from tests.compat.hardware import HOST, PF, Hardware, report_fpga_host
from tests.live_server import LiveServer, live_server

QUIET = {"ACCORD_RECONCILE_INTERVAL_S": "0"}
PROFILE_GROUPS = [{"resources:FPGA": "1", "trait:CUSTOM_FPGA_INTEL": "required"}]


def connect(endpoint: str, token: str, override: bool, microversion: str | None = None) -> Connection:
    options: dict[str, Any] = {}
    if override:
        options["accelerator_endpoint_override"] = endpoint
    if microversion:
        options["accelerator_default_microversion"] = microversion
    return Connection(auth_type="admin_token", auth={"token": token, "endpoint": endpoint}, **options)


def bind_ops(hostname: str, rp_uuid: str, instance_uuid: str) -> list[dict[str, str]]:
    return [
        {"op": "add", "path": "/hostname", "value": hostname},
        {"op": "add", "path": "/device_rp_uuid", "value": rp_uuid},
        {"op": "add", "path": "/instance_uuid", "value": instance_uuid},
    ]


UNBIND_OPS = [{"op": "remove", "path": f"/{f}"} for f in ("hostname", "device_rp_uuid", "instance_uuid")]


def check_hardware_methods(admin: Connection, hw: Hardware) -> None:
    acc = admin.accelerator
    devices = list(acc.devices())
    assert [(d.id, d.type, d.vendor, d.model, d.hostname) for d in devices] == [
        (hw.device_uuid, "FPGA", "8086", "Intel PAC Arria 10", HOST)
    ]
    assert acc.get_device(hw.device_uuid).status == "enabled"
    acc.disable_device(hw.device_uuid)
    assert acc.get_device(hw.device_uuid).status == "maintaining"
    acc.enable_device(hw.device_uuid)
    assert acc.get_device(hw.device_uuid).status == "enabled"

    deployables = list(acc.deployables())
    assert [(d.id, d.device_id, d.num_accelerators) for d in deployables] == [
        (hw.deployable_uuid, hw.device_uuid, len(hw.vf_infos))
    ]
    deployable = acc.get_deployable(hw.deployable_uuid)
    assert deployable.name == f"{HOST}_{PF}"
    with pytest.raises(sdk_exc.NotFoundException):
        acc.get_deployable(str(uuid.uuid4()))


def check_profile_and_request_methods(
    admin: Connection, user: Connection, service_token: str, hw: Hardware
) -> None:
    created = admin.accelerator.create_device_profile(
        name="fpga-dp", groups=PROFILE_GROUPS, description="one Intel FPGA"
    )
    assert (created.name, created.groups) == ("fpga-dp", PROFILE_GROUPS)
    assert created.description == "one Intel FPGA"
    assert [(p.id, p.name) for p in admin.accelerator.device_profiles()] == [(created.id, "fpga-dp")]
    fetched = admin.accelerator.get_device_profile(created.id)
    assert (fetched.name, fetched.groups) == ("fpga-dp", PROFILE_GROUPS)

    acc = user.accelerator
    arq = acc.create_accelerator_request(device_profile_name="fpga-dp")
    assert (arq.state, arq.device_profile_name, arq.device_profile_group_id) == ("Initial", "fpga-dp", 0)
    assert (arq.attach_handle_type, arq.attach_handle_info, arq.instance_uuid) == ("", {}, None)
    assert [a.id for a in acc.accelerator_requests()] == [arq.id]

    instance = str(uuid.uuid4())
    with pytest.raises(sdk_exc.ForbiddenException):
        acc.patch_accelerator_request(arq.id, bind_ops(HOST, hw.rp_uuid, instance))
    assert acc.get_accelerator_request(arq.id).state == "Initial"

    user.session.additional_headers["X-Service-Token"] = service_token
    acc.patch_accelerator_request(arq.id, bind_ops(HOST, hw.rp_uuid, instance))
    bound = acc.get_accelerator_request(arq.id)
    assert (bound.state, bound.hostname, bound.device_rp_uuid, bound.instance_uuid) == (
        "Bound",
        HOST,
        hw.rp_uuid,
        instance,
    )
    assert bound.attach_handle_type == "PCI"
    assert bound.attach_handle_info in hw.vf_infos
    # The SDK's resource has no attach_handle_uuid; Nova's libvirt driver reads it from the JSON.
    raw = acc.get(f"/accelerator_requests/{arq.id}").json()
    assert uuid.UUID(raw["attach_handle_uuid"])
    assert raw["project_id"] == "p-demo"

    acc.patch_accelerator_request(arq.id, UNBIND_OPS)  # the newer name of update_
    unbound = acc.get_accelerator_request(arq.id)
    assert (unbound.state, unbound.hostname, unbound.instance_uuid) == ("Unbound", None, None)
    assert (unbound.attach_handle_type, unbound.attach_handle_info) == ("", {})

    acc.delete_accelerator_request(arq.id)
    with pytest.raises(sdk_exc.NotFoundException):
        acc.get_accelerator_request(arq.id)
    assert list(acc.accelerator_requests()) == []

    admin.accelerator.delete_device_profile(created.id)
    with pytest.raises(sdk_exc.NotFoundException):
        admin.accelerator.get_device_profile(created.id)
    assert list(admin.accelerator.device_profiles()) == []


def tokens(server: LiveServer) -> tuple[str, str, str]:
    """Admin, a project member, and Nova's service user."""
    return (
        server.token("p-admin", "admin"),
        server.token("p-demo", "member"),
        server.token("p-service", "service", user="nova"),
    )


def test_every_method_with_endpoint_override(data_dir: Path, database_url: str) -> None:
    with live_server(data_dir, database_url, env=QUIET) as server:
        admin_token, member_token, service_token = tokens(server)
        hw = report_fpga_host(server, admin_token)
        endpoint = server.url + "/v2"
        admin = connect(endpoint, admin_token, override=True, microversion="2.3")
        user = connect(endpoint, member_token, override=True)
        check_hardware_methods(admin, hw)
        check_profile_and_request_methods(admin, user, service_token, hw)


@pytest.mark.parametrize("prefix", ["", "/accelerator"])
def test_version_discovery_without_override(data_dir: Path, database_url: str, prefix: str) -> None:
    with live_server(data_dir, database_url, env=QUIET) as server:
        admin_token, member_token, service_token = tokens(server)
        hw = report_fpga_host(server, admin_token)
        base = server.url + prefix
        root = httpx.get(base + "/").json()
        assert [link["href"].rstrip("/") for link in root["versions"][0]["links"]] == [base + "/v2"]

        admin = connect(base + "/v2", admin_token, override=False, microversion="2.3")
        user = connect(base + "/v2", member_token, override=False)
        assert str(admin.accelerator.get_endpoint()).rstrip("/") == base + "/v2"
        assert str(user.accelerator.get_endpoint()).rstrip("/") == base + "/v2"
        check_hardware_methods(admin, hw)
        check_profile_and_request_methods(admin, user, service_token, hw)

        # Without a microversion the SDK speaks 2.0, where devices carry no status (2.3 adds it).
        plain_admin = connect(base + "/v2", admin_token, override=False)
        assert plain_admin.accelerator.get_device(hw.device_uuid).status is None
        links = plain_admin.accelerator.get(f"/deployables/{hw.deployable_uuid}").json()["links"]
        assert links[0]["href"] == f"{base}/v2/deployables/{hw.deployable_uuid}"


def test_attribute_methods(data_dir: Path, database_url: str) -> None:
    with live_server(data_dir, database_url, env=QUIET) as server:
        admin_token, _, _ = tokens(server)
        hw = report_fpga_host(server, admin_token)
        acc = connect(server.url + "/v2", admin_token, override=True).accelerator
        reported = {a.key: a.value for a in acc.attributes()}
        assert reported == {
            "rc": "FPGA",
            "trait0": "CUSTOM_FPGA_INTEL",
            "trait1": "CUSTOM_FPGA_INTEL_PAC_ARRIA10",
        }

        created = acc.create_attribute(deployable_id=hw.deployable_uuid, key="trait2", value="CUSTOM_ZIP")
        assert (created.key, created.value) == ("trait2", "CUSTOM_ZIP")
        assert created.deployable_id == hw.deployable_uuid
        fetched = acc.get_attribute(created.id)
        assert (fetched.key, fetched.value) == ("trait2", "CUSTOM_ZIP")
        assert "trait2" in {a.key for a in acc.attributes()}

        acc.delete_attribute(created.id)
        with pytest.raises(sdk_exc.NotFoundException):
            acc.get_attribute(created.id)
        assert {a.key for a in acc.attributes()} == set(reported)

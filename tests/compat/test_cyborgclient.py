"""`openstack accelerator …` (the OpenStack client, in subprocesses) against a real Accord server.

With python-openstackclient 10.5 installed next to python-cyborgclient 3.0, the `accelerator`
commands that answer are OSC's own (openstackclient/accelerator/v2, registered under the same
names); `--os-accelerator-api-version` comes from the cyborgclient plugin. Both sit on
openstacksdk. `arq bind` resolves the server through the compute API first, so a Nova stub
answers that look-up (pointed at with OS_COMPUTE_ENDPOINT_OVERRIDE).

Each `openstack` start costs over a second, so most commands run in batches: one process in the
client's interactive mode reading commands from stdin, auth from the OS_* variables (the
documented equivalents of the --os-* flags). The bind runs as a classic one-shot command line
with the flags. A batch fails the test if the client wrote anything to stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.compat.hardware import HOST, Hardware, report_fpga_host
from tests.live_server import LiveServer, live_server
from tests.stubs.nova import NovaStub, nova_stub

OPENSTACK = str(Path(sys.executable).parent / "openstack")
QUIET = {"ACCORD_RECONCILE_INTERVAL_S": "0"}


class Client:
    def __init__(self, server: LiveServer, token: str, nova: NovaStub) -> None:
        self.endpoint = server.url + "/v2"
        self.token = token
        clean = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        self.env = {**clean, "OS_COMPUTE_ENDPOINT_OVERRIDE": nova.url + "/v2.1"}

    def flags(self) -> list[str]:
        return [
            *("--os-auth-type", "admin_token", "--os-token", self.token),
            *("--os-endpoint", self.endpoint, "--os-accelerator-api-version", "2.3"),
        ]

    def run(self, *args: str) -> Any:
        """One classic invocation with the --os-* flags; returns its JSON output."""
        done = subprocess.run(
            [OPENSTACK, *self.flags(), *args, "-f", "json"], env=self.env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def batch(self, *commands: str) -> list[Any]:
        """Run commands in one interactive session; returns the JSON documents they printed."""
        env = {
            **self.env,
            "OS_AUTH_TYPE": "admin_token",
            "OS_TOKEN": self.token,
            "OS_ENDPOINT": self.endpoint,
            "OS_ACCELERATOR_API_VERSION": "2.3",
        }
        script = "\n".join(commands) + "\n"
        done = subprocess.run([OPENSTACK], input=script, env=env, capture_output=True, text=True)
        assert done.stderr.strip() == "", done.stderr
        return json_documents(done.stdout)


def json_documents(text: str) -> list[Any]:
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return documents
        document, position = decoder.raw_decode(text, position)
        documents.append(document)


def check_hardware_commands(cli: Client, hw: Hardware, rc_attribute: str) -> None:
    d, p = hw.device_uuid, hw.deployable_uuid
    (
        devices,
        device,
        disabled,
        enabled,
        deployables,
        deployable,
        attributes,
        attribute,
    ) = cli.batch(
        "accelerator device list -f json",
        f"accelerator device show {d} -f json",
        f"accelerator device disable {d}",
        f"accelerator device show {d} -f json",
        f"accelerator device enable {d}",
        f"accelerator device show {d} -f json",
        "accelerator deployable list -f json",
        f"accelerator deployable show {p} -f json",
        "accelerator device attribute list -f json",
        f"accelerator device attribute show {rc_attribute} -f json",
    )
    assert [(x["uuid"], x["type"], x["vendor"], x["hostname"], x["status"]) for x in devices] == [
        (d, "FPGA", "8086", HOST, "enabled")
    ]
    assert (device["model"], device["status"]) == ("Intel PAC Arria 10", "enabled")
    assert json.loads(device["std_board_info"])["pci_address"] == "0000:5e:00.0"
    assert (disabled["status"], enabled["status"]) == ("maintaining", "enabled")
    assert [(x["uuid"], x["device_id"]) for x in deployables] == [(p, d)]
    assert deployable["uuid"] == p and deployable["name"] == deployables[0]["name"]
    assert {(a["key"], a["value"]) for a in attributes} == {
        ("rc", "FPGA"),
        ("trait0", "CUSTOM_FPGA_INTEL"),
        ("trait1", "CUSTOM_FPGA_INTEL_PAC_ARRIA10"),
    }
    assert (attribute["key"], attribute["value"], attribute["deployable_id"]) == ("rc", "FPGA", p)


def check_profile_and_arq_commands(cli: Client, hw: Hardware, nova: NovaStub) -> None:
    groups = [{"resources:FPGA": "1", "trait:CUSTOM_FPGA_INTEL": "required"}, {"resources:FPGA": "1"}]
    created, profiles, shown, arq, arqs = cli.batch(
        "accelerator device profile create cli-dp --description two-fpgas"
        " --group resources:FPGA=1,trait:CUSTOM_FPGA_INTEL=required --group resources:FPGA=1 -f json",
        "accelerator device profile list -f json",
        "accelerator device profile show cli-dp -f json",
        "accelerator arq create cli-dp -f json",
        "accelerator arq list -f json",
    )
    assert (created["name"], created["groups"], created["description"]) == ("cli-dp", groups, "two-fpgas")
    assert [(x["uuid"], x["name"], x["groups"]) for x in profiles] == [(created["uuid"], "cli-dp", groups)]
    assert (shown["uuid"], shown["groups"]) == (created["uuid"], groups)
    assert (arq["state"], arq["device_profile_name"], arq["attach_handle_info"]) == ("Initial", "cli-dp", {})
    # One ARQ per group: the client shows the first, the list shows both.
    assert arq["uuid"] in {x["uuid"] for x in arqs} and len(arqs) == 2
    assert {x["state"] for x in arqs} == {"Initial"}

    server_id = str(uuid.uuid4())
    nova.add_server(server_id, "web-1")
    bound = cli.run("accelerator", "arq", "bind", arq["uuid"], HOST, server_id, hw.rp_uuid)
    assert (bound["state"], bound["hostname"], bound["instance_uuid"]) == ("Bound", HOST, server_id)
    assert bound["device_rp_uuid"] == hw.rp_uuid
    assert bound["attach_handle_type"] == "PCI" and bound["attach_handle_info"] in hw.vf_infos
    assert any(r.method == "GET" and r.path.endswith(f"/servers/{server_id}") for r in nova.requests)

    other = next(x["uuid"] for x in arqs if x["uuid"] != arq["uuid"])
    shown_arq, unbound, after_delete, after_profile_delete = cli.batch(
        f"accelerator arq show {arq['uuid']} -f json",
        f"accelerator arq unbind {arq['uuid']} -f json",
        f"accelerator arq delete {arq['uuid']} {other}",
        "accelerator arq list -f json",
        "accelerator device profile delete cli-dp",
        "accelerator device profile list -f json",
    )
    assert (shown_arq["state"], shown_arq["attach_handle_info"]) == ("Bound", bound["attach_handle_info"])
    assert (unbound["state"], unbound["instance_uuid"]) == ("Unbound", None)
    assert unbound["attach_handle_info"] == {}
    assert after_delete == [] and after_profile_delete == []


def check_attribute_writes(cli: Client, hw: Hardware) -> None:
    p = hw.deployable_uuid
    (created,) = cli.batch(f"accelerator device attribute create {p} trait2 CUSTOM_ZIP -f json")
    assert (created["key"], created["value"], created["deployable_id"]) == ("trait2", "CUSTOM_ZIP", p)
    shown, remaining = cli.batch(
        f"accelerator device attribute show {created['uuid']} -f json",
        f"accelerator device attribute delete {created['uuid']}",
        "accelerator device attribute list -f json",
    )
    assert shown["uuid"] == created["uuid"]
    assert "trait2" not in {a["key"] for a in remaining} and len(remaining) == 3


def test_openstack_accelerator_commands(data_dir: Path, database_url: str) -> None:
    with live_server(data_dir, database_url, env=QUIET) as server, nova_stub() as nova:
        # An operator token: the client has no way to add Nova's X-Service-Token, and bind needs the role.
        token = server.token("p-ops", "admin,service")
        hw = report_fpga_host(server, token)
        attributes = httpx.get(f"{server.url}/v2/attributes?key=rc", headers={"X-Auth-Token": token})
        (rc_attribute,) = [a["uuid"] for a in attributes.json()["attributes"]]
        cli = Client(server, token, nova)
        check_hardware_commands(cli, hw, rc_attribute)
        check_profile_and_arq_commands(cli, hw, nova)
        check_attribute_writes(cli, hw)

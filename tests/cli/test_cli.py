"""The CLI in process (Typer's runner) against a real server: tables, --json, exit codes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from accord.cli.main import app
from tests.live_server import LiveServer, free_port
from tests.scenarios import fpga_host_snapshot

ADMIN = {"X-Project-Id": "admin", "X-Roles": "admin,service"}


def run(server_url: str, *args: str) -> Any:
    return CliRunner().invoke(app, ["--url", server_url, *args])


def as_json(server_url: str, *args: str) -> Any:
    result = run(server_url, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_profile_lifecycle_and_exit_codes(server: LiveServer) -> None:
    created = as_json(
        server.url, "profile", "create", "dp1", "--group", "resources:FPGA=1,trait:CUSTOM_X=required"
    )
    assert created["groups"] == [{"resources:FPGA": "1", "trait:CUSTOM_X": "required"}]
    table = run(server.url, "profile", "list")
    assert table.exit_code == 0
    assert "dp1" in table.stdout
    assert as_json(server.url, "profile", "show", created["uuid"])["name"] == "dp1"
    assert run(server.url, "profile", "show", str(uuid.uuid4())).exit_code == 3
    duplicate = run(server.url, "profile", "create", "dp1", "--group", "resources:FPGA=1")
    assert duplicate.exit_code == 5
    assert "already exists" in duplicate.output
    assert run(server.url, "profile", "create", "bad!", "--group", "resources:FPGA=1").exit_code == 6
    assert run(server.url, "profile", "delete", "dp1").exit_code == 0
    assert as_json(server.url, "profile", "list") == []


def test_arq_bind_unbind_and_devices(server: LiveServer) -> None:
    httpx.post(
        f"{server.url}/v2/hosts/host-a/inventory", json=fpga_host_snapshot("host-a"), headers=ADMIN
    ).raise_for_status()
    as_json(server.url, "profile", "create", "dp", "--group", "resources:FPGA=1")
    [arq] = as_json(server.url, "arq", "create", "dp")
    [dep] = as_json(server.url, "deployable", "list")
    vm = str(uuid.uuid4())
    bound = as_json(
        server.url,
        "arq",
        "bind",
        arq["uuid"],
        "--instance",
        vm,
        "--hostname",
        "host-a",
        "--rp",
        dep["rp_uuid"],
    )
    assert bound["state"] == "Bound"
    assert bound["attach_handle_type"] == "PCI"
    assert as_json(server.url, "arq", "unbind", arq["uuid"])["state"] == "Unbound"
    [device] = as_json(server.url, "device", "list", "--hostname", "host-a")
    assert run(server.url, "device", "disable", device["uuid"]).exit_code == 0
    assert as_json(server.url, "device", "show", device["uuid"])["status"] == "maintaining"
    assert run(server.url, "device", "enable", device["uuid"]).exit_code == 0
    [host] = as_json(server.url, "host", "list")
    assert (host["name"], host["device_count"]) == ("host-a", 1)
    attributes = as_json(server.url, "attribute", "list", "--deployable", dep["uuid"])
    assert [a["key"] for a in attributes] == ["rc", "trait0", "trait1"]
    assert as_json(server.url, "quota", "set", "p1", "FPGA", "2")["limit"] == 2
    assert run(server.url, "arq", "delete", arq["uuid"]).exit_code == 0


def test_unreachable_server_exits_7() -> None:
    result = run(f"http://127.0.0.1:{free_port()}", "profile", "list")
    assert result.exit_code == 7
    assert "cannot reach Accord" in result.output


def test_token_create_prints_token_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(
        app, ["token", "create", "--project", "p1", "--roles", "member", "--host", "h1"]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    from accord.api.tokens import TokenStore

    ctx = TokenStore(tmp_path / "tokens.json").lookup(token)
    assert ctx is not None
    assert (ctx.project_id, ctx.roles, ctx.host) == ("p1", frozenset({"member"}), "h1")


def test_schedule_shows_ranked_candidates(server: LiveServer) -> None:
    for host in ("host-a", "host-b"):
        httpx.post(f"{server.url}/v2/hosts/{host}/inventory", json=fpga_host_snapshot(host), headers=ADMIN)
    as_json(
        server.url, "profile", "create", "two", "--group", "resources:FPGA=1", "--group", "resources:FPGA=1"
    )
    found = as_json(server.url, "schedule", "two", "--limit", "5")
    assert sorted(c["hostname"] for c in found) == ["host-a", "host-b"]
    assert all(len(c["groups"]) == 2 for c in found)
    table = run(server.url, "schedule", "two")
    assert table.exit_code == 0 and "host-a" in table.stdout
    assert run(server.url, "schedule", "nope").exit_code == 3

"""`accord ironic enrol|traits` in process against a real server."""

from __future__ import annotations

import json

import httpx
from typer.testing import CliRunner

from accord.api.tokens import TokenStore
from accord.cli.main import app
from tests.live_server import LiveServer
from tests.scenarios import fpga_host_snapshot

NODE = "1be26c0b-03f2-4d2d-ae87-c02d7f33c781"
ADMIN = {"X-Project-Id": "admin", "X-Roles": "admin"}


def test_enrol_issues_a_token_bound_to_the_node_and_marks_it_bare_metal(server: LiveServer) -> None:
    result = CliRunner().invoke(
        app, ["--url", server.url, "ironic", "enrol", NODE], env={"ACCORD_DATA_DIR": str(server.data_dir)}
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert "kernel_append_params" in result.stdout and f"accord_url={server.url}" in result.stdout
    ctx = TokenStore(server.data_dir / "tokens.json").lookup(token)
    assert ctx is not None and ctx.host == NODE and ctx.roles == frozenset({"agent"})
    assert httpx.get(f"{server.url}/v2/hosts/{NODE}", headers=ADMIN).json()["bare_metal"] is True


def test_traits_prints_what_the_node_should_carry(server: LiveServer) -> None:
    snapshot = fpga_host_snapshot(NODE, vfs=2)
    assert (
        httpx.post(f"{server.url}/v2/hosts/{NODE}/inventory", json=snapshot, headers=ADMIN).status_code == 200
    )
    result = CliRunner().invoke(app, ["--url", server.url, "--json", "ironic", "traits", NODE])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    expected = sorted(snapshot["devices"][0]["deployables"][0]["traits"])
    assert facts == {
        "node": NODE,
        "traits": expected,
        "properties": {"accord_fpga": 2, "accord_fpga_devices": 1},
    }
    text = CliRunner().invoke(app, ["--url", server.url, "ironic", "traits", NODE]).stdout
    assert f"trait {expected[0]}" in text and "property accord_fpga=2" in text
    unknown = CliRunner().invoke(app, ["--url", server.url, "ironic", "traits", "no-such-node"])
    assert unknown.exit_code == 3

"""`accord image|key|audit` against a real server: upload shows and checks the sha256, the
catalog states show in tables and JSON, refusals give their exit codes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from accord.cli.main import app
from accord.images.formats.build import build_gbs
from accord.images.signatures import public_key_pem, sign_digest
from tests.live_server import LiveServer

AFU = "d8424dc4-a4a9-3c26-9bd6-c0f2eb4a5e3b"
IFACE = "69528db6-eb31-577a-8c36-68f9faa081f6"


def run(server: LiveServer, *args: str) -> Any:
    return CliRunner().invoke(app, ["--url", server.url, *args])


def as_json(server: LiveServer, *args: str) -> Any:
    result = run(server, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_image_create_upload_approve_list(server: LiveServer, tmp_path: Path) -> None:
    gbs = build_gbs(AFU, IFACE, payload=b"\xa5" * 3_000_000)
    path = tmp_path / "nlb.gbs"
    path.write_bytes(gbs)
    image = as_json(server, "image", "create", "nlb", "--vendor", "intel")
    upload = run(server, "image", "upload", image["uuid"], str(path))
    assert upload.exit_code == 0, upload.output
    assert f"sha256 {hashlib.sha256(gbs).hexdigest()}" in upload.output
    approved = as_json(server, "image", "approve", image["uuid"])
    assert approved["state"] == "approved"
    assert approved["function_id"] == AFU
    listed = as_json(server, "image", "list", "--state", "approved")
    assert [i["uuid"] for i in listed] == [image["uuid"]]
    assert "nlb" in run(server, "image", "list").stdout
    actions = [e["action"] for e in as_json(server, "audit", "list", "--target", image["uuid"])]
    assert actions == ["image.approve", "image.upload", "image.create"]


def test_refusals_give_exit_codes(server: LiveServer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.gbs"
    bad.write_bytes(build_gbs(AFU, IFACE)[:30])
    image = as_json(server, "image", "create", "broken")
    result = run(server, "image", "upload", image["uuid"], str(bad))
    assert result.exit_code == 6
    assert "rejected" in result.output
    assert run(server, "image", "approve", image["uuid"]).exit_code == 5
    assert run(server, "image", "upload", image["uuid"], str(tmp_path / "missing")).exit_code == 6
    assert run(server, "image", "create", "x", "--kind", "firmware").exit_code == 6


def test_key_add_then_signed_image_approves(server: LiveServer, tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = tmp_path / "ops.pub"
    pem.write_text(public_key_pem(key))
    assert as_json(server, "key", "add", "ops", str(pem))["name"] == "ops"
    gbs = build_gbs(AFU, IFACE)
    path = tmp_path / "a.gbs"
    path.write_bytes(gbs)
    signature = sign_digest(key, hashlib.sha256(gbs).hexdigest())
    image = as_json(server, "image", "create", "signed", "--signature", signature)
    assert run(server, "image", "upload", image["uuid"], str(path)).exit_code == 0
    assert as_json(server, "image", "approve", image["uuid"])["signed"] is True
    assert [k["name"] for k in as_json(server, "key", "list")] == ["ops"]

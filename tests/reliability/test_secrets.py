"""Secrets stay secret: bearer tokens and image signatures never reach the log, whatever the
request's fate (accepted, refused, a bad service token, an unreachable database); tokens are
checked in constant time; `serve` speaks TLS and the agent verifies it against its CA file."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import logging
import os
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from accord.api.app import create_app
from accord.api.tokens import TokenStore
from accord.config import load_settings
from accord.images.formats.build import build_gbs
from accord.images.signatures import public_key_pem, sign_digest
from accord.store.db import Database
from tests.live_server import ACCORD, free_port

AFU = "f7df405c-bd7a-cf72-22f1-44b0b93acd18"
IFACE = "bfac4d85-1ca1-4a6c-8b6c-9e1e5e3a2c10"


def test_tokens_and_signatures_never_reach_the_log(
    data_dir: Path, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = TokenStore(data_dir / "tokens.json")
    admin = store.create("p", ["admin"])
    nova = store.create("services", ["service"])
    key = Ed25519PrivateKey.generate()
    gbs = build_gbs(AFU, IFACE)
    signature = sign_digest(key, hashlib.sha256(gbs).hexdigest())
    settings = load_settings(env={}, data_dir=data_dir, auth="token", reconcile_interval_s=0)
    with TestClient(create_app(settings, db=db), base_url="http://accord.test") as client:
        auth = {"X-Auth-Token": admin}
        assert (
            client.post(
                "/v2/trusted_keys", json={"name": "k", "public_key": public_key_pem(key)}, headers=auth
            ).status_code
            == 201
        )
        image = client.post(
            "/v2/images", json={"name": "i", "kind": "bitstream", "signature": signature}, headers=auth
        ).json()["uuid"]
        assert client.put(f"/v2/images/{image}/file", content=gbs, headers=auth).status_code == 200
        assert client.post(f"/v2/images/{image}/approve", headers=auth).status_code == 200
        assert client.get(f"/v2/images/{image}", headers=auth).json()["signature"] == signature
        assert client.get("/v2/devices", headers={"Authorization": f"Bearer {admin}x"}).status_code == 401
        bad_service = {"X-Auth-Token": admin, "X-Service-Token": nova + "x"}
        assert client.get("/v2/devices", headers=bad_service).status_code == 401
    gone = Database("postgresql+psycopg://postgres@127.0.0.1:9/none", connect_timeout_s=2)
    with TestClient(create_app(settings, db=gone), base_url="http://accord.test") as client:
        assert client.get("/v2/devices", headers={"X-Auth-Token": admin}).status_code == 503
    gone.dispose()
    assert "database unavailable" in caplog.text  # the log did say things
    for secret in (admin, nova, signature):
        assert secret not in caplog.text
        assert secret[:16] not in caplog.text


def test_a_token_that_differs_only_at_its_end_is_refused(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token = store.create("p", ["member"])
    assert store.lookup(token) is not None
    assert store.lookup(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.lookup("") is None


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accord-test")])
    now = dt.datetime.now(dt.UTC)
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_serve_over_tls_and_the_agent_verifies_it_with_its_ca_file(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    env = {**os.environ, "ACCORD_DATA_DIR": str(tmp_path / "data"), "ACCORD_AUTH": "noauth"}
    log_path = tmp_path / "serve.log"
    argv = [ACCORD, "serve", "--port", str(port), "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]
    with log_path.open("wb") as log:
        server = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        trust = ssl.create_default_context(cafile=str(cert))
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log_path.read_text()
            try:
                if httpx.get(url + "/healthz", verify=trust, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
        assert f"listening on {url}" in log_path.read_text()
        with pytest.raises(httpx.ConnectError):  # an unknown CA is refused
            httpx.get(url + "/healthz", timeout=5)
        agent = [ACCORD, "agent", "--server", url, "--host", "n1", "--sysfs-root", str(tmp_path), "--once"]
        agent_env = {**env, "ACCORD_DATA_DIR": str(tmp_path / "agent")}
        trusted = subprocess.run(
            [*agent, "--ca-file", str(cert)], env=agent_env, capture_output=True, text=True, timeout=60
        )
        assert trusted.returncode == 0, trusted.stderr
        untrusted = subprocess.run(
            [*agent, "--retries", "1"], env=agent_env, capture_output=True, text=True, timeout=60
        )
        assert untrusted.returncode == 7
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)

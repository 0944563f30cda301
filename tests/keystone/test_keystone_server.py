"""The real Keystone harness works: scoped tokens, implied roles, revocation, expiry, restarts."""

from __future__ import annotations

import time

import httpx

from tests.keystone_server import KeystoneCloud


def _token_body(cloud: KeystoneCloud, token: str) -> dict[str, object]:
    with cloud.admin_api() as api:
        response = api.get("/auth/tokens", headers={"X-Subject-Token": token})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()["token"]
    return body


def test_tokens_of_each_scope_carry_what_the_cloud_assigned(keystone: KeystoneCloud) -> None:
    member = _token_body(keystone, keystone.token("a-member"))
    assert member["project"]["id"] == keystone.project_ids["project-a"]  # type: ignore[index]
    # Keystone expands implied roles into the token: member implies reader.
    assert {r["name"] for r in member["roles"]} == {"member", "reader"}  # type: ignore[attr-defined]

    admin = _token_body(keystone, keystone.token("a-admin"))
    assert {"admin", "manager", "member", "reader"} <= {r["name"] for r in admin["roles"]}  # type: ignore[attr-defined]

    system = _token_body(keystone, keystone.token("admin", "system"))
    assert system["system"] == {"all": True}
    assert "project" not in system

    domain = _token_body(keystone, keystone.token("other-admin", "domain"))
    assert domain["domain"]["id"] == keystone.domain_ids["other"]  # type: ignore[index]

    nova = _token_body(keystone, keystone.token("nova"))
    assert "service" in {r["name"] for r in nova["roles"]}  # type: ignore[attr-defined]


def test_accelerator_endpoint_follows_register(keystone: KeystoneCloud) -> None:
    keystone.register_accelerator("http://127.0.0.1:1/accel")
    keystone.register_accelerator("http://127.0.0.1:2/accel")
    with keystone.admin_api() as api:
        service = api.get("/services", params={"type": "accelerator"}).json()["services"]
        assert len(service) == 1
        endpoints = api.get("/endpoints", params={"service_id": service[0]["id"]}).json()["endpoints"]
    assert {e["interface"]: e["url"] for e in endpoints} == {
        "public": "http://127.0.0.1:2/accel",
        "internal": "http://127.0.0.1:2/accel",
        "admin": "http://127.0.0.1:2/accel",
    }


def test_a_revoked_token_no_longer_validates(keystone: KeystoneCloud) -> None:
    token = keystone.issue("b-member")
    assert keystone.validate(token) == 200
    keystone.revoke(token)
    assert keystone.validate(token) == 404


def test_short_lived_issuer_tokens_expire_at_the_main_keystone(keystone: KeystoneCloud) -> None:
    with keystone.short_lived_issuer(5) as issuer:
        token = keystone.issue("a-reader", base_url=issuer.url)
        assert keystone.validate(token) == 200
    deadline = time.monotonic() + 20
    while keystone.validate(token) == 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert keystone.validate(token) == 404


def test_data_survives_a_restart(keystone: KeystoneCloud) -> None:
    token = keystone.token("a-member")
    keystone.stop()
    keystone.start()
    assert keystone.validate(token) == 200
    assert httpx.get(keystone.identity_url, timeout=5).status_code == 200

"""ACCORD_AUTH=keystone against a real Keystone 30: who gets in, with which rights, and what
happens when Keystone goes away. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.keystone.conftest import KeystoneAccord, keystone_accord, write_config

UNAUTHENTICATED = "The request you have made requires authentication."


def make_profile(accord: KeystoneAccord) -> str:
    name = f"fpga-{uuid.uuid4().hex[:8]}"
    with accord.client(**{"X-Auth-Token": accord.static_admin}) as admin:
        created = admin.post(
            "/v2/device_profiles", json=[{"name": name, "groups": [{"resources:FPGA": "1"}]}]
        )
    assert created.status_code == 201, created.text
    return name


def make_arq(client: httpx.Client, profile: str) -> str:
    response = client.post("/v2/accelerator_requests", json={"device_profile_name": profile})
    assert response.status_code == 201, response.text
    return str(response.json()["arqs"][0]["uuid"])


def bind_patch(arq: str, accord: KeystoneAccord) -> dict[str, Any]:
    return {
        arq: [
            {"op": "add", "path": "/hostname", "value": "compute-1"},
            {"op": "add", "path": "/device_rp_uuid", "value": accord.hardware.rp_uuid},
            {"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())},
        ]
    }


def assert_401(response: httpx.Response, accord: KeystoneAccord, message: str = UNAUTHENTICATED) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == {"error_message": message}
    assert response.headers["WWW-Authenticate"] == f'Keystone uri="{accord.cloud.identity_url}"'


def test_no_token_is_401_with_where_to_authenticate(accord: KeystoneAccord) -> None:
    with accord.client() as anonymous:
        assert anonymous.get("/").status_code == 200  # version discovery stays open
        assert_401(anonymous.get("/v2/device_profiles"), accord)
        assert_401(anonymous.post("/v2/accelerator_requests", json={"device_profile_name": "x"}), accord)


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        "gAAAAABn" + "A" * 176,  # shaped like a fernet token, but garbage
        "gAAAAAB%%%%~~==",  # not even base64
        "x" * 4000,
    ],
)
def test_bad_and_malformed_tokens_are_401(accord: KeystoneAccord, token: str) -> None:
    with accord.client() as anonymous:
        assert_401(anonymous.get("/v2/device_profiles", headers={"X-Auth-Token": token}), accord)


def test_a_revoked_token_is_401(accord: KeystoneAccord) -> None:
    token = accord.cloud.issue("a-reader")
    accord.cloud.revoke(token)
    with accord.client(**{"X-Auth-Token": token}) as revoked:
        assert_401(revoked.get("/v2/device_profiles"), accord)


def test_an_expired_token_is_401_even_after_it_was_cached(accord: KeystoneAccord) -> None:
    with accord.cloud.short_lived_issuer(8) as issuer:
        token = accord.cloud.issue("a-reader", base_url=issuer.url)
        with accord.client(**{"X-Auth-Token": token}) as reader:
            assert reader.get("/v2/device_profiles").status_code == 200  # valid, now cached
    with accord.client(**{"X-Auth-Token": token}) as reader:
        deadline = time.monotonic() + 30
        while reader.get("/v2/device_profiles").status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert_401(reader.get("/v2/device_profiles"), accord)


def test_roles_decide_as_cyborg_personas(accord: KeystoneAccord) -> None:
    with accord.as_("a-reader") as reader:
        assert reader.get("/v2/device_profiles").status_code == 200
        assert reader.get("/v2/accelerator_requests").status_code == 200
        devices = reader.get("/v2/devices")
        assert devices.status_code == 403
        assert (
            devices.json()["error_message"]
            == "Access was denied to the following resource: cyborg:device:get_all"
        )
    with accord.as_("a-manager") as manager:
        assert [d["uuid"] for d in manager.get("/v2/devices").json()["devices"]] == [
            accord.hardware.device_uuid
        ]
        assert manager.post(f"/v2/devices/{accord.hardware.device_uuid}/disable").status_code == 403
    with accord.as_("a-member") as member:
        refused = member.post(
            "/v2/device_profiles", json=[{"name": "nope", "groups": [{"resources:FPGA": "1"}]}]
        )
        assert refused.status_code == 403
    with accord.as_("a-admin") as admin:
        assert admin.get("/v2/devices").status_code == 200
        assert admin.get("/v2/hosts/compute-1").status_code == 200
        assert admin.get("/v2/device_profiles", params={"name": "nope"}).json()["device_profiles"] == []


@pytest.mark.parametrize(
    ("user", "scope"),
    [("admin", "system"), ("other-admin", "domain"), ("a-admin", "unscoped")],
)
def test_system_domain_and_unscoped_tokens_are_refused(accord: KeystoneAccord, user: str, scope: str) -> None:
    with accord.as_(user, scope) as caller:
        for path in ("/v2/devices", "/v2/device_profiles", "/v2/accelerator_requests"):
            assert caller.get(path).status_code == 403, path
        assert (
            caller.post(
                "/v2/device_profiles", json=[{"name": "s", "groups": [{"resources:FPGA": "1"}]}]
            ).status_code
            == 403
        )


def test_a_system_scoped_admin_gets_cyborgs_scope_403(accord: KeystoneAccord) -> None:
    with accord.as_("admin", "system") as system_admin:
        response = system_admin.get("/v2/devices")
    assert response.status_code == 403
    assert response.json()["error_message"] == (
        "cyborg:device:get_all requires a scope of project; the request was made with system scope."
    )


def test_a_foreign_domains_project_member_sees_none_of_project_a(accord: KeystoneAccord) -> None:
    profile = make_profile(accord)
    with accord.as_("a-member") as a_member:
        arq = make_arq(a_member, profile)
    with accord.as_("other-admin") as foreign:  # member of other-project in domain "other"
        assert foreign.get(f"/v2/accelerator_requests/{arq}").status_code == 404
        assert arq not in {a["uuid"] for a in foreign.get("/v2/accelerator_requests").json()["arqs"]}
        assert foreign.get("/v2/devices").status_code == 403


def test_project_b_cannot_read_bind_or_delete_project_as_arqs(accord: KeystoneAccord) -> None:
    profile = make_profile(accord)
    nova = accord.cloud.token("nova")
    with accord.as_("a-member") as a_member, accord.as_("b-member") as b_member:
        arq = make_arq(a_member, profile)
        mine = make_arq(b_member, profile)
        assert b_member.get(f"/v2/accelerator_requests/{arq}").status_code == 404
        assert [a["uuid"] for a in b_member.get("/v2/accelerator_requests").json()["arqs"]] == [mine]
        assert b_member.delete(f"/v2/accelerator_requests?arqs={arq}").status_code == 404
        assert b_member.delete(f"/v2/accelerator_requests/{arq}").status_code == 404
        # Even with Nova's service token, project B's user token does not reach A's ARQ.
        bound = b_member.patch(
            "/v2/accelerator_requests", json=bind_patch(arq, accord), headers={"X-Service-Token": nova}
        )
        assert bound.status_code == 404, bound.text
        still = a_member.get(f"/v2/accelerator_requests/{arq}")
        assert still.status_code == 200
        assert still.json()["state"] == "Initial"


def test_binds_need_a_service_token_with_the_service_role(accord: KeystoneAccord) -> None:
    profile = make_profile(accord)
    with accord.as_("a-member") as a_member:
        arq = make_arq(a_member, profile)
        alone = a_member.patch("/v2/accelerator_requests", json=bind_patch(arq, accord))
        assert alone.status_code == 403
        assert "requires a service token" in alone.json()["error_message"]
        # A valid token without the service role, sent as a service token: refused by default
        # (service_token_roles_required = true), as keystonemiddleware does.
        wrong = a_member.patch(
            "/v2/accelerator_requests",
            json=bind_patch(arq, accord),
            headers={"X-Service-Token": accord.cloud.token("b-member")},
        )
        assert_401(wrong, accord, "The service token does not carry a service role.")
        bad = a_member.patch(
            "/v2/accelerator_requests", json=bind_patch(arq, accord), headers={"X-Service-Token": "garbage"}
        )
        assert_401(bad, accord)
        assert a_member.get(f"/v2/accelerator_requests/{arq}").json()["state"] == "Initial"

        nova = accord.cloud.token("nova")
        bound = a_member.patch(
            "/v2/accelerator_requests", json=bind_patch(arq, accord), headers={"X-Service-Token": nova}
        )
        assert bound.status_code == 202, bound.text
        assert a_member.get(f"/v2/accelerator_requests/{arq}").json()["state"] == "Bound"
        instance = a_member.get(f"/v2/accelerator_requests/{arq}").json()["instance_uuid"]
        gone = a_member.delete(f"/v2/accelerator_requests?instance={instance}")
        assert gone.status_code == 403
        gone = a_member.delete(
            f"/v2/accelerator_requests?instance={instance}", headers={"X-Service-Token": nova}
        )
        assert gone.status_code == 204


def test_nova_with_its_own_service_role_creates_and_deletes_but_does_not_read(accord: KeystoneAccord) -> None:
    """Cyborg's SERVICE persona: ARQ create, update, delete; reads are for readers and admins."""
    profile = make_profile(accord)
    with accord.as_("nova") as nova:
        arq = make_arq(nova, profile)
        assert nova.get(f"/v2/accelerator_requests/{arq}").status_code == 403
        assert nova.delete(f"/v2/accelerator_requests?arqs={arq}").status_code == 204


def test_static_tokens_keep_working_beside_keystone(accord: KeystoneAccord) -> None:
    agent = accord.server.token("agent-project", "agent", user="agent-c1", host="compute-1")
    with accord.client(**{"X-Auth-Token": agent}) as agent_client:
        assert (
            agent_client.post("/v2/hosts/compute-1/heartbeat", json={"hostname": "compute-1"}).status_code
            == 200
        )
        assert (
            agent_client.post("/v2/hosts/compute-2/heartbeat", json={"hostname": "compute-2"}).status_code
            == 403
        )
    with accord.client(Authorization=f"Bearer {accord.static_admin}") as admin:
        assert admin.get("/v2/hosts").status_code == 200


def test_keystone_down_is_503_then_recovers_by_itself(accord: KeystoneAccord) -> None:
    profile = make_profile(accord)
    cached = accord.cloud.token("a-member")
    fresh = accord.cloud.issue("a-member")  # never shown to Accord yet
    with accord.client(**{"X-Auth-Token": cached}) as a_member:
        assert a_member.get("/v2/accelerator_requests").status_code == 200
    accord.cloud.stop()
    try:
        with accord.client(**{"X-Auth-Token": fresh}) as unknown:
            down = unknown.post("/v2/accelerator_requests", json={"device_profile_name": profile})
            assert down.status_code == 503
            assert "Keystone" in down.json()["error_message"]
        with accord.client(**{"X-Auth-Token": cached}) as a_member:
            # Validated before the outage: served from the cache.
            assert a_member.get("/v2/accelerator_requests").status_code == 200
    finally:
        accord.cloud.start()
    with accord.client(**{"X-Auth-Token": fresh}) as recovered:
        listed = recovered.get("/v2/accelerator_requests")
        assert listed.status_code == 200
        assert profile not in {
            a["device_profile_name"] for a in listed.json()["arqs"]
        }  # nothing half-written
        make_arq(recovered, profile)


def test_service_tokens_without_the_role_give_no_rights_when_not_required(
    accord: KeystoneAccord, tmp_path: Path
) -> None:
    """service_token_roles_required = false: the token is accepted, the bind is refused (403);
    a policy file given in [oslo_policy] applies in keystone mode too."""
    policy = tmp_path / "policy.yaml"
    policy.write_text('"cyborg:device:get_all": "rule:project_reader_or_admin"\n')
    config = write_config(tmp_path / "accord.toml", accord.cloud, policy, service_token_roles_required=False)
    with keystone_accord(accord.cloud, tmp_path / "data", accord.database_url, config) as lenient:
        profile = make_profile(lenient)
        with lenient.as_("a-member") as a_member:
            arq = make_arq(a_member, profile)
            wrong = a_member.patch(
                "/v2/accelerator_requests",
                json=bind_patch(arq, lenient),
                headers={"X-Service-Token": lenient.cloud.token("b-member")},
            )
            assert wrong.status_code == 403
            assert "requires a service token" in wrong.json()["error_message"]
        with lenient.as_("a-reader") as reader:
            assert reader.get("/v2/devices").status_code == 200
    accord.cloud.register_accelerator(accord.url)

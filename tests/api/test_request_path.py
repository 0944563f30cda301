"""The one Accord layer every request crosses (api/middleware.py with api/dispatch.py): what it
remembers between requests never leaks one request's answer into another's."""

from __future__ import annotations

import uuid

from accord.api.auth import NoAuthenticator
from tests.api.conftest import ADMIN, MEMBER, Api


def test_each_request_is_authorized_as_its_own_caller(api: Api) -> None:
    body = [{"name": "p1", "groups": [{"resources:FPGA": "1"}]}]
    for _ in range(2):  # the second round finds both callers' contexts remembered
        assert api.as_(MEMBER).post("/v2/device_profiles", json=body).status_code == 403
        assert api.as_({}).get("/v2/device_profiles").status_code == 401
        assert api.as_(ADMIN).get("/v2/device_profiles").status_code == 200


def test_noauth_takes_the_first_of_repeated_identity_headers() -> None:
    authenticate = NoAuthenticator(None)
    raw = [(b"x-roles", b"member"), (b"x-project-id", b"p1"), (b"x-roles", b"admin")]
    for _ in range(2):
        ctx = authenticate.from_raw(raw)
        assert ctx.roles == frozenset({"member"}) and ctx.project_id == "p1"
    assert authenticate.from_raw([(b"x-roles", b"admin")]).is_admin


def test_links_follow_each_requests_host(api: Api) -> None:
    api.post("/v2/device_profiles", json=[{"name": "p1", "groups": [{"resources:FPGA": "1"}]}])
    for host in ("one.example:8080", "two.example", "one.example:8080"):
        listed = api.get("/v2/device_profiles", headers={"Host": host}).json()["device_profiles"]
        assert listed[0]["links"][0]["href"].startswith(f"http://{host}/v2/device_profiles/")


def test_a_planned_routes_error_carries_microversion_headers_and_is_counted(api: Api) -> None:
    missing = api.get(
        f"/v2/device_profiles/{uuid.uuid4()}", headers={"OpenStack-API-Version": "accelerator 2.2"}
    )
    assert missing.status_code == 404
    assert missing.json()["error_message"].startswith("Device profile ")
    assert missing.headers["openstack-api-version"] == "accelerator 2.2"
    assert missing.headers["vary"] == "OpenStack-API-Version"
    text = api.as_({}).get("/metrics").text
    route = 'route="/v2/device_profiles/{ident}",status="404"'
    assert f'accord_http_requests_total{{method="GET",{route}}} 1.0' in text


def test_a_query_with_an_encoded_nul_is_400_and_a_literal_percent_is_not(api: Api) -> None:
    assert api.get("/v2/device_profiles?name=a%00b").status_code == 400
    assert api.get("/v2/device_profiles?name=a%2500b").status_code == 200

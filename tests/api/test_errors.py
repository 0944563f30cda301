"""Cross-cutting error behaviour: malformed JSON, unknown routes, wrong methods, huge bodies,
and bad input that must never break later reads."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api

GROUP = {"resources:FPGA": "1"}


def test_malformed_json_is_400(api: Api) -> None:
    r = api.post(
        "/v2/device_profiles", content=b'[{"name": "dp1", ', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json() == {"error_message": "The request body is not valid JSON."}


@pytest.mark.parametrize("body", [b'"just a string"', b"42", b"null", b"true"])
def test_non_object_json_is_400(api: Api, body: bytes) -> None:
    r = api.post("/v2/accelerator_requests", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error_message"]


def test_unknown_route_is_404_in_cyborg_format(api: Api) -> None:
    r = api.get("/v2/nothing_here")
    assert r.status_code == 404
    assert r.json() == {"error_message": "The resource could not be found."}


def test_wrong_method_is_405(api: Api) -> None:
    r = api.request("PUT", "/v2/device_profiles")
    assert r.status_code == 405
    assert r.json()["error_message"]


def test_body_over_limit_is_413_and_stores_nothing(api: Api) -> None:
    huge = [{"name": "big", "description": "x" * 2_000_000, "groups": [GROUP]}]
    r = api.post("/v2/device_profiles", json=huge)
    assert r.status_code == 413
    assert "larger than" in r.json()["error_message"]
    assert api.get("/v2/device_profiles").json() == {"device_profiles": []}


def test_chunked_body_over_limit_is_413(api: Api) -> None:
    def chunks():  # no Content-Length: the limit must still hold while streaming
        yield b'[{"name": "big", "groups": [], "description": "'
        for _ in range(300):
            yield b"x" * 8192
        yield b'"}]'

    r = api.post("/v2/device_profiles", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert api.get("/v2/device_profiles").json() == {"device_profiles": []}


def test_bad_uuid_profile_never_breaks_the_list(api: Api) -> None:
    """Cyborg stores a profile posted with uuid 'not-a-uuid', then every list answers 400."""
    assert (
        api.post(
            "/v2/device_profiles", json=[{"name": "a", "uuid": "not-a-uuid", "groups": [GROUP]}]
        ).status_code
        == 400
    )
    assert api.post("/v2/device_profiles", json=[{"name": "b", "groups": [GROUP]}]).status_code == 201
    r = api.get("/v2/device_profiles")
    assert r.status_code == 200
    assert [p["name"] for p in r.json()["device_profiles"]] == ["b"]


def test_errors_are_json_with_error_message_only(api: Api) -> None:
    r = api.get("/v2/accelerator_requests/0b3e9d8a-0c5c-4b8e-9b5a-3c0d7e7f1a22")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/json"
    assert list(r.json()) == ["error_message"]


@pytest.mark.parametrize(
    "body",
    [
        {"device_profile_name": "\u0000"},
        {"device_profile_name": "dp", "device_profile_group_id": 0, "extra": ["a\u0000b"]},
        {"device_profile_name\u0000": "dp"},
    ],
)
def test_nul_in_a_json_string_is_400_on_every_store(api: Api, body: dict[str, object]) -> None:
    """PostgreSQL cannot store NUL; both stores must refuse it the same way, before any query."""
    r = api.post("/v2/accelerator_requests", json=body)
    assert r.status_code == 400
    assert "NUL" in r.json()["error_message"]


def test_escaped_backslash_u0000_is_not_a_nul(api: Api) -> None:
    # The six characters \u0000 inside a string are legal text, not a NUL.
    r = api.post("/v2/device_profiles", json=[{"name": "a", "description": "a\\u0000", "groups": [GROUP]}])
    assert r.status_code == 201, r.text
    assert api.get("/v2/device_profiles").json()["device_profiles"][0]["description"] == "a\\u0000"


@pytest.mark.parametrize(
    "path", ["/v2/device_profiles?name=%00", "/v2/device_profiles/a%00b", "/v2/devices?hostname=x%00"]
)
def test_nul_in_the_url_is_400(api: Api, path: str) -> None:
    r = api.get(path)
    assert r.status_code == 400
    assert "NUL" in r.json()["error_message"]


def test_nul_request_stores_nothing(api: Api) -> None:
    r = api.post("/v2/device_profiles", json=[{"name": "x\u0000", "groups": [GROUP]}])
    assert r.status_code == 400
    assert api.get("/v2/device_profiles").json() == {"device_profiles": []}

"""GET / and /v2, microversion negotiation and its response headers."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api


def test_root_lists_v2_with_links_to_where_the_server_is_reached(api: Api) -> None:
    r = api.as_({}).get("/")
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == "OpenStack Cyborg API"
    assert body["versions"][0] == {
        "id": "v2",
        "status": "CURRENT",
        "max_version": "2.3",
        "min_version": "2.0",
        "links": [{"href": "http://accord.test/v2", "rel": "self"}],
    }
    assert body["default_version"] == body["versions"][0]


def test_v2_document_needs_no_auth(api: Api) -> None:
    r = api.as_({}).get("/v2")
    assert r.status_code == 200
    assert r.json() == {
        "id": "v2.0",
        "status": "CURRENT",
        "max_version": "2.3",
        "min_version": "2.0",
        "links": [{"href": "http://accord.test/v2/", "rel": "self"}],
    }


def test_served_under_accelerator_prefix_links_follow(api: Api) -> None:
    r = api.as_({}).get("/accelerator/")
    assert r.status_code == 200
    assert r.json()["versions"][0]["links"][0]["href"] == "http://accord.test/accelerator/v2"
    r = api.get("/accelerator/v2/device_profiles")
    assert r.status_code == 200
    assert r.json() == {"device_profiles": []}


def test_paths_without_v2_are_served_as_v2(api: Api) -> None:
    r = api.get("/device_profiles")
    assert r.status_code == 200
    assert r.headers["OpenStack-API-Version"] == "accelerator 2.0"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "accelerator 2.0"),
        ("accelerator 2.2", "accelerator 2.2"),
        ("2.1", "accelerator 2.1"),
        ("accelerator latest", "accelerator 2.3"),
        ("compute 2.90", "accelerator 2.0"),
        ("compute 2.90, accelerator 2.3", "accelerator 2.3"),
    ],
)
def test_microversion_header_forms(api: Api, header: str | None, expected: str) -> None:
    headers = {"OpenStack-API-Version": header} if header else {}
    r = api.get("/v2/device_profiles", headers=headers)
    assert r.status_code == 200
    assert r.headers["OpenStack-API-Version"] == expected
    assert r.headers["OpenStack-API-Minimum-Version"] == "2.0"
    assert r.headers["OpenStack-API-Maximum-Version"] == "2.3"
    assert "OpenStack-API-Version" in r.headers["Vary"]


@pytest.mark.parametrize(
    "header",
    [
        "accelerator 2.4",
        "accelerator 3.0",
        "accelerator 1.9",
        "accelerator two",
        "2.x",
        "accelerator 2.3 extra",
    ],
)
def test_microversion_outside_range_or_malformed_is_406(api: Api, header: str) -> None:
    r = api.get("/v2/device_profiles", headers={"OpenStack-API-Version": header})
    assert r.status_code == 406
    assert "[2.0, 2.3]" in r.json()["error_message"] or "Invalid" in r.json()["error_message"]

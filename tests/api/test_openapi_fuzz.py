"""A bounded schemathesis run over /openapi.json: no input may produce a 5xx, and every error
is in Cyborg's format. Runs in-process on both databases, with a host and a profile stored."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from accord.api.app import ROUTES
from tests.api.conftest import ADMIN, Api

CALLER = {**ADMIN, "X-Roles": "admin,service"}
OPERATIONS = [(r.method, r.path) for r in ROUTES]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_input_causes_a_server_error(
    client: TestClient,
    api: Api,
    one_fpga_host: dict[str, Any],
    profile: dict[str, Any],
    method: str,
    path: str,
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=int(os.environ.get("ACCORD_FUZZ_EXAMPLES", "25")),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=os.environ.get("ACCORD_FUZZ_RANDOM") is None,
    )
    def run(case: Any) -> None:
        response = case.call(headers=CALLER)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
        )
        if response.status_code >= 400:
            assert "error_message" in response.json(), response.text

    run()
    # Whatever was sent, the collections still read back.
    for collection in ("/v2/device_profiles", "/v2/accelerator_requests", "/v2/attributes", "/v2/devices"):
        assert api.get(collection).status_code == 200

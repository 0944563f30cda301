"""/metrics: Prometheus text with request counters and store gauges."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api


def test_metrics_count_requests_and_report_store_state(api: Api, profile: dict[str, Any]) -> None:
    api.post("/v2/accelerator_requests", json={"device_profile_name": "fpga1"})
    api.get("/v2/device_profiles")
    api.get("/v2/nope")
    text = api.as_({}).get("/metrics").text
    assert 'accord_http_requests_total{method="GET",route="/v2/device_profiles",status="200"} 1.0' in text
    assert 'accord_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'accord_arqs{state="Initial"} 1.0' in text
    assert "accord_http_request_duration_seconds_bucket" in text

"""The CLI runs against a real server on loopback: one per test, on the test's store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import LiveServer, live_server


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    with live_server(
        tmp_path / "srv", database_url, auth="noauth", env={"ACCORD_RECONCILE_INTERVAL_S": "0"}
    ) as srv:
        yield srv

"""GET /healthz and /readyz: unauthenticated probes for load balancers, in /openapi.json."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from accord.api.app import create_app
from accord.config import load_settings
from accord.store.db import Database
from accord.store.schema_version import head_revision


def _client(data_dir: Path, db: Database, auth: str = "token") -> TestClient:
    settings = load_settings(env={}, data_dir=data_dir, auth=auth, reconcile_interval_s=0)
    return TestClient(create_app(settings, db=db), base_url="http://accord.test")


def test_healthz_and_readyz_answer_without_credentials(data_dir: Path, db: Database) -> None:
    with _client(data_dir, db) as client:
        assert client.get("/v2/devices").status_code == 401  # token mode: the API needs a token
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "schema_revision": head_revision()}


def test_readyz_is_503_on_a_database_that_was_never_migrated(data_dir: Path, tmp_path: Path) -> None:
    empty = Database(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    with _client(data_dir, empty) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "revision none" in ready.json()["error_message"]
        assert "accord db upgrade" in ready.json()["error_message"]
    empty.dispose()


def test_readyz_is_503_when_the_database_cannot_be_reached(data_dir: Path) -> None:
    # Nothing listens on port 9 (discard) of loopback: the connection is refused at once.
    gone = Database("postgresql+psycopg://postgres@127.0.0.1:9/none", connect_timeout_s=2)
    admin = {"X-Project-Id": "p", "X-Roles": "admin"}
    with _client(data_dir, gone, auth="noauth") as client:
        assert client.get("/healthz").status_code == 200
        for path in ("/readyz", "/v2/devices", "/v2/accelerator_requests"):
            response = client.get(path, headers=admin)
            assert response.status_code == 503, (path, response.text)
            assert response.headers["retry-after"] == "5"
            assert "database cannot be reached" in response.json()["error_message"]
    gone.dispose()


def test_probes_are_in_openapi(data_dir: Path, db: Database) -> None:
    with _client(data_dir, db) as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/healthz"]) == {"get"}
    assert set(paths["/readyz"]) == {"get"}
    assert "503" in paths["/readyz"]["get"]["responses"]


def test_the_head_revision_is_the_newest_migration() -> None:
    versions = Path(__file__).parents[2] / "src/accord/store/migrations/versions"
    newest = max(p.name.split("_", 1)[0] for p in versions.glob("0*.py"))
    assert head_revision() == newest

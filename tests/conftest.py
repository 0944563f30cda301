"""Shared fixtures: every database-backed test runs on SQLite and on the real PostgreSQL.

PostgreSQL at 127.0.0.1:5432 (trust auth) is required: each run creates its own database and
drops it afterwards; a run where PostgreSQL cannot be reached fails, it never skips.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from accord.store.db import Database
from accord.store.migrate import upgrade
from accord.store.models import Base
from tests.keystone_server import keystone  # noqa: F401  (one real Keystone per session, for every test that asks)

PG_ADMIN_URL = os.environ.get(
    "ACCORD_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", "postgresql"]


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    name = f"accord_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required for the tests: {exc}")
    yield _pg_url(name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Database URLs per backend, migrated once per run."""
    urls: dict[str, str] = {}
    sqlite_file = tmp_path_factory.mktemp("sqlite") / "accord.sqlite"
    urls["sqlite"] = f"sqlite:///{sqlite_file}"
    urls["postgresql"] = request.getfixturevalue("pg_database")
    for url in urls.values():
        db = Database(url)
        upgrade(db.engine)
        db.dispose()
    return urls


def _wipe(db: Database) -> None:
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db(backend: str, migrated: dict[str, str]) -> Iterator[Database]:
    database = Database(migrated[backend])
    _wipe(database)
    yield database
    database.dispose()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def database_url(backend: str, migrated: dict[str, str], db: Database) -> str:
    """A wiped, migrated database URL for a server process (the `db` fixture wipes it)."""
    return migrated[backend]

"""PostgreSQL connections in the pool: one that sat idle is pinged before it serves, so a
connection that died meanwhile is replaced unseen; one used a moment ago is not pinged (no round
trip per request on a busy server), and if it died, its request fails and the pool starts over."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from accord.store.db import Database, database_unavailable
from tests.conftest import PG_ADMIN_URL


def backend_pid(db: Database) -> int:
    with db.rows() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def terminate(pid: int) -> None:
    """What a database restart or an idle-session timeout does to a pooled connection."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()


def test_a_connection_that_died_while_idle_is_replaced_before_it_serves(pg_database: str) -> None:
    db = Database(pg_database, pool_size=1, max_overflow=0, ping_after_idle_s=0)
    try:
        first = backend_pid(db)
        terminate(first)
        assert backend_pid(db) != first  # served, on a new connection
    finally:
        db.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged_and_its_death_resets_the_pool(
    pg_database: str,
) -> None:
    db = Database(pg_database, pool_size=1, max_overflow=0, ping_after_idle_s=3600)
    try:
        first = backend_pid(db)
        terminate(first)
        with pytest.raises(OperationalError) as failed:
            backend_pid(db)  # no ping: the request meets the dead connection (the API answers 503)
        assert database_unavailable(failed.value)
        assert backend_pid(db) != first  # the next one is served on a new connection
    finally:
        db.dispose()

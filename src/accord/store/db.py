"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production).

SQLite runs in WAL mode with foreign keys on; write transactions start with BEGIN IMMEDIATE so
two writers never deadlock on a lock upgrade (they queue on the busy timeout instead).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, InterfaceError, InvalidatePoolError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from accord.store.host_versions import Committed, bump_noted, forget_noted, take_committed

SQLITE_BUSY_TIMEOUT_S = 30
# A pooled PostgreSQL connection that sat unused this long is pinged before it serves again.
PING_AFTER_IDLE_S = 1.0
_log = logging.getLogger(__name__)


def database_unavailable(exc: BaseException) -> bool:
    """The database could not serve this (down, restarting, connection lost, statement or pool
    timeout, SQLite busy): the caller should try again later; nothing of its transaction stays."""
    if isinstance(exc, PoolTimeout | OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def make_engine(
    url: str,
    connect_timeout_s: float = 5,
    statement_timeout_s: float = 30,
    ping_after_idle_s: float = PING_AFTER_IDLE_S,
    **kwargs: Any,
) -> Engine:
    """PostgreSQL connections are bounded everywhere a database outage could hang a request:
    connecting, waiting for a pooled connection, each statement, and a peer that went silent
    (TCP keepalives). A pooled connection idle for over `ping_after_idle_s` is pinged before use
    (the round trip is not paid by every request of a busy server); a connection that dies under
    a request fails it with a disconnect, which invalidates the whole pool: either way the pool
    recovers by itself."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            **kwargs,
        )
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_timeout", max(connect_timeout_s, 1) * 2)
    connect_args = {
        "connect_timeout": max(int(connect_timeout_s), 2),  # libpq's minimum is 2 s
        "options": f"-c statement_timeout={int(statement_timeout_s * 1000)}",
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        **kwargs.pop("connect_args", {}),
    }
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    if not kwargs["pool_pre_ping"]:
        _ping_when_idle(engine, ping_after_idle_s)
    return engine


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    """SQLAlchemy's `pool_pre_ping`, for connections that sat in the pool over `idle_s` only."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["accord_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("accord_idle_since")
        if since is None or time.monotonic() - since < idle_s:
            return  # a new connection, or one in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool drops this connection and every older one, then reconnects.
            raise InvalidatePoolError(f"pooled connection failed its ping: {exc}") from exc


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get("accord_statement_snapshots"):
            return  # `Database.rows()`: each statement reads its own snapshot, no BEGIN needed
        mode = "IMMEDIATE" if options.get("accord_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One engine plus read and write session factories.

    A write session bumps the version of every host it noted as changed, last, before its commit
    (`store/host_versions.py`), and hands the new versions to `on_commit` listeners after it
    (this process's scheduler index)."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.is_sqlite = url.startswith("sqlite")
        self._rows = self.engine.execution_options(accord_statement_snapshots=True)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write_engine = self.engine.execution_options(accord_write=True)
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)
        self._commit_listeners: list[Callable[[Committed], None]] = []
        event.listen(self._write, "before_commit", bump_noted)
        event.listen(self._write, "after_commit", self._committed)
        event.listen(self._write, "after_rollback", forget_noted)

    def on_commit(self, listener: Callable[[Committed], None]) -> None:
        """Call `listener` after each write transaction that changed hosts, with their versions."""
        self._commit_listeners.append(listener)

    def _committed(self, session: Session) -> None:
        committed = take_committed(session)
        if not committed:
            return
        for listener in self._commit_listeners:
            try:
                listener(committed)
            except Exception:  # the transaction is committed: a listener must not fail the request
                _log.exception("a commit listener failed")

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def rows(self) -> Iterator[Connection]:
        """A read-only connection without a Session, for queries that want rows, not objects
        (no identity map, no ORM compile). On SQLite no transaction is begun: each statement
        reads its own consistent snapshot, which is all a one-query read needs, and the BEGIN
        and ROLLBACK it saves were a third of such a read's statements."""
        with self._rows.connect() as connection:
            yield connection

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any exception."""
        with self._write() as session, session.begin():
            yield session

    @contextmanager
    def write_core(self) -> Iterator[Connection]:
        """A write transaction on a bare connection, no ORM session: for the agents' hot paths
        (a heartbeat is one statement). Commits on success, rolls back on any exception."""
        with self._write_engine.begin() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()

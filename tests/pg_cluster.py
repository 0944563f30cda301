"""A PostgreSQL cluster of the test's own (initdb + pg_ctl, own data directory and port), so a
test can stop and start the database under a running Accord.

PostgreSQL refuses to run as root: as root, the commands run as the `postgres` user and the data
directory is made theirs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.live_server import free_port

PG_BIN = Path(os.environ.get("ACCORD_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class PgCluster:
    data: Path
    port: int
    log: Path

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str) -> None:
        argv = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", *args]
        subprocess.run(_as_postgres(argv), check=True, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -k '' -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._ctl("-o", options, "start")

    def stop(self) -> None:
        """Fast shutdown: sessions are cut at once, as in a failover."""
        self._ctl("-m", "fast", "stop")

    def create_database(self, name: str) -> str:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)


@contextmanager
def pg_cluster() -> Iterator[PgCluster]:
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(f"PostgreSQL server binaries not found in {PG_BIN} (ACCORD_TEST_PG_BIN)")
    root = Path(tempfile.mkdtemp(prefix="accord-pg-"))
    root.chmod(0o755)
    data, log = root / "data", root / "postgres.log"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    cluster = PgCluster(data, free_port(), log)
    subprocess.run(
        _as_postgres(
            [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"]
        ),
        check=True,
        capture_output=True,
    )
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)

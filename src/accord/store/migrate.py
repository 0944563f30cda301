"""Schema migrations (Alembic), run by `accord db upgrade` and on `accord serve` start."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported inside the functions that run it: the server imports this module only to
# call `upgrade_in_child`, and Alembic with Mako (and Pygments through it) is ~10 MiB.

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def upgrade_in_child(url: str) -> None:
    """Migrate from a short-lived child process, so a long-running server never holds Alembic
    (and Mako) in memory: ~10 MiB of its RSS for something it runs once."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from sqlalchemy import create_engine\n"
        "from accord.store.migrate import upgrade\n"
        "engine = create_engine(sys.argv[1])\n"
        "upgrade(engine)\n"
        "engine.dispose()\n"
    )
    done = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"schema migration failed: {done.stderr.strip()[-2000:]}")


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()

"""The schema revision the code expects and the one the database holds, without Alembic.

`/readyz` asks on every probe, and the long-running server keeps Alembic out of memory (see
`migrate.upgrade_in_child`), so the head is read from the migration files' `revision` and
`down_revision` lines once, and the database's from Alembic's own version table.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

VERSIONS = Path(__file__).parent / "migrations" / "versions"
_ASSIGNMENT = re.compile(r'^(revision|down_revision)\s*=\s*(?:"([^"]*)"|None)', re.MULTILINE)


@functools.cache
def head_revision() -> str:
    """The one revision no other migration revises."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in VERSIONS.glob("*.py"):
        for name, value in _ASSIGNMENT.findall(path.read_text()):
            if value:
                (revisions if name == "revision" else revised).add(value)
    heads = revisions - revised
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def database_revision(session: Session) -> str | None:
    """Alembic's recorded revision; None when the schema was never migrated."""
    try:
        return session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError as exc:
        if exc.connection_invalidated or "alembic_version" not in str(exc.orig):
            raise  # the database is unreachable, not unmigrated
        return None

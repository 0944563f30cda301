"""Migrations: the models and the Alembic history describe the same schema, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from accord.store.db import Database
from accord.store.migrate import current_revision
from accord.store.models import Base


def test_schema_matches_models_and_is_at_head(db: Database) -> None:
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    assert current_revision(db.engine) is not None

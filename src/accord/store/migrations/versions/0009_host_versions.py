"""host_versions: a per-host counter of changes the scheduler sees, bumped with each change, so
every replica's index can read what changed since it last looked instead of the whole fleet

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_versions",
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hostname", name=op.f("pk_host_versions")),
    )
    op.create_index(op.f("ix_host_versions_changed_at"), "host_versions", ["changed_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_host_versions_changed_at"), table_name="host_versions")
    op.drop_table("host_versions")

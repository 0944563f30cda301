"""Partitions: device counter sets, a device-level version for atomic binds, the pinned type;
each deployable's partition spec; a host's inventory generation (DRA pool generation)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("counter_sets", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("partition_version", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("pinned_part_type", sa.String(64), nullable=True))
    with op.batch_alter_table("deployables") as batch:
        batch.add_column(sa.Column("partition", sa.JSON(), nullable=True))
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("inventory_generation", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.drop_column("inventory_generation")
    with op.batch_alter_table("deployables") as batch:
        batch.drop_column("partition")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("pinned_part_type")
        batch.drop_column("partition_version")
        batch.drop_column("counter_sets")

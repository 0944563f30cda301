"""firmware_rollouts and firmware_rollout_devices: firmware campaigns in waves

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column[datetime]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "firmware_rollouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=True),
        sa.Column("image_uuid", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("canary", sa.Integer(), nullable=False),
        sa.Column("wave", sa.String(length=8), nullable=False),
        sa.Column("max_failures", sa.Integer(), nullable=False),
        sa.Column("in_use", sa.String(length=8), nullable=False),
        sa.Column("current_wave", sa.Integer(), nullable=False),
        sa.Column("selector", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=255), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["images.id"],
            name=op.f("fk_firmware_rollouts_image_id_images"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_rollouts")),
        sa.UniqueConstraint("uuid", name=op.f("uq_firmware_rollouts_uuid")),
    )
    op.create_index(op.f("ix_firmware_rollouts_state"), "firmware_rollouts", ["state"])
    op.create_table(
        "firmware_rollout_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("device_uuid", sa.String(length=36), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("operation_uuid", sa.String(length=36), nullable=True),
        sa.Column("was_enabled", sa.Boolean(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["rollout_id"],
            ["firmware_rollouts.id"],
            name=op.f("fk_firmware_rollout_devices_rollout_id_firmware_rollouts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_firmware_rollout_devices_device_id_devices"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_rollout_devices")),
        sa.UniqueConstraint("rollout_id", "device_uuid", name=op.f("uq_firmware_rollout_devices_rollout_id")),
    )
    op.create_index(
        op.f("ix_firmware_rollout_devices_rollout_id"), "firmware_rollout_devices", ["rollout_id"]
    )
    op.create_index(
        op.f("ix_firmware_rollout_devices_device_uuid"), "firmware_rollout_devices", ["device_uuid"]
    )


def downgrade() -> None:
    op.drop_table("firmware_rollout_devices")
    op.drop_table("firmware_rollouts")

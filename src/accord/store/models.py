"""The whole data model as SQLAlchemy 2 typed mappings (DESIGN.md "Data model").

Cyborg's tables and columns are kept where the API shows them; Accord's own resources (hosts,
images, trusted keys, operations, audit events) live beside them.
"""

from __future__ import annotations

import uuid as uuidlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuidlib.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None, onupdate=utcnow
    )


class Host(Timestamped, Base):
    __tablename__ = "hosts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="up")  # up | lost
    agent_version: Mapped[str] = mapped_column(String(64), default="")
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Agent asks to rescan at once when this differs from what it last saw.
    rescan_token: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped whenever what the host offers changes (report diff, status): a DRA pool's generation.
    inventory_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # An Ironic node: its agent runs only in the ramdisk, so silence means "deployed", not "lost".
    bare_metal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # sha256 of the last report applied in full (None: the next report is applied in full):
    # an identical report then only touches last_seen_at (`store/inventory.py`).
    report_digest: Mapped[str | None] = mapped_column(String(64))


class Device(Timestamped, Base):
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("hostname", "pci_address"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    type: Mapped[str] = mapped_column(String(16))
    vendor: Mapped[str] = mapped_column(String(255))
    model: Mapped[str] = mapped_column(String(255))
    std_board_info: Mapped[str] = mapped_column(Text, default="{}")
    vendor_board_info: Mapped[str] = mapped_column(Text, default="{}")
    hostname: Mapped[str] = mapped_column(String(255), index=True)
    status: Mapped[str] = mapped_column(String(16), default="enabled")  # enabled | maintaining
    pci_address: Mapped[str] = mapped_column(String(16))
    product: Mapped[str] = mapped_column(String(8), default="")
    numa_node: Mapped[int | None] = mapped_column(Integer)
    driver: Mapped[str | None] = mapped_column(String(64))
    firmware_version: Mapped[str | None] = mapped_column(String(128))
    health: Mapped[str] = mapped_column(String(16), default="ok")  # ok | degraded | unusable
    health_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Set when the device disappeared from its host while a handle was in use.
    lost: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set by the server (never by agent reports) when a firmware flash failed with no way back.
    quarantine_reason: Mapped[str | None] = mapped_column(Text)
    # Counters its partitions share (`domain/partitions.py`): {"gpu": {"framebuffer_mib": 16384}}.
    counter_sets: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Bumped by a conditional update on every bind onto a partition of this device, so
    # concurrent binds (several replicas) cannot together overdraw it or mix exclusive types.
    partition_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The partition type the operator pinned for counter-less mirrors (Placement, DRA).
    pinned_part_type: Mapped[str | None] = mapped_column(String(64))
    # The type the agent's options prefer (reported); the operator's pin wins over it.
    preferred_part_type: Mapped[str | None] = mapped_column(String(64))
    deployables: Mapped[list[Deployable]] = relationship(
        back_populates="device", cascade="all, delete-orphan", passive_deletes=True
    )


class ControlpathID(Timestamped, Base):
    __tablename__ = "controlpath_ids"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    cpid_type: Mapped[str] = mapped_column(String(16), default="PCI")
    cpid_info: Mapped[str] = mapped_column(String(255))


class Deployable(Timestamped, Base):
    __tablename__ = "deployables"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("deployables.id", ondelete="SET NULL"))
    root_id: Mapped[int | None] = mapped_column(ForeignKey("deployables.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(255), unique=True)
    num_accelerators: Mapped[int] = mapped_column(Integer, default=0)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    rp_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    driver_name: Mapped[str] = mapped_column(String(64), default="")
    bitstream_id: Mapped[str | None] = mapped_column(String(36))
    function_id: Mapped[str | None] = mapped_column(String(64))  # what is loaded (read back)
    interface_id: Mapped[str | None] = mapped_column(String(64))
    resource_class: Mapped[str] = mapped_column(String(255), default="")
    # PartitionSpec.to_json() when this is a partition of a device with counter sets.
    partition: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    device: Mapped[Device] = relationship(back_populates="deployables")


class Attribute(Timestamped, Base):
    __tablename__ = "attributes"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    deployable_id: Mapped[int] = mapped_column(ForeignKey("deployables.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(String(255))


class AttachHandle(Timestamped, Base):
    __tablename__ = "attach_handles"
    __table_args__ = (Index("ix_attach_handles_free", "deployable_id", "in_use"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    deployable_id: Mapped[int] = mapped_column(ForeignKey("deployables.id", ondelete="CASCADE"))
    cpid_id: Mapped[int | None] = mapped_column(ForeignKey("controlpath_ids.id", ondelete="SET NULL"))
    in_use: Mapped[bool] = mapped_column(Boolean, default=False)
    attach_type: Mapped[str] = mapped_column(String(16))
    attach_info: Mapped[str] = mapped_column(String(255))
    # The ARQ holding this handle; the conditional update on (in_use = false) is what
    # guarantees one holder.
    arq_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # The agent no longer reports it but an ARQ still holds it: kept until released.
    lost: Mapped[bool] = mapped_column(Boolean, default=False)


class DeviceProfile(Timestamped, Base):
    __tablename__ = "device_profiles"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    profile_json: Mapped[dict[str, Any]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(String(255))


class AcceleratorRequest(Timestamped, Base):
    __tablename__ = "extended_accelerator_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    project_id: Mapped[str | None] = mapped_column(String(255), index=True)
    state: Mapped[str] = mapped_column(String(16), default="Initial")
    device_profile_id: Mapped[int] = mapped_column(
        ForeignKey("device_profiles.id", ondelete="RESTRICT"), index=True
    )
    device_profile_group_id: Mapped[int] = mapped_column(Integer)
    # A copy of the group at creation time, so a later profile change cannot alter it.
    device_profile_group: Mapped[dict[str, str]] = mapped_column(JSON)
    hostname: Mapped[str | None] = mapped_column(String(255))
    device_rp_uuid: Mapped[str | None] = mapped_column(String(36))
    instance_uuid: Mapped[str | None] = mapped_column(String(36), index=True)
    attach_handle_id: Mapped[int | None] = mapped_column(ForeignKey("attach_handles.id", ondelete="SET NULL"))
    deployable_id: Mapped[int | None] = mapped_column(ForeignKey("deployables.id", ondelete="SET NULL"))
    substate: Mapped[str | None] = mapped_column(String(64))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    bind_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    profile: Mapped[DeviceProfile] = relationship(lazy="joined")
    attach_handle: Mapped[AttachHandle | None] = relationship(lazy="joined")


class Image(Timestamped, Base):
    __tablename__ = "images"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # bitstream | firmware
    vendor: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(128))
    function_id: Mapped[str | None] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    signature: Mapped[str | None] = mapped_column(Text)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    parsed: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(255))


class TrustedKey(Timestamped, Base):
    __tablename__ = "trusted_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    public_key: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(128))


class Operation(Timestamped, Base):
    __tablename__ = "operations"
    __table_args__ = (Index("ix_operations_claim", "hostname", "state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    kind: Mapped[str] = mapped_column(String(32))  # program | firmware | create_mdev | remove_mdev | set_vfs
    hostname: Mapped[str] = mapped_column(String(255))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    deployable_id: Mapped[int | None] = mapped_column(ForeignKey("deployables.id", ondelete="SET NULL"))
    arq_id: Mapped[int | None] = mapped_column(Integer)
    image_id: Mapped[int | None] = mapped_column(ForeignKey("images.id", ondelete="SET NULL"))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|running|succeeded|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requested_by: Mapped[str | None] = mapped_column(String(255))


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[str | None] = mapped_column(String(255))
    project_id: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(32))
    target_uuid: Mapped[str | None] = mapped_column(String(36))
    device_uuid: Mapped[str | None] = mapped_column(String(36))
    image_sha256: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))  # success | failure | refused
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Quota(Timestamped, Base):
    """Per-project limit on accelerators of one resource class, enforced at bind."""

    __tablename__ = "quotas"
    __table_args__ = (UniqueConstraint("project_id", "resource_class"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255))
    resource_class: Mapped[str] = mapped_column(String(255))
    limit: Mapped[int] = mapped_column(Integer)


class FirmwareRollout(Timestamped, Base):
    """A firmware campaign over many devices, in waves; advanced by the reconciler (state only here)."""

    __tablename__ = "firmware_rollouts"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    image_id: Mapped[int | None] = mapped_column(ForeignKey("images.id", ondelete="SET NULL"))
    image_uuid: Mapped[str] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(16), default="running", index=True)
    canary: Mapped[int] = mapped_column(Integer, default=1)
    wave: Mapped[str] = mapped_column(String(8), default="25%")  # "N" devices or "N%"
    max_failures: Mapped[int] = mapped_column(Integer, default=0)
    in_use: Mapped[str] = mapped_column(String(8), default="skip")  # wait | skip
    current_wave: Mapped[int] = mapped_column(Integer, default=0)
    selector: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(Text)  # why it failed or was aborted
    requested_by: Mapped[str | None] = mapped_column(String(255))
    devices: Mapped[list[RolloutDevice]] = relationship(
        back_populates="rollout",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="RolloutDevice.position",
    )


class RolloutDevice(Timestamped, Base):
    """One device of a campaign: its wave, its step, and the one operation that flashed it."""

    __tablename__ = "firmware_rollout_devices"
    __table_args__ = (UniqueConstraint("rollout_id", "device_uuid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    rollout_id: Mapped[int] = mapped_column(
        ForeignKey("firmware_rollouts.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    device_uuid: Mapped[str] = mapped_column(String(36), index=True)
    hostname: Mapped[str] = mapped_column(String(255))
    position: Mapped[int] = mapped_column(Integer)
    wave: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    operation_uuid: Mapped[str | None] = mapped_column(String(36))
    # Only a device the campaign disabled itself is enabled again afterwards.
    was_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    rollout: Mapped[FirmwareRollout] = relationship(back_populates="devices")


class TaskLease(Base):
    """Which replica runs a background task (lost hosts, bind timeouts, …) until when.

    The holder renews it on every tick; once `expires_at` passes, any replica may take it.
    """

    __tablename__ = "task_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HostVersion(Base):
    """How many times what a host offers the scheduler changed: bumped in the same transaction as
    every such change (a report's diff, a bind, a release, the host lost or back, a device's
    status or traits), so a replica's scheduler index can ask which hosts changed since it last
    looked instead of re-reading the fleet (`store/host_versions.py`). Kept apart from `hosts`,
    whose row every heartbeat updates, so binds and beats never wait on each other."""

    __tablename__ = "host_versions"

    hostname: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

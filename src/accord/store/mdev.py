"""Mediated-device handles: the operations that create and remove them on the host."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.store.models import AttachHandle, Operation
from accord.store.operations import RUNNING, SUCCEEDED, queue_operation


def pci_address(info: dict[str, str]) -> str:
    return f"{info['domain']}:{info['bus']}:{info['device']}.{info['function']}"


def create_params(handle: AttachHandle) -> dict[str, str]:
    info = json.loads(handle.attach_info)
    return {
        "pci_address": pci_address(info),
        "mdev_type": info.get("asked_type", ""),
        "mdev_uuid": handle.uuid,
    }


def queue_mdev_removal(session: Session, handle: AttachHandle, hostname: str) -> None:
    info = json.loads(handle.attach_info)
    queue_operation(
        session,
        "remove_mdev",
        hostname,
        {"pci_address": pci_address(info), "mdev_uuid": handle.uuid},
        deployable_id=handle.deployable_id,
    )


def mdev_may_exist(session: Session, arq_id: int) -> bool:
    """Did the latest create for this ARQ reach the agent? Only then is there one to remove."""
    state = session.scalar(
        select(Operation.state)
        .where(Operation.arq_id == arq_id, Operation.kind == "create_mdev")
        .order_by(Operation.id.desc())
        .limit(1)
    )
    return state in (RUNNING, SUCCEEDED)

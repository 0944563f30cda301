"""Programming on the user's behalf: a profile group names a function (`accel:function_id`) or
an approved image (`accord:bitstream_id`), and the bind makes the region hold it.

Everything that can be refused is refused here, before any device is touched: no approved
image, an image for another PR interface, a region already serving another function to
someone else. When the region already holds the function, no operation is queued at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.domain import naming
from accord.domain.device_profile import looks_like_uuid, parse_group
from accord.domain.errors import Conflict, InvalidInput
from accord.domain.image import check_usable
from accord.store.bind_operations import complete_bind_operation
from accord.store.inventory import forget_report
from accord.store.models import (
    AcceleratorRequest,
    AttachHandle,
    Attribute,
    Deployable,
    Image,
    Operation,
    TrustedKey,
)
from accord.store.operations import SUCCEEDED, queue_operation


def choose_image(session: Session, function_id: str | None, bitstream_id: str | None) -> Image:
    query = select(Image).where(Image.kind == "bitstream")
    if bitstream_id is not None:
        if not looks_like_uuid(bitstream_id):
            raise InvalidInput(f"accel:bitstream_id {bitstream_id!r} is not an image uuid.")
        image = session.scalar(query.where(Image.uuid == bitstream_id.lower()))
        wanted = f"image {bitstream_id}"
    else:
        # Prefer an approved image; otherwise name the unapproved one so the operator knows why.
        candidates = query.where(Image.function_id == function_id)
        image = session.scalar(
            candidates.where(Image.state == "approved").order_by(Image.id.desc())
        ) or session.scalar(candidates.order_by(Image.id.desc()))
        wanted = f"image for function {function_id}"
    if image is None:
        raise Conflict(f"Accord has no approved {wanted}; an admin must upload and approve one.")
    check_usable(image.uuid, image.state)
    if function_id is not None and image.function_id != function_id:
        raise InvalidInput(f"Image {image.uuid} provides function {image.function_id}, not {function_id}.")
    return image


def check_interface(deployable: Deployable, image: Image) -> None:
    wanted_interface = (image.parsed or {}).get("interface_id")
    if wanted_interface and deployable.interface_id and wanted_interface != deployable.interface_id:
        raise Conflict(
            f"Image {image.uuid} is built for PR interface {wanted_interface}; region {deployable.name} "
            f"has {deployable.interface_id}."
        )


def _check_region(session: Session, arq: AcceleratorRequest, deployable: Deployable, image: Image) -> None:
    check_interface(deployable, image)
    others = session.scalar(
        select(AttachHandle.id)
        .where(
            AttachHandle.deployable_id == deployable.id,
            AttachHandle.in_use.is_(True),
            AttachHandle.arq_id != arq.id,
        )
        .limit(1)
    )
    if others is not None:
        raise Conflict(
            f"Region {deployable.name} is in use with function {deployable.function_id or 'unknown'}; "
            f"it cannot be reprogrammed to {image.function_id} under another user."
        )


def program_params(session: Session, deployable: Deployable, image: Image) -> dict[str, Any]:
    """What the agent needs to fetch, check and program the image; keys travel with a signed
    image so the agent can verify the signature itself before touching the device."""
    keys = list(session.scalars(select(TrustedKey.public_key))) if image.signature else []
    return {
        "pci_address": deployable.device.pci_address,
        "region": deployable.name,
        "image_uuid": image.uuid,
        "sha256": image.sha256 or "",
        "function_id": image.function_id or "",
        "interface_id": (image.parsed or {}).get("interface_id") or "",
        "signature": image.signature or "",
        "trusted_keys": keys,
    }


def program_preparer(
    session: Session, arq: AcceleratorRequest, deployable: Deployable, handle: AttachHandle
) -> bool:
    group = parse_group(arq.device_profile_group_id, arq.device_profile_group)
    if group.function_id is None and group.bitstream_id is None:
        return False
    image = choose_image(session, group.function_id, group.bitstream_id)
    if deployable.function_id is not None and deployable.function_id == image.function_id:
        return False  # already holding the function: binding skips programming
    _check_region(session, arq, deployable, image)
    queue_program(session, deployable, image, arq_id=arq.id)
    arq.substate = "programming"
    return True


def queue_program(
    session: Session,
    deployable: Deployable,
    image: Image,
    arq_id: int | None = None,
    requested_by: str | None = None,
) -> Operation:
    return queue_operation(
        session,
        "program",
        deployable.device.hostname,
        program_params(session, deployable, image),
        device_id=deployable.device_id,
        deployable_id=deployable.id,
        arq_id=arq_id,
        image_id=image.id,
        requested_by=requested_by,
    )


def request_admin_program(
    session: Session, deployable: Deployable, image_uuid: str, requested_by: str | None
) -> Operation:
    """Cyborg's manual program: an approved image onto a region nobody is using."""
    image = choose_image(session, None, image_uuid)
    check_interface(deployable, image)
    in_use = session.scalar(
        select(AttachHandle.id)
        .where(AttachHandle.deployable_id == deployable.id, AttachHandle.in_use.is_(True))
        .limit(1)
    )
    if in_use is not None:
        raise Conflict(f"Region {deployable.name} has attach handles in use; it cannot be reprogrammed now.")
    return queue_program(session, deployable, image, requested_by=requested_by)


def apply_program_result(session: Session, operation: Operation) -> None:
    """Only a verified read-back counts: the loaded function must be the image's."""
    if operation.state != SUCCEEDED or operation.deployable_id is None:
        return
    expected = operation.params.get("function_id") or None
    loaded = (operation.result or {}).get("function_id")
    if expected is not None and loaded != expected:
        operation.state = "failed"
        operation.error = f"read back function {loaded!r} after programming, expected {expected!r}"
        return
    deployable = session.get(Deployable, operation.deployable_id)
    if deployable is None:
        return
    deployable.function_id = loaded
    forget_report(session, device_id=deployable.device_id)  # the traits below are ours now
    deployable.bitstream_id = operation.params.get("image_uuid")
    traits = [
        a
        for a in session.scalars(select(Attribute).where(Attribute.deployable_id == deployable.id))
        if a.key.startswith("trait")
    ]
    kept = [a.value for a in traits if not naming.is_function_trait(a.value)]
    if loaded:
        kept += naming.function_traits(deployable.driver_name, loaded)
    for attribute in traits:
        session.delete(attribute)
    session.flush()
    session.add_all(
        Attribute(deployable_id=deployable.id, key=f"trait{i}", value=v) for i, v in enumerate(kept)
    )


def complete_program(session: Session, operation: Operation) -> list[AcceleratorRequest]:
    apply_program_result(session, operation)
    return complete_bind_operation(session, operation)

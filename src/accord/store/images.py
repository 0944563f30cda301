"""The vetted image catalog's records: create, find, record an upload, approve, reject, delete.

The life cycle itself (which state may follow which) is `domain/image.py`; the bytes live in the
blob store; the use cases that tie them together are `services/catalog.py`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accord.domain.device_profile import looks_like_uuid
from accord.domain.errors import Conflict, InUse, InvalidInput, NotFound
from accord.domain.image import KINDS, STATES, ImageState, check_approve, check_reject, parse_kind
from accord.images.formats.detect import VENDOR_ALIASES, check_declared
from accord.images.formats.firmware import FirmwareFacts
from accord.images.formats.model import ImageContradiction, ImageFormatError, ParsedImage, canonical_uuid
from accord.store.models import Deployable, Device, Image, Operation, TrustedKey
from accord.store.rollouts import unfinished_using_image

SHA256 = re.compile(r"^[0-9a-f]{64}$")
TEXT_FIELDS = {"name": 255, "vendor": 64, "version": 128, "target": 255, "signature": 512}
ALLOWED = {"uuid", "name", "kind", "function_id", "interface_id", "sha256", "properties", *TEXT_FIELDS}


def _text(body: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise InvalidInput(f"An image needs '{key}'.")
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"Image '{key}' must be a non-empty string.")
    value = value.strip()
    if len(value) > TEXT_FIELDS[key]:
        raise InvalidInput(f"Image '{key}' is longer than {TEXT_FIELDS[key]} characters.")
    if any(ord(c) < 32 for c in value):
        raise InvalidInput(f"Image '{key}' may not contain control characters.")
    return value


def _uuid_field(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    found = canonical_uuid(value)
    if found is None:
        raise InvalidInput(f"Image '{key}' must be a uuid, not {value!r}.")
    return found


def _properties(body: dict[str, Any]) -> dict[str, str]:
    value = body.get("properties", {})
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(k) <= 255 and len(v) <= 1024
        for k, v in value.items()
    ):
        raise InvalidInput("Image 'properties' must map strings to strings (keys up to 255, values 1024).")
    if len(value) > 64:
        raise InvalidInput("An image carries at most 64 properties.")
    return dict(value)


def create_image(session: Session, body: Any, owner: str | None) -> Image:
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object describing the image.")
    unknown = sorted(set(body) - ALLOWED)
    if unknown:
        raise InvalidInput(f"Unknown image field(s): {', '.join(unknown)}.")
    kind = parse_kind(body.get("kind"))
    sha256 = body.get("sha256")
    if sha256 is not None and (not isinstance(sha256, str) or not SHA256.match(sha256.lower())):
        raise InvalidInput("Image 'sha256' must be 64 hex digits (the digest the upload must match).")
    version = _text(body, "version", required=kind == "firmware")
    properties = _properties(body)
    target = _text(body, "target")
    if target is not None:
        properties["target"] = target
    image_uuid = body.get("uuid")
    if image_uuid is not None and (not isinstance(image_uuid, str) or not looks_like_uuid(image_uuid)):
        raise InvalidInput(f"Image 'uuid' must be a uuid, not {image_uuid!r}.")
    interface_id = _uuid_field(body, "interface_id")
    image = Image(
        name=_text(body, "name", required=True),
        kind=kind,
        vendor=_text(body, "vendor"),
        version=version,
        function_id=_uuid_field(body, "function_id"),
        state=ImageState.QUEUED,
        signature=_text(body, "signature"),
        properties=properties,
        # Declared until the upload parses the bytes; the parsed facts then replace it.
        parsed={"declared_sha256": sha256.lower()} if sha256 else {},
        owner=owner,
    )
    if interface_id:
        image.parsed = {**image.parsed, "interface_id": interface_id}
    if image_uuid is not None:
        image.uuid = image_uuid.lower()
    session.add(image)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"An image with uuid {image_uuid} already exists.") from exc
    return image


def get_image(session: Session, image_uuid: str) -> Image:
    image = None
    if looks_like_uuid(image_uuid):
        image = session.scalar(select(Image).where(Image.uuid == image_uuid.lower()))
    if image is None:
        raise NotFound(f"Image {image_uuid} could not be found.")
    return image


def get_image_for_update(session: Session, image_uuid: str) -> Image:
    """The image with its row locked (PostgreSQL; SQLite writers are serialised already)."""
    image = None
    if looks_like_uuid(image_uuid):
        image = session.scalar(select(Image).where(Image.uuid == image_uuid.lower()).with_for_update())
    if image is None:
        raise NotFound(f"Image {image_uuid} could not be found.")
    return image


def list_images(
    session: Session,
    kind: str | None = None,
    state: str | None = None,
    function_id: str | None = None,
    vendor: str | None = None,
    name: str | None = None,
) -> Sequence[Image]:
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}.")
    if state is not None and state not in STATES:
        raise InvalidInput(f"state must be one of {', '.join(STATES)}.")
    query = select(Image).order_by(Image.id)
    for column, value in (
        (Image.kind, kind),
        (Image.state, state),
        (Image.vendor, vendor),
        (Image.name, name),
    ):
        if value is not None:
            query = query.where(column == value)
    if function_id is not None:
        query = query.where(Image.function_id == (canonical_uuid(function_id) or function_id))
    return list(session.scalars(query))


def declared(image: Image) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "function_id": image.function_id,
        "interface_id": (image.parsed or {}).get("interface_id"),
        "target": (image.properties or {}).get("target"),
        "vendor": image.vendor,
    }
    return {k: v for k, v in facts.items() if v}


def finish_upload(
    session: Session,
    image: Image,
    size: int,
    sha256: str,
    parsed: ParsedImage | None,
    format_error: str | None,
    firmware: FirmwareFacts | None = None,
    firmware_error: str | None = None,
) -> str | None:
    """Record what arrived; returns the reason when the bytes make the image rejected. Bitstreams
    are judged by `parsed`, firmware by `firmware` (the container the flash tools take)."""
    expected = (image.parsed or {}).get("declared_sha256")
    reason = None
    if expected and expected != sha256:
        reason = f"the upload has sha256 {sha256}, the record declared {expected}"
    elif image.kind == "firmware":
        reason = firmware_reason(image, firmware, firmware_error)
    elif format_error is not None:
        reason = format_error
    elif image.kind == "bitstream" and parsed is None:
        reason = "not a bitstream format Accord can check (Intel .gbs, Xilinx xclbin or .bit)"
    elif parsed is not None:
        try:
            check_declared(parsed, declared(image))
        except ImageContradiction as exc:
            reason = f"the image contradicts its record: {exc}"
    image.size = size
    image.sha256 = sha256
    if reason is not None:
        image.state = ImageState.REJECTED
        image.reject_reason = reason
        return reason
    image.state = ImageState.UPLOADED
    image.reject_reason = None
    if image.kind == "firmware" and firmware is not None:
        image.parsed = firmware.to_dict()
        return None
    if parsed is not None:
        facts = parsed.to_dict()
        image.parsed = facts
        image.function_id = image.function_id or facts.get("function_id")
        image.vendor = image.vendor or facts.get("vendor")
    return None


FIRMWARE_FORMATS = (
    "Intel secure-update image for fpgasupdate, Xilinx xsabin for xbmgmt, Accord simulated firmware"
)
FIRMWARE_VENDORS = {"8086": "intel", "10ee": "xilinx"}


def firmware_reason(image: Image, facts: FirmwareFacts | None, error: str | None) -> str | None:
    """Why uploaded firmware bytes reject the image: not a container a flash tool takes, broken,
    or carrying a version or vendor other than the record declares."""
    if error is not None:
        return error
    if facts is None:
        return f"not a firmware format Accord can check ({FIRMWARE_FORMATS})"
    if facts.version and image.version and facts.version != image.version:
        return (
            "the image contradicts its record: "
            f"declared version {image.version!r} but the image says {facts.version!r}"
        )
    vendor = (image.vendor or "").lower().removeprefix("0x")
    if vendor and facts.target_vendor:
        expected = FIRMWARE_VENDORS[facts.target_vendor]
        if vendor not in VENDOR_ALIASES[expected]:
            return (
                "the image contradicts its record: "
                f"declared vendor {image.vendor!r} but the image says {expected!r}"
            )
    return None


def format_error_text(exc: ImageFormatError) -> str:
    return f"the bytes are not a valid image: {exc}"


def approve(session: Session, image: Image, require_signatures: bool, blob_intact: bool) -> None:
    """Approval is the last gate: the bytes must still be the uploaded ones, and signed when
    signatures are required (a present signature is always checked)."""
    check_approve(image.uuid, image.state)
    if not blob_intact:
        raise Conflict(
            f"The stored bytes of image {image.uuid} no longer match sha256 {image.sha256}; "
            "upload it again before approving."
        )
    if image.signature:
        # cryptography is loaded by the first approval of a signed image, not by every server.
        from accord.images.signatures import SignatureError, verify_signature

        keys = list(session.scalars(select(TrustedKey.public_key)))
        if not keys:
            raise InvalidInput("The image is signed but no trusted key is registered (/v2/trusted_keys).")
        try:
            verify_signature(keys, image.sha256 or "", image.signature)
        except SignatureError as exc:
            raise InvalidInput(f"The image signature does not verify against any trusted key: {exc}") from exc
    elif require_signatures:
        raise InvalidInput(
            f"Image {image.uuid} is unsigned and this deployment requires signatures; "
            "create it again with 'signature' (ed25519 over its sha256)."
        )
    image.state = ImageState.APPROVED


def reject(image: Image, reason: Any) -> None:
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 1024:
        raise InvalidInput('Say why the image is rejected: {"reason": "..."} (up to 1024 characters).')
    check_reject(image.uuid, image.state)
    image.state = ImageState.REJECTED
    image.reject_reason = reason.strip()


def check_deletable(session: Session, image: Image) -> None:
    """Refuse while a device uses the image: loaded in a region, queued or running in an
    operation, or the firmware a device runs now (the image a failed flash would restore)."""
    region = session.scalar(select(Deployable.name).where(Deployable.bitstream_id == image.uuid).limit(1))
    if region is not None:
        raise InUse(f"Image {image.uuid} is loaded in region {region}; it cannot be deleted.")
    rollout = unfinished_using_image(session, image.id)
    if rollout is not None:
        raise InUse(
            f"Image {image.uuid} is being rolled out by firmware rollout {rollout}; it cannot be deleted."
        )
    busy = session.scalar(
        select(Operation.uuid)
        .where(Operation.image_id == image.id, Operation.state.in_(("pending", "running")))
        .limit(1)
    )
    if busy is not None:
        raise InUse(f"Image {image.uuid} is used by operation {busy}; it cannot be deleted now.")
    if image.kind == "firmware" and image.state == "approved" and image.version:
        device = session.scalar(select(Device.uuid).where(Device.firmware_version == image.version).limit(1))
        if device is not None:
            raise InUse(
                f"Device {device} runs firmware {image.version} from image {image.uuid}, the image a "
                "failed flash would restore; it cannot be deleted."
            )

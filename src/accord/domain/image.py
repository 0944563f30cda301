"""The image life cycle: which states an image of the vetted catalog may move between.

    queued --upload--> uploaded --approve--> approved
       |                  |  ^ (upload again)     |
       +--(bad bytes)-----+--+--> rejected <------+ (an operator withdraws it)

Only approved images are programmed or flashed, and an approved image's bytes never change.
"""

from __future__ import annotations

from enum import StrEnum

from accord.domain.errors import BadState, Conflict, InvalidInput


class ImageKind(StrEnum):
    BITSTREAM = "bitstream"
    FIRMWARE = "firmware"


class ImageState(StrEnum):
    QUEUED = "queued"
    UPLOADED = "uploaded"
    APPROVED = "approved"
    REJECTED = "rejected"


KINDS = tuple(k.value for k in ImageKind)
STATES = tuple(s.value for s in ImageState)

# What each action may start from.
UPLOAD_FROM = frozenset({ImageState.QUEUED, ImageState.UPLOADED, ImageState.REJECTED})
APPROVE_FROM = frozenset({ImageState.UPLOADED})
REJECT_FROM = frozenset({ImageState.QUEUED, ImageState.UPLOADED, ImageState.APPROVED})


def parse_kind(value: object) -> ImageKind:
    if value not in KINDS:
        raise InvalidInput(f"Image 'kind' must be one of {', '.join(KINDS)}.")
    return ImageKind(str(value))


def check_upload(uuid: str, state: str) -> None:
    if ImageState(state) not in UPLOAD_FROM:
        raise BadState(f"Image {uuid} is approved; its bytes can no longer change. Create a new image.")


def check_approve(uuid: str, state: str) -> None:
    if ImageState(state) not in APPROVE_FROM:
        raise BadState(f"Image {uuid} is {state}; only an uploaded image can be approved.")


def check_reject(uuid: str, state: str) -> None:
    if ImageState(state) not in REJECT_FROM:
        raise BadState(f"Image {uuid} is already rejected.")


def check_usable(uuid: str, state: str, use: str = "programmed") -> None:
    """Programming and flashing take approved images only."""
    if ImageState(state) is not ImageState.APPROVED:
        raise Conflict(f"Image {uuid} is {state}, not approved; it cannot be {use}.")

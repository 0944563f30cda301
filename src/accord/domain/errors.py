"""Typed domain errors. Each class has a stable HTTP status; `accord.api.errors` maps them.

Never rename or reuse a class: clients and the CLI's exit codes rely on them.
"""

from __future__ import annotations


class AccordError(Exception):
    """Base of every error a client can cause or see."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(AccordError):
    """The request is malformed or breaks a rule of the API (Cyborg: Invalid/PatchError)."""

    status = 400


class NotAuthenticated(AccordError):
    status = 401


class Forbidden(AccordError):
    status = 403


class QuotaExceeded(Forbidden):
    pass


class NotFound(AccordError):
    status = 404


class NotAcceptable(AccordError):
    """Microversion outside the supported range, or a feature asked below its version."""

    status = 406


class Conflict(AccordError):
    status = 409


class DuplicateName(Conflict):
    pass


class BadState(Conflict):
    """An object is not in a state that allows the action (Cyborg: ARQBadState, a 500 there)."""


class InUse(Conflict):
    pass


class PartitionConflict(Conflict):
    """A bind would overdraw a device's shared counters or mix types that exclude each other
    (Cyborg has no such check: its bind fails later, at the agent)."""

    def __init__(self, message: str, deployable_ids: frozenset[int] = frozenset()) -> None:
        super().__init__(message)
        self.deployable_ids = deployable_ids


class PayloadTooLarge(AccordError):
    status = 413


class Locked(AccordError):
    """Cyborg's 423: an instance's ARQs are not all resolved yet."""

    status = 423


class TooLarge(AccordError):
    """A body or an uploaded image past its configured size limit."""

    status = 413


class ServiceUnavailable(AccordError):
    """A service Accord depends on for this request (Keystone) cannot be reached."""

    status = 503

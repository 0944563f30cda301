"""Device-profile grammar: `resources:`, `trait:` and `accel:` keys in each group (Cyborg §1.4).

Plain Python: takes the decoded JSON, returns a validated profile or raises InvalidInput with a
message that says what to fix.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any

from accord.domain.errors import InvalidInput
from accord.domain.naming import CUSTOM_NAME, STANDARD_RESOURCE_CLASSES, fpga_vendor_trait

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9\-_]+$")
NAME_MAX = 255
DESCRIPTION_MAX = 255
TRAIT_VALUES = ("required", "forbidden")
MAX_AMOUNT = 1024
PREFIXES = ("resources:", "trait:", "accel:")
XILINX_TRAIT = fpga_vendor_trait("xilinx")


@dataclass(frozen=True)
class ProfileGroup:
    """One request group: what one accelerator (or several of one kind) must satisfy."""

    resources: dict[str, int]
    required_traits: frozenset[str] = frozenset()
    forbidden_traits: frozenset[str] = frozenset()
    accel: dict[str, str] = field(default_factory=dict)

    @property
    def function_id(self) -> str | None:
        return self.accel.get("function_id")

    @property
    def bitstream_id(self) -> str | None:
        return self.accel.get("bitstream_id")

    def arq_count(self) -> int:
        """How many ARQs this group yields: the sum of its amounts (Cyborg's rule).

        A Xilinx group counts FPGA twice because a card's management and user functions are
        attached together (Cyborg's special case, kept for compatibility).
        """
        count = sum(self.resources.values())
        if XILINX_TRAIT in self.required_traits:
            count += self.resources.get("FPGA", 0)
        return count

    def to_json(self) -> dict[str, str]:
        out: dict[str, str] = {f"resources:{rc}": str(n) for rc, n in self.resources.items()}
        out.update({f"trait:{t}": "required" for t in sorted(self.required_traits)})
        out.update({f"trait:{t}": "forbidden" for t in sorted(self.forbidden_traits)})
        out.update({f"accel:{k}": v for k, v in self.accel.items()})
        return out


@dataclass(frozen=True)
class ProfileSpec:
    name: str
    groups: list[ProfileGroup]
    description: str | None = None
    uuid: str | None = None


def validate_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidInput("Device profile name must be a string.")
    if name == "":
        raise InvalidInput("Device profile name must not be empty.")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"Device profile name is longer than {NAME_MAX} characters.")
    if not NAME_PATTERN.match(name):
        raise InvalidInput(f"Device profile name {name!r} may only contain letters, digits, '-' and '_'.")
    return name


def is_valid_resource_class(rc: str) -> bool:
    return rc in STANDARD_RESOURCE_CLASSES or bool(CUSTOM_NAME.match(rc))


def _parse_amount(rc: str, raw: str) -> int:
    text = raw.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_AMOUNT:
        raise InvalidInput(
            f"Amount for resources:{rc} must be a whole number from 1 to {MAX_AMOUNT}, got {raw!r}."
        )
    return int(text)


def parse_group(index: int, raw: object) -> ProfileGroup:
    where = f"Group {index}"
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where} must be an object of string keys and values.")
    resources: dict[str, int] = {}
    required: set[str] = set()
    forbidden: set[str] = set()
    accel: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            raise InvalidInput(f"{where}: the value of {key!r} must be a string.")
        prefix = next((p for p in PREFIXES if key.startswith(p)), None)
        if prefix is None:
            raise InvalidInput(f"{where}: key {key!r} must start with 'resources:', 'trait:' or 'accel:'.")
        suffix = key[len(prefix) :].strip()
        if not suffix:
            raise InvalidInput(f"{where}: key {key!r} has nothing after its prefix.")
        if prefix == "resources:":
            if not is_valid_resource_class(suffix):
                raise InvalidInput(
                    f"{where}: unknown resource class {suffix!r}; use FPGA, GPU, VGPU, PGPU "
                    "or CUSTOM_<UPPER_CASE>."
                )
            resources[suffix] = _parse_amount(suffix, value)
        elif prefix == "trait:":
            if not CUSTOM_NAME.match(suffix):
                raise InvalidInput(f"{where}: trait {suffix!r} must match CUSTOM_[A-Z0-9_]+.")
            if value not in TRAIT_VALUES:
                raise InvalidInput(
                    f"{where}: trait {suffix} must be 'required' or 'forbidden', got {value!r}."
                )
            (required if value == "required" else forbidden).add(suffix)
        else:
            accel[suffix] = value
    if not resources:
        raise InvalidInput(f"{where} asks for no resources; add at least one 'resources:<RC>' key.")
    return ProfileGroup(resources, frozenset(required), frozenset(forbidden), accel)


def parse_groups(raw: object) -> list[ProfileGroup]:
    if raw is None or raw == []:
        raise InvalidInput("A device profile needs a non-empty 'groups' list.")
    if not isinstance(raw, list):
        raise InvalidInput("'groups' must be a list of objects.")
    return [parse_group(i, g) for i, g in enumerate(raw)]


def parse_profile(body: object) -> ProfileSpec:
    """Validate a POST body: a list holding exactly one profile object (Cyborg's wire form)."""
    if not isinstance(body, list) or len(body) != 1:
        raise InvalidInput("The body must be a list holding exactly one device profile.")
    item = body[0]
    if not isinstance(item, dict):
        raise InvalidInput("The device profile must be a JSON object.")
    unknown = set(item) - {"name", "description", "uuid", "groups"}
    if unknown:
        raise InvalidInput(f"Unknown device profile fields: {', '.join(sorted(unknown))}.")
    name = validate_name(item.get("name", ""))
    description = item.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > DESCRIPTION_MAX):
        raise InvalidInput(f"'description' must be a string of at most {DESCRIPTION_MAX} characters.")
    profile_uuid = item.get("uuid")
    if profile_uuid is not None:
        profile_uuid = canonical_uuid(profile_uuid, "uuid")
    return ProfileSpec(name, parse_groups(item.get("groups")), description, profile_uuid)


def canonical_uuid(value: Any, what: str) -> str:
    """A uuid in its canonical dashed lower-case form, or InvalidInput naming the field."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a UUID string.")
    try:
        return str(uuidlib.UUID(value))
    except ValueError as exc:
        raise InvalidInput(f"{what} {value!r} is not a valid UUID.") from exc


def looks_like_uuid(value: str) -> bool:
    try:
        uuidlib.UUID(value)
    except ValueError:
        return False
    return True

"""Request bodies: one pydantic model per body, used both to parse the request and to describe
it in /openapi.json, so the two cannot drift.

Where the domain has a grammar of its own (device profiles, ARQ patches) the model runs it first,
so a mistake gets the grammar's message; the model's typed fields then document and enforce the
same shape. Every mistake is Cyborg's 400 with `{"error_message"}`, never a framework 422.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    RootModel,
    StrictBool,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from accord.domain.arq import PatchPlan, parse_patch
from accord.domain.device_profile import ProfileSpec, parse_profile
from accord.domain.errors import InvalidInput
from accord.domain.rollout import DEFAULT_CANARY, DEFAULT_WAVE, MAX_DEVICES, parse_wave

Body = TypeVar("Body", bound=BaseModel)


def parse(model: type[Body], raw: Any) -> Body:
    """Validate a decoded JSON body; a mistake is an InvalidInput naming the first bad field."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(describe(model, exc)) from exc


def describe(model: type[BaseModel], exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    what = getattr(model, "what", model.__name__)
    if error["type"] == "extra_forbidden":
        return f"Unknown field in the {what}: {where}."
    if error["type"] == "missing":
        return f"The {what} needs '{where}'."
    return f"Invalid {what}{f' at {where}' if where else ''}: {error['msg']}."


class Strict(BaseModel):
    """Unknown fields are refused; no silent coercion of "1" into 1 or true into 1."""

    model_config = ConfigDict(extra="forbid", strict=True)


def grammar_first(raw: Any, handler: ValidatorFunctionWrapHandler, grammar: Any) -> Any:
    """Run the domain's grammar before the typed fields (InvalidInput passes through pydantic
    untouched, with the grammar's own message) and keep its result on the model."""
    parsed = grammar(raw)
    model = handler(raw)
    model._parsed = parsed
    return model


class DeviceProfileIn(Strict):
    name: str = Field(pattern=r"^[a-zA-Z0-9\-_]+$", max_length=255)
    description: str | None = Field(default=None, max_length=255)
    uuid: str | None = None
    groups: list[dict[str, str]] = Field(
        min_length=1, examples=[[{"resources:FPGA": "1", "trait:CUSTOM_FPGA_INTEL": "required"}]]
    )


class DeviceProfileCreate(RootModel[list[DeviceProfileIn]]):
    """A list holding exactly one device profile (Cyborg's wire form)."""

    _parsed: ProfileSpec = PrivateAttr()

    @model_validator(mode="wrap")
    @classmethod
    def _grammar(cls, raw: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        return grammar_first(raw, handler, parse_profile)

    @property
    def spec(self) -> ProfileSpec:
        return self._parsed


class ARQCreate(Strict):
    what: ClassVar[str] = "accelerator request"
    device_profile_name: str
    device_profile_group_id: int | None = None


class PatchOp(BaseModel):
    op: Literal["add", "remove"]
    path: Literal["/hostname", "/device_rp_uuid", "/instance_uuid", "/project_id"]
    value: str | None = None


class ARQPatch(RootModel[dict[str, list[PatchOp]]]):
    """ARQ uuid → JSON-patch ops: all `add` (bind) or all `remove` (unbind)."""

    _parsed: PatchPlan = PrivateAttr()

    @model_validator(mode="wrap")
    @classmethod
    def _grammar(cls, raw: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        return grammar_first(raw, handler, lambda body: parse_patch(body, project_id_allowed=True))

    @property
    def plan(self) -> PatchPlan:
        return self._parsed


class AttributeCreate(Strict):
    what: ClassVar[str] = "attribute"
    deployable_id: str | int = Field(description="The deployable's uuid (or Cyborg's integer id)")
    key: str = Field(min_length=1, max_length=255)
    value: str = Field(min_length=1, max_length=255)

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, raw: Any) -> Any:
        # openstacksdk wraps the body in its resource key.
        if isinstance(raw, dict) and set(raw) == {"attribute"}:
            return raw["attribute"]
        return raw


class QuotaLimit(Strict):
    what: ClassVar[str] = "quota"
    limit: int = Field(ge=0, le=1_000_000)


class ImageCreate(Strict):
    what: ClassVar[str] = "image"
    name: str = Field(max_length=255)
    kind: Literal["bitstream", "firmware"]
    vendor: str | None = Field(default=None, max_length=64)
    version: str | None = Field(default=None, max_length=128, description="Required for firmware")
    function_id: str | None = Field(default=None, description="AFU / accelerator type uuid or xclbin uuid")
    interface_id: str | None = Field(default=None, description="PR interface uuid the image is built for")
    target: str | None = Field(default=None, description="Interface uuid, platform VBNV or part name")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    signature: str | None = Field(
        default=None, max_length=512, description="base64 ed25519 signature over the sha256 digest"
    )
    properties: dict[str, str] = Field(default_factory=dict)
    uuid: str | None = None


class ImageReject(Strict):
    what: ClassVar[str] = "rejection"
    reason: str = Field(min_length=1, max_length=1024)


class TrustedKeyCreate(Strict):
    what: ClassVar[str] = "trusted key"
    name: str = Field(min_length=1, max_length=255)
    public_key: str = Field(
        max_length=4096, description="ed25519 public key: PEM, OpenSSH or base64 of the raw 32 bytes"
    )


class FirmwareFlash(Strict):
    what: ClassVar[str] = "firmware request"
    image_uuid: str = Field(description="An approved firmware image")
    force: bool = Field(default=False, description="Allow a downgrade or a re-flash of the same version")


class RolloutSelector(Strict):
    what: ClassVar[str] = "device selector"
    host: str | None = Field(default=None, max_length=255, description="Devices of this host")
    vendor: str | None = Field(default=None, max_length=16, description="PCI vendor id, e.g. 8086")
    model: str | None = Field(default=None, max_length=255, description="Device model (any case)")
    type: str | None = Field(default=None, max_length=16, description="FPGA, GPU, QAT, NIC, …")


class FirmwareRolloutCreate(Strict):
    """A firmware campaign: an approved image onto the devices named or selected, in waves."""

    what: ClassVar[str] = "firmware rollout"
    image_uuid: str = Field(description="An approved firmware image")
    device_uuids: list[str] | None = Field(default=None, min_length=1, max_length=MAX_DEVICES)
    selector: RolloutSelector | None = None
    canary: int = Field(default=DEFAULT_CANARY, ge=0, description="Devices flashed first, alone (wave 0)")
    wave: int | str = Field(
        default=DEFAULT_WAVE, description='Devices per later wave: a number >= 1 or a percentage ("25%")'
    )
    max_failures: int = Field(default=0, ge=0, description="Failures tolerated before the campaign stops")
    in_use: Literal["wait", "skip"] = Field(
        default="skip", description="A device whose handles are in use: wait for them, or skip it"
    )

    @field_validator("wave")
    @classmethod
    def _wave(cls, value: int | str) -> int | str:
        parse_wave(value)
        return value


class VgpuTypePin(Strict):
    what: ClassVar[str] = "vGPU type pin"
    vgpu_type: str | None = Field(
        max_length=64,
        description="The vGPU type id (nvidia-222) to mirror into Placement and DRA; null unpins",
    )


class ProgramImage(Strict):
    image_uuid: str


class ProgramOp(Strict):
    op: Literal["replace"]
    path: Literal["/program"]
    value: list[ProgramImage] = Field(min_length=1, max_length=1)


class DeployableProgram(RootModel[list[ProgramOp]]):
    """Cyborg's manual programming: `[{"op": "replace", "path": "/program", "value": [{"image_uuid"}]}]`."""

    what: ClassVar[str] = "program request"

    @property
    def image_uuid(self) -> str:
        return self.root[0].value[0].image_uuid

    @model_validator(mode="after")
    def _one_op(self) -> DeployableProgram:
        if len(self.root) != 1:
            raise ValueError("exactly one replace of /program")
        return self


MAX_CLAIM = 16


class OperationResult(BaseModel):
    """What an agent reports when an operation ends; `attempt` (the claim's `attempts`) lets a
    result for an attempt whose lease ran out be told apart from the running one."""

    what: ClassVar[str] = "operation result"
    model_config = ConfigDict(extra="forbid")
    succeeded: StrictBool
    result: dict[str, Any] = Field(default_factory=dict)
    error: str | None = Field(default=None, max_length=4000)
    attempt: int | None = Field(default=None, ge=1, strict=True)


class HostEnrolment(Strict):
    """`PUT /v2/hosts/{name}`: an operator enrols a host; `bare_metal` marks an Ironic node."""

    what: ClassVar[str] = "host enrolment"
    bare_metal: StrictBool


class HostOperationStart(Strict):
    """`POST /v2/hosts/{name}/operations`: a bare-metal node's ramdisk starts its own operation
    (an Ironic step): program an approved bitstream, or flash approved firmware."""

    what: ClassVar[str] = "operation request"
    kind: Literal["program", "firmware"]
    image_uuid: str = Field(min_length=1, max_length=64)
    pci_address: str | None = Field(
        default=None, max_length=16, description="The card; default: every fitting one"
    )


class ClaimRequest(Strict):
    what: ClassVar[str] = "claim"
    limit: int = Field(default=4, ge=1, le=MAX_CLAIM)

"""Request-body models for /openapi.json.

Handlers parse bodies themselves (so every mistake gets Cyborg's 400 with a message of our
own, never a framework 422); these models only describe the bodies to clients and tools.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field, RootModel, TypeAdapter

from accord.schemas.inventory import Heartbeat, InventorySnapshot


class DeviceProfileIn(BaseModel):
    name: str = Field(pattern=r"^[a-zA-Z0-9\-_]+$", max_length=255)
    description: str | None = Field(default=None, max_length=255)
    uuid: str | None = None
    groups: list[dict[str, str]] = Field(
        min_length=1, examples=[[{"resources:FPGA": "1", "trait:CUSTOM_FPGA_INTEL": "required"}]]
    )


class DeviceProfileCreate(RootModel[list[DeviceProfileIn]]):
    """A list holding exactly one device profile (Cyborg's wire form)."""


class ARQCreate(BaseModel):
    device_profile_name: str
    device_profile_group_id: int | None = None


class PatchOp(BaseModel):
    op: Literal["add", "remove"]
    path: Literal["/hostname", "/device_rp_uuid", "/instance_uuid", "/project_id"]
    value: str | None = None


class ARQPatch(RootModel[dict[str, list[PatchOp]]]):
    """ARQ uuid → JSON-patch ops: all `add` (bind) or all `remove` (unbind)."""


class AttributeCreate(BaseModel):
    deployable_id: str
    key: str
    value: str


class QuotaLimit(BaseModel):
    limit: int = Field(ge=0, le=1_000_000)


class ImageCreate(BaseModel):
    name: str = Field(max_length=255)
    kind: Literal["bitstream", "firmware"]
    vendor: str | None = Field(default=None, max_length=64)
    version: str | None = Field(default=None, max_length=128, description="Required for firmware")
    function_id: str | None = Field(default=None, description="AFU / accelerator type uuid or xclbin uuid")
    interface_id: str | None = Field(default=None, description="PR interface uuid the image is built for")
    target: str | None = Field(default=None, description="Interface uuid, platform VBNV or part name")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    signature: str | None = Field(default=None, description="base64 ed25519 signature over the sha256 digest")
    properties: dict[str, str] = Field(default_factory=dict)
    uuid: str | None = None


class ImageReject(BaseModel):
    reason: str = Field(max_length=1024)


class TrustedKeyCreate(BaseModel):
    name: str = Field(max_length=255)
    public_key: str = Field(description="ed25519 public key: PEM, OpenSSH or base64 of the raw 32 bytes")


BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("PUT", "/v2/quotas/{project_id}/{resource_class}"): QuotaLimit,
    ("POST", "/v2/device_profiles"): DeviceProfileCreate,
    ("POST", "/v2/accelerator_requests"): ARQCreate,
    ("PATCH", "/v2/accelerator_requests"): ARQPatch,
    ("PATCH", "/v2/accelerator_requests/{arq_uuid}"): ARQPatch,
    ("POST", "/v2/attributes"): AttributeCreate,
    ("POST", "/v2/hosts/{hostname}/inventory"): InventorySnapshot,
    ("POST", "/v2/hosts/{hostname}/heartbeat"): Heartbeat,
    ("POST", "/v2/images"): ImageCreate,
    ("POST", "/v2/images/{image_uuid}/reject"): ImageReject,
    ("POST", "/v2/trusted_keys"): TrustedKeyCreate,
}

REF = "#/components/schemas/{model}"
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error_message": {"type": "string"}},
    "required": ["error_message"],
}
ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
ERROR_STATUSES = {
    "400": "Invalid input",
    "401": "Not authenticated",
    "403": "Not allowed",
    "404": "Not found",
    "406": "Microversion not acceptable",
}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = spec.setdefault("components", {}).setdefault("schemas", {})
        for (method, path), model in BODIES.items():
            schema = TypeAdapter(model).json_schema(ref_template=REF)
            components.update(schema.pop("$defs", {}))
            components[model.__name__] = schema
            operation = spec["paths"][path][method.lower()]
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}},
            }
        components["Error"] = ERROR_SCHEMA
        for operations in spec["paths"].values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                for status, text in ERROR_STATUSES.items():
                    responses.setdefault(status, {"description": text, "content": ERROR_CONTENT})
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]

"""The whole-host inventory snapshot an agent reports (shared by agent and server).

The agent always reports everything it sees; the server diffs the snapshot against the store
in one transaction (`accord.store.inventory`). Keys used for the diff:
devices by `pci_address` (the physical function, or the management PF of a Xilinx card),
deployables by `name` within their device, attach handles by (`attach_type`, canonical
`attach_info`), attributes by key.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from accord.domain.naming import is_resource_class, is_trait

DeviceType = Literal["GPU", "FPGA", "AICHIP", "QAT", "NIC", "SSD"]
AttachType = Literal["PCI", "MDEV", "TEST_PCI"]
HealthState = Literal["ok", "degraded", "unusable"]

PCI_ADDRESS = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Health(_Strict):
    """Why a device can or cannot be used. `unusable` devices offer nothing to binds."""

    state: HealthState = "ok"
    reasons: list[str] = Field(default_factory=list)


class ControlPathId(_Strict):
    """How the agent reaches the device (Cyborg's controlpath_ids row)."""

    cpid_type: Literal["PCI"] = "PCI"
    cpid_info: dict[str, str]  # {"domain","bus","device","function"} of the PF, hex strings


class AttachHandleReport(_Strict):
    """A PCI function or a mediated-device type that an ARQ can be given.

    PCI: attach_info = {"domain":"0000","bus":"0c","device":"00","function":"0"} (+"physical_network"
    for NICs). MDEV: the parent's PCI keys plus "asked_type" (mdev type id, e.g. "nvidia-35")
    and "vgpu_mark" (Cyborg's marker, `<type>_<index>`); one handle per available instance.
    """

    attach_type: AttachType
    attach_info: dict[str, str]


class PartitionReport(_Strict):
    """How one unit of a deployable draws on its device's counters (`accord.domain.partitions`)."""

    consumes: dict[str, dict[str, Annotated[int, Field(ge=0)]]] = Field(default_factory=dict)
    exclusive_group: str | None = Field(default=None, max_length=63)
    max_units: int | None = Field(default=None, ge=0)
    occupied: int = Field(default=0, ge=0)  # units on the host that no handle accounts for
    part_type: str | None = Field(default=None, max_length=64)  # vGPU type id, MIG profile


class DeployableReport(_Strict):
    """A programmable region or a partition: one resource provider in Placement terms.

    `name` is local to the host (e.g. the PF address, or `0000:5e:00.0-port0`); the server
    prefixes the hostname (`<host>_<name>`, Cyborg's convention) and derives the rp_uuid from it.
    """

    name: str = Field(min_length=1, max_length=200)
    num_accelerators: int = Field(ge=0)
    resource_class: str
    traits: list[str] = Field(default_factory=list)
    driver_name: str
    # What is loaded: the AFU id (Intel) or xclbin uuid (Xilinx); None when unknown/empty.
    function_id: str | None = None
    # PR interface id of the region (Intel FME `pr/interface_id`, Xilinx interface uuid).
    interface_id: str | None = None
    attach_handles: list[AttachHandleReport] = Field(default_factory=list)
    # A partition of a device with counter sets (a vGPU type, a MIG profile, the whole GPU).
    partition: PartitionReport | None = None

    @field_validator("resource_class")
    @classmethod
    def _valid_rc(cls, value: str) -> str:
        if not is_resource_class(value):
            raise ValueError(f"invalid resource class {value!r}")
        return value

    @field_validator("traits")
    @classmethod
    def _valid_traits(cls, values: list[str]) -> list[str]:
        for trait in values:
            if not is_trait(trait):
                raise ValueError(f"invalid trait name {trait!r}")
        return values


class DeviceReport(_Strict):
    """One physical device (one physical function; a Xilinx card at its management PF)."""

    type: DeviceType
    vendor: str  # 4 hex digits, lower case, no 0x: "8086"
    product: str  # 4 hex digits: "0b30"
    model: str
    pci_address: str
    numa_node: int | None = None
    driver: str | None = None  # kernel driver bound to the PF, None when unbound
    firmware_version: str | None = None
    health: Health = Field(default_factory=Health)
    controlpath_id: ControlPathId
    # Extra facts shown in vendor_board_info (JSON-encoded by the API).
    vendor_board_info: dict[str, str] = Field(default_factory=dict)
    deployables: list[DeployableReport] = Field(default_factory=list)
    # Counters its partitions share: {"gpu": {"framebuffer_mib": 16384, "vfs": 16}}.
    counter_sets: dict[str, dict[str, Annotated[int, Field(ge=0)]]] = Field(default_factory=dict)

    @field_validator("pci_address")
    @classmethod
    def _valid_address(cls, value: str) -> str:
        if not PCI_ADDRESS.match(value):
            raise ValueError(f"invalid PCI address {value!r}")
        return value


class InventorySnapshot(_Strict):
    """Everything one host has, as its agent saw it in one scan."""

    hostname: str = Field(min_length=1, max_length=255)
    agent_version: str = Field(default="", max_length=64)
    devices: list[DeviceReport] = Field(default_factory=list)


class Heartbeat(_Strict):
    hostname: str = Field(min_length=1, max_length=255)
    agent_version: str = Field(default="", max_length=64)
    # Operation uuids the agent is working on now: their leases are renewed.
    operations: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=256
    )

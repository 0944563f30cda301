"""NVIDIA GPUs: whole-GPU passthrough (PGPU), vGPU (mediated devices or SR-IOV VFs), MIG via NVML.

What the kernel and the NVIDIA driver show, and what this family makes of it:
- A GPU is a display-class function (PCI base class 0x03: 0300 VGA, 0302 3D) of vendor 10de. Its
  HDMI audio (0403), USB (0c03) and UCSI (0c80) companions are other functions and not
  accelerators; a BMC's VGA (ASPEED, Matrox) is not NVIDIA's. SR-IOV VFs are never devices.
- vGPU through mdev (kernel Documentation/driver-api/vfio-mediated-device.rst): a parent has
  `mdev_supported_types/<type-id>/{name, available_instances, device_api, devices/}`; writing a
  uuid to `create` makes `<parent>/<uuid>` (also `bus/mdev/devices/<uuid>`), whose `remove`
  takes "1". On Ampere with vGPU <= 16 the parents are the GPU's VFs, one vGPU per VF.
- vGPU 17+ on SR-IOV GPUs (NVIDIA vgpu-device-manager, "vendor-specific VFIO"): no mdev; each VF
  has `nvidia/creatable_vgpu_types` ("<id> : <name>" lines) and `nvidia/current_vgpu_type`
  (0 = none). A VF with a type set is handed to a guest as a PCI device.
- `/proc/driver/nvidia/gpus/<addr>/information` carries "Model:" and "Video BIOS:" lines
  ("??.??.??.??.??" when the driver cannot read the VBIOS).
- Cyborg's conventions (cyborg/accelerator/drivers/gpu/nvidia/driver.py): RC PGPU or VGPU,
  traits OWNER_CYBORG and CUSTOM_NVIDIA_<PID>[_<VGPU type name, e.g. T4_1B>], one PCI handle or
  one MDEV handle per instance (vgpu_mark `<type>_<i>`).
- Partitions (`accord.domain.partitions`): a vGPU type's `description` carries `framebuffer=`
  and `max_instance=` (NVIDIA's mdev types); one type runs at a time on a GPU (NVIDIA's default,
  non-heterogeneous mode), so the types share the exclusivity group `vgpu`. The GPU's counter set
  `gpu` holds `framebuffer_mib` (the largest framebuffer x max_instance of its types: a type that
  fills the GPU alone) and, on SR-IOV GPUs, `vfs` (one vGPU per VF). Every type is reported with
  one handle per slot it can ever have, even while another type holds the GPU, so the server
  decides what coexists and deployables stay put. MIG profiles consume memory and compute slices
  (A100/H100 geometry: 8 and 7); in MIG mode the whole GPU is offered too, consuming them all.
"""

from __future__ import annotations

import importlib
import logging
import re
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from accord.agent.drivers.base import DriverConfig
from accord.agent.drivers.common import board_info, controlpath, kernel_health, pci_handle
from accord.agent.drivers.common import set_num_vfs as common_set_num_vfs
from accord.agent.hostio import HostIO
from accord.agent.sysfs import (
    PCI_ADDRESS,
    PCI_DEVICES,
    PciFunction,
    pci_info,
    physical_functions,
    read_function,
    read_int,
    read_text,
)
from accord.domain import naming
from accord.schemas.inventory import (
    AttachHandleReport,
    DeployableReport,
    DeviceReport,
    Health,
    PartitionReport,
)

log = logging.getLogger(__name__)

NVIDIA = "10de"
MDEV_DEVICES = Path("sys/bus/mdev/devices")
# Only used when the NVIDIA driver is not loaded (no /proc information file to read the model from).
KNOWN_MODELS = {
    "1eb8": "Tesla T4",
    "20b0": "A100-SXM4-40GB",
    "20f1": "A100-PCIE-40GB",
    "2204": "GeForce RTX 3090",
}
_TYPE_ID = re.compile(r"^[A-Za-z0-9._-]+$")
_CREATABLE_LINE = re.compile(r"^\s*(\d+)\s*:\s*(.+?)\s*$")
_FRAMEBUFFER = re.compile(r"framebuffer=(\d+)([MG])", re.IGNORECASE)
_MAX_INSTANCE = re.compile(r"max_instance=(\d+)")
VGPU_GROUP = "vgpu"
GPU_COUNTERS = "gpu"
# MIG geometry of A100/H100: 8 memory slices, 7 compute slices; profile "<c>g.<mem>gb" takes c
# compute slices and this many memory slices (NVIDIA's MIG user guide, profile table).
MIG_MEMORY_SLICES = {1: 1, 2: 2, 3: 4, 4: 4, 7: 8}
MIG_COUNTERS = {"memory_slices": 8, "compute_slices": 7}


class VgpuError(RuntimeError):
    """A vGPU could not be created or removed; the message says why."""


# --- NVML (optional) -----------------------------------------------------------------------


@dataclass(frozen=True)
class MigInstance:
    """One MIG device as NVML reports it."""

    profile: str  # NVML's profile name, "1g.10gb"
    uuid: str  # "MIG-<uuid>"
    gpu_instance_id: int


class NvmlSource(Protocol):
    def mig_instances(self, pci_address: str) -> list[MigInstance]: ...


class PynvmlSource:
    """NvmlSource over the `pynvml` bindings (nvidia-ml-py), which stay an optional extra."""

    def __init__(self, nvml: Any) -> None:
        self.nvml = nvml
        self._vgpu_names: dict[str, str] = {}  # vGPU 17+ type id -> name, learned from the VFs

    def mig_instances(self, pci_address: str) -> list[MigInstance]:
        nv = self.nvml
        try:
            gpu = nv.nvmlDeviceGetHandleByPciBusId(pci_address)
            current, _pending = nv.nvmlDeviceGetMigMode(gpu)
            if current != nv.NVML_DEVICE_MIG_ENABLE:
                return []
            found = []
            for index in range(nv.nvmlDeviceGetMaxMigDeviceCount(gpu)):
                try:
                    mig = nv.nvmlDeviceGetMigDeviceHandleByIndex(gpu, index)
                except nv.NVMLError:
                    continue  # an empty slot
                name = _text(nv.nvmlDeviceGetName(mig))  # "NVIDIA A100-SXM4-40GB MIG 1g.5gb"
                profile = name.rsplit("MIG", 1)[-1].strip() or name
                found.append(
                    MigInstance(
                        profile=profile,
                        uuid=_text(nv.nvmlDeviceGetUUID(mig)),
                        gpu_instance_id=int(nv.nvmlDeviceGetGpuInstanceId(mig)),
                    )
                )
            return found
        except nv.NVMLError as exc:
            log.warning("NVML could not list MIG devices of %s: %s", pci_address, exc)
            return []


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def load_nvml() -> NvmlSource | None:
    """NVML when `pynvml` is installed and the driver answers; None otherwise (MIG then unseen)."""
    try:
        nvml = importlib.import_module("pynvml")
    except ImportError:
        return None
    try:
        nvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, _DriverNotLoaded, ...
        log.info("NVML present but not usable: %s", exc)
        return None
    return PynvmlSource(nvml)


# --- what sysfs and /proc say --------------------------------------------------------------


def is_gpu(function: PciFunction) -> bool:
    return function.vendor == NVIDIA and function.base_class == "03" and not function.is_vf


def proc_information(root: Path, address: str) -> dict[str, str]:
    text = read_text(root / "proc/driver/nvidia/gpus" / address / "information") or ""
    facts = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            facts[key.strip()] = value.strip()
    return facts


def vbios_version(facts: dict[str, str]) -> str | None:
    version = facts.get("Video BIOS", "")
    return version if version and "?" not in version else None


@dataclass
class VgpuType:
    """One vGPU type on one GPU, summed over the functions that host it (the PF or its VFs)."""

    type_id: str
    name: str
    available: int = 0
    created: tuple[str, ...] = ()  # mdev uuids, or VF addresses for vGPU 17+
    slots: int = 0  # instances it could ever have on this GPU (one handle each)
    framebuffer_mib: int | None = None  # from the description
    max_instance: int | None = None  # from the description: per GPU

    @property
    def capacity(self) -> int:
        # A created (maybe in-use) vGPU is still capacity: it is one of the handles.
        return self.available + len(self.created)


def parse_description(text: str) -> tuple[int | None, int | None]:
    """(framebuffer MiB, max_instance) from an NVIDIA type's description, None where absent."""
    fb = _FRAMEBUFFER.search(text)
    most = _MAX_INSTANCE.search(text)
    framebuffer = int(fb.group(1)) * (1024 if fb.group(2).upper() == "G" else 1) if fb else None
    return framebuffer, int(most.group(1)) if most else None


def mdev_types(parent: Path, on_vf: bool = False) -> list[VgpuType]:
    """The types one function offers. A VF hosts one vGPU (one slot); the PF as many as the
    type's max_instance (or what it shows now, when the description does not say)."""
    base = parent / "mdev_supported_types"
    if not base.is_dir():
        return []
    found = []
    for type_dir in sorted(base.iterdir()):
        devices = type_dir / "devices"
        created = tuple(sorted(p.name for p in devices.iterdir())) if devices.is_dir() else ()
        framebuffer, max_instance = parse_description(read_text(type_dir / "description") or "")
        offer = VgpuType(
            type_id=type_dir.name,
            name=read_text(type_dir / "name") or type_dir.name,
            available=max(read_int(type_dir / "available_instances") or 0, 0),
            created=created,
            framebuffer_mib=framebuffer,
            max_instance=max_instance,
        )
        offer.slots = max(offer.capacity, 1 if on_vf else (max_instance or 0))
        found.append(offer)
    return found


def merge(into: dict[str, VgpuType], offers: list[VgpuType]) -> None:
    for offer in offers:
        have = into.setdefault(
            offer.type_id, VgpuType(offer.type_id, offer.name, framebuffer_mib=offer.framebuffer_mib)
        )
        have.available += offer.available
        have.slots += offer.slots
        have.created = tuple(sorted(have.created + offer.created))
        have.max_instance = max(have.max_instance or 0, offer.max_instance or 0) or None


def vgpu_counters(offers: list[VgpuType], vf_count: int) -> dict[str, int]:
    """The GPU's counter set for its vGPU types: the framebuffer a type that fills the GPU
    alone uses (largest framebuffer x max_instance), and the VFs on SR-IOV GPUs."""
    counters = {}
    sizes = [t.framebuffer_mib * t.max_instance for t in offers if t.framebuffer_mib and t.max_instance]
    if sizes:
        counters["framebuffer_mib"] = max(sizes)
    if vf_count:
        counters["vfs"] = vf_count
    return counters


def vgpu_partition(offer: VgpuType, counters: dict[str, int], occupied: int) -> PartitionReport:
    consumes = {}
    if "framebuffer_mib" in counters and offer.framebuffer_mib:
        consumes["framebuffer_mib"] = offer.framebuffer_mib
    if "vfs" in counters:
        consumes["vfs"] = 1
    return PartitionReport(
        consumes={GPU_COUNTERS: consumes} if consumes else {},
        exclusive_group=VGPU_GROUP,
        max_units=offer.max_instance,
        occupied=occupied,
        part_type=offer.type_id,
    )


def mig_partition(profile: str) -> PartitionReport:
    compute = int(profile.split("g", 1)[0]) if profile[:1].isdigit() else 7
    memory = MIG_MEMORY_SLICES.get(compute, compute)
    return PartitionReport(
        consumes={GPU_COUNTERS: {"memory_slices": memory, "compute_slices": compute}}, part_type=profile
    )


def creatable_types(vf: PciFunction) -> dict[str, str]:
    text = read_text(vf.path / "nvidia" / "creatable_vgpu_types") or ""
    return {m.group(1): m.group(2) for m in map(_CREATABLE_LINE.match, text.splitlines()) if m}


def vfio_vgpu_types(vfs: list[PciFunction], names: dict[str, str]) -> dict[str, VgpuType]:
    """vGPU 17+: each VF is one vGPU slot; a type set on a VF is a created instance of it.

    A VF's creatable list drops types once capacity is used, so `names` (type id -> name) is
    learned from every VF and kept by the caller, for types no VF lists any more.
    """
    current = {vf.address: read_text(vf.path / "nvidia" / "current_vgpu_type") for vf in vfs}
    creatable = {vf.address: creatable_types(vf) for vf in vfs}
    for listing in creatable.values():
        names.update(listing)
    offers: dict[str, VgpuType] = {}
    for vf in vfs:
        chosen = current[vf.address]
        if chosen and chosen != "0":
            have = offers.setdefault(chosen, VgpuType(chosen, names.get(chosen, chosen)))
            have.created = (*have.created, vf.address)
            continue
        for type_id, name in creatable[vf.address].items():
            offers.setdefault(type_id, VgpuType(type_id, name)).available += 1
    return offers


def type_name_trait(pid: str, name: str) -> str:
    # Cyborg's CUSTOM_NVIDIA_<PID>_<T4_1B>: the last word of "GRID T4-1B".
    return naming.custom_trait("NVIDIA", pid, name.split()[-1] if name.split() else name)


def vgpu_traits(pid: str, offer: VgpuType) -> list[str]:
    return [
        naming.OWNER_TRAIT,
        type_name_trait(pid, offer.name),
        naming.custom_trait("VGPU_TYPE", offer.type_id),
    ]


class NvidiaGpuDriver:
    """Discovers, ProbesHealth, ManagesMdevs (vGPU), ManagesVfs (SR-IOV GPUs). GPUs are not
    programmed, and VBIOS flashing (nvflash) is not a tool NVIDIA publishes for data-centre GPUs
    (firmware comes in the vendor's own bundles), so neither is here."""

    name = "nvidia_gpu"

    def __init__(
        self, root: Path, io: HostIO, config: DriverConfig | None = None, nvml: NvmlSource | None = None
    ) -> None:
        self.root = root
        self.io = io
        self.config = config or DriverConfig()
        self.nvml = nvml
        self._vgpu_names: dict[str, str] = {}  # vGPU 17+ type id -> name, learned from the VFs

    # --- discovery -------------------------------------------------------------------------

    def discover(self) -> list[DeviceReport]:
        return [self._report(f) for f in physical_functions(self.root) if is_gpu(f)]

    def _report(self, gpu: PciFunction) -> DeviceReport:
        facts = proc_information(self.root, gpu.address)
        vfs = [read_function(self.root, a) for a in gpu.virtfns]
        info = board_info(gpu)
        mdev_offers: dict[str, VgpuType] = {}
        merge(mdev_offers, mdev_types(gpu.path))
        vf_hosted = False
        for vf in vfs:
            offers = mdev_types(vf.path, on_vf=True)
            vf_hosted |= bool(offers)
            merge(mdev_offers, offers)
        created = [f"{u}({t.type_id})" for t in mdev_offers.values() for u in t.created]
        if created:
            info["mdevs"] = ",".join(sorted(created))
        vfio_offers = vfio_vgpu_types(vfs, self._vgpu_names)
        counters = vgpu_counters(list(mdev_offers.values()), len(vfs) if vf_hosted else 0)
        deployables = [self._mdev_deployable(gpu, t, counters) for t in mdev_offers.values() if t.slots]
        if vfio_offers:
            counters = {"vfs": len(vfs)}
        deployables += [
            self._vfio_deployable(gpu, vfio_offers[t], counters)
            for t in sorted(vfio_offers)
            if vfio_offers[t].created
        ]
        migs = self._mig_deployables(gpu)
        if migs:
            counters = dict(MIG_COUNTERS)
            deployables += [*migs, self._pgpu_deployable(gpu, mig_mode=True)]
        # A GPU set up for vGPU (even with no capacity left) is not offered whole; in MIG mode
        # it is, consuming every slice (so it and the MIG devices exclude each other).
        if not mdev_offers and not vfio_offers and not deployables:
            deployables = [self._pgpu_deployable(gpu)]
        return DeviceReport(
            type="GPU",
            vendor=gpu.vendor,
            product=gpu.device,
            model=facts.get("Model") or KNOWN_MODELS.get(gpu.device, f"NVIDIA GPU {gpu.vendor_product}"),
            pci_address=gpu.address,
            numa_node=gpu.numa_node,
            driver=gpu.driver,
            firmware_version=vbios_version(facts),
            health=gpu_health(gpu),
            controlpath_id=controlpath(gpu),
            vendor_board_info=info,
            deployables=deployables,
            counter_sets={GPU_COUNTERS: counters} if counters else {},
        )

    def _deployable(
        self,
        name: str,
        count: int,
        rc: str,
        traits: list[str],
        handles: list[AttachHandleReport],
        partition: PartitionReport | None = None,
    ) -> DeployableReport:
        return DeployableReport(
            name=name,
            num_accelerators=count,
            resource_class=rc,
            traits=traits,
            driver_name=self.name,
            attach_handles=handles,
            partition=partition,
        )

    def _pgpu_deployable(self, gpu: PciFunction, mig_mode: bool = False) -> DeployableReport:
        traits = [naming.OWNER_TRAIT, naming.custom_trait("NVIDIA", gpu.device)]
        whole = PartitionReport(consumes={GPU_COUNTERS: dict(MIG_COUNTERS)}, part_type="whole")
        return self._deployable(
            gpu.address, 1, naming.RC_PGPU, traits, [pci_handle(gpu.address)], whole if mig_mode else None
        )

    def _mdev_deployable(
        self, gpu: PciFunction, offer: VgpuType, counters: dict[str, int]
    ) -> DeployableReport:
        # Handles carry the PF's address even when a VF hosts the mdev: the server routes
        # create/remove by device, and create_mdev picks the VF.
        handles = [
            AttachHandleReport(
                attach_type="MDEV",
                attach_info={
                    **pci_info(gpu.address),
                    "asked_type": offer.type_id,
                    "vgpu_mark": f"{offer.type_id}_{i}",
                },
            )
            for i in range(offer.slots)
        ]
        name = f"{gpu.address}-{offer.type_id}"
        partition = vgpu_partition(offer, counters, len(offer.created))
        traits = vgpu_traits(gpu.device, offer)
        return self._deployable(name, offer.slots, naming.RC_VGPU, traits, handles, partition)

    def _vfio_deployable(
        self, gpu: PciFunction, offer: VgpuType, counters: dict[str, int]
    ) -> DeployableReport:
        # vGPU 17+: only VFs that already carry a type can be handed out (as PCI devices);
        # choosing a type for a free VF is the operator's step (sriov-manage/current_vgpu_type).
        handles = [pci_handle(vf, vgpu_type=offer.type_id) for vf in offer.created]
        name = f"{gpu.address}-vgpu-{offer.type_id}"
        partition = vgpu_partition(offer, counters, 0)  # typed VFs are the handles themselves
        traits = vgpu_traits(gpu.device, offer)
        return self._deployable(name, len(handles), naming.RC_VGPU, traits, handles, partition)

    def _mig_deployables(self, gpu: PciFunction) -> list[DeployableReport]:
        if self.nvml is None:
            return []
        by_profile: dict[str, list[MigInstance]] = {}
        for mig in self.nvml.mig_instances(gpu.address):
            by_profile.setdefault(mig.profile, []).append(mig)
        found = []
        for profile, migs in sorted(by_profile.items()):
            migs.sort(key=lambda m: (m.gpu_instance_id, m.uuid))
            handles = [pci_handle(gpu.address, mig_uuid=m.uuid) for m in migs]
            traits = [naming.OWNER_TRAIT, naming.custom_trait("NVIDIA", gpu.device, "MIG", profile)]
            rc = naming.custom_resource_class("MIG", profile)
            name = f"{gpu.address}-mig-{profile}"
            found.append(self._deployable(name, len(migs), rc, traits, handles, mig_partition(profile)))
        return found

    def health(self, pci_address: str) -> Health:
        return gpu_health(read_function(self.root, pci_address))

    # --- operations ------------------------------------------------------------------------

    def create_mdev(self, pci_address: str, mdev_type: str, mdev_uuid: str) -> None:
        root = self.root
        mdev_uuid = _checked_uuid(mdev_uuid)
        if not _TYPE_ID.match(mdev_type):
            raise ValueError(f"invalid mdev type {mdev_type!r}")
        existing = root / MDEV_DEVICES / mdev_uuid
        if existing.exists():
            # A retried create: fine when it is the same vGPU on this GPU, an error otherwise.
            if _mdev_type_of(existing) == mdev_type and _mdev_parent(existing) in _hosts(root, pci_address):
                return
            raise VgpuError(f"mediated device {mdev_uuid} already exists with another type or parent")
        type_dir = _free_type_dir(root, pci_address, mdev_type)
        try:
            self.io.write(type_dir / "create", mdev_uuid)
        except OSError as exc:
            raise VgpuError(f"{pci_address}: the kernel refused {mdev_type} {mdev_uuid}: {exc}") from exc
        if not (root / MDEV_DEVICES / mdev_uuid).exists():
            raise VgpuError(f"{pci_address}: {mdev_type} {mdev_uuid} did not appear after create")

    def remove_mdev(self, pci_address: str, mdev_uuid: str) -> None:
        root = self.root
        mdev_uuid = _checked_uuid(mdev_uuid)
        mdev = root / MDEV_DEVICES / mdev_uuid
        if not mdev.exists():
            return  # already gone: removal is idempotent, the server may not know it was created
        if _mdev_parent(mdev) not in _hosts(root, pci_address):
            raise VgpuError(f"mediated device {mdev_uuid} does not belong to {pci_address}")
        try:
            self.io.write(mdev / "remove", "1")
        except OSError as exc:
            raise VgpuError(f"{pci_address}: the kernel refused to remove {mdev_uuid}: {exc}") from exc
        if mdev.exists():
            raise VgpuError(f"{pci_address}: mediated device {mdev_uuid} is still there after remove")

    def set_num_vfs(self, pci_address: str, count: int) -> None:
        common_set_num_vfs(self.io, self.root, pci_address, count)


def gpu_health(gpu: PciFunction) -> Health:
    health = kernel_health(gpu, ("nvidia", "nouveau"))
    if health.state == "ok" and gpu.driver == "nouveau":
        # Whole-GPU passthrough can still detach it; vGPU and MIG need NVIDIA's driver.
        return Health(state="degraded", reasons=[f"{gpu.address} is bound to nouveau: no vGPU or MIG"])
    return health


def _checked_uuid(value: str) -> str:
    try:
        return str(uuidlib.UUID(value))
    except ValueError as exc:
        raise ValueError(f"invalid mdev uuid {value!r}") from exc


def _hosts(root: Path, pci_address: str) -> list[str]:
    """The functions that may parent this GPU's mdevs: the GPU itself, then its VFs."""
    if not PCI_ADDRESS.match(pci_address) or not (root / PCI_DEVICES / pci_address).exists():
        raise ValueError(f"no PCI device {pci_address!r}")
    return [pci_address, *read_function(root, pci_address).virtfns]


def _free_type_dir(root: Path, pci_address: str, mdev_type: str) -> Path:
    offered = False
    for host in _hosts(root, pci_address):
        type_dir = root / PCI_DEVICES / host / "mdev_supported_types" / mdev_type
        if type_dir.is_dir():
            offered = True
            if (read_int(type_dir / "available_instances") or 0) > 0:
                return type_dir
    if not offered:
        raise VgpuError(f"{pci_address} offers no vGPU type {mdev_type}")
    raise VgpuError(f"{pci_address} has no {mdev_type} instances left")


def _mdev_parent(mdev: Path) -> str:
    return mdev.resolve().parent.name


def _mdev_type_of(mdev: Path) -> str:
    return (mdev / "mdev_type").resolve().name

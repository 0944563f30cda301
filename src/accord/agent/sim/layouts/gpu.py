"""NVIDIA GPU hosts laid out as the kernel and NVIDIA's driver show them.

Sources for the layout (facts only):
- PCI identity: 10de:1eb8 Tesla T4 and 10de:20f1 A100 PCIe 40GB are 3D controllers (class 0302);
  GeForce cards are VGA (0300) with an HDMI audio function at .1 (class 0403), Turing cards
  also a USB 3.1 controller (0c03) and a USB Type-C UCSI controller (0c80); a server BMC's VGA
  is ASPEED 1a03:2000 (class 0300, driver `ast`) behind an ASPEED PCI bridge 1a03:1150.
- mdev (kernel Documentation/driver-api/vfio-mediated-device.rst): `mdev_supported_types/
  <type-id>/{name, available_instances, device_api, description, create, devices/}`. T4 type ids
  and counts (nvidia-222 "GRID T4-1B" x16, nvidia-223 "GRID T4-2B" x8) as in KubeVirt's tests
  and NVIDIA's vGPU guide. NVIDIA's `description` reads "num_heads=4, frl_config=60,
  framebuffer=1024M, max_resolution=5120x2880, max_instance=16": framebuffer = the GPU's memory
  (T4 16 GiB, A100 40 GiB) / max_instance.
- SR-IOV vGPU: A100 VFs start at function 4 (offset 4, stride 1); with vGPU <= 16 each VF has its
  own mdev_supported_types with one instance; with vGPU 17+ each VF has
  `nvidia/creatable_vgpu_types` ("<id> : <name>") and `nvidia/current_vgpu_type` (0 = none)
  (NVIDIA vgpu-device-manager). The A100 type ids below are illustrative.
- `/proc/driver/nvidia/gpus/<addr>/information`: "Model:", "GPU UUID:", "Video BIOS:" ... lines.
- NVIDIA's own public mock tree (go-nvlib `pkg/nvpci/mock.go`, `AddMockA100`, as its tests call it):
  an A100 10de:20bf, class 0x030200, bound to `nvidia`, at 0000:80:05.1 (function 1, not 0),
  NUMA node 0, IOMMU group 20, no SR-IOV and no mdev types.
"""

from __future__ import annotations

from pathlib import Path

from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.kernel import SimulatedKernel

T4 = "1eb8"
A100_PCIE = "20f1"
GO_NVLIB_A100 = "20bf"
T4_TYPES = {"nvidia-222": ("GRID T4-1B", 16), "nvidia-223": ("GRID T4-2B", 8)}
# More of a T4's types (NVIDIA's vGPU type table for the T4), for an idle GPU offering many.
T4_MORE_TYPES = {
    "nvidia-230": ("GRID T4-1Q", 16),
    "nvidia-231": ("GRID T4-2Q", 8),
    "nvidia-232": ("GRID T4-4Q", 4),
    "nvidia-234": ("GRID T4-16Q", 1),
}
T4_FRAMEBUFFER_MIB = 16384
A100_FRAMEBUFFER_MIB = 40960
# type id -> (name, max_instance per GPU): 40 GiB / 4 GiB = 10, / 5 GiB = 8
A100_MDEV_TYPES = {"nvidia-471": ("GRID A100-4C", 10), "nvidia-472": ("GRID A100-5C", 8)}
A100_VFIO_TYPES = {"1033": "NVIDIA A100-4C", "1034": "NVIDIA A100-5C"}


def proc_information(b: SysfsBuilder, address: str, model: str, vbios: str, minor: int = 0) -> Path:
    lines = [
        ("Model", model),
        ("IRQ", "180"),
        ("GPU UUID", f"GPU-{address.replace(':', '').replace('.', '')}-0000-0000-0000-000000000000"),
        ("Video BIOS", vbios),
        ("Bus Type", "PCIe"),
        ("DMA Size", "47 bits"),
        ("DMA Mask", "0x7fffffffffff"),
        ("Bus Location", address),
        ("Device Minor", str(minor)),
        ("GPU Excluded", "No"),
    ]
    text = "".join(f"{key}: \t {value}\n" for key, value in lines)
    return b.write(b.root / "proc/driver/nvidia/gpus" / address / "information", text)


def mdev_type(
    b: SysfsBuilder,
    parent: Path,
    type_id: str,
    name: str,
    instances: int,
    max_instance: int | None = None,
    gpu_memory_mib: int = T4_FRAMEBUFFER_MIB,
) -> Path:
    """One type on one function: `instances` available now, `max_instance` per GPU (default the
    same); its framebuffer is the GPU's memory shared by max_instance vGPUs."""
    most = instances if max_instance is None else max_instance
    description = (
        f"num_heads=4, frl_config=60, framebuffer={gpu_memory_mib // max(most, 1)}M, "
        f"max_resolution=5120x2880, max_instance={most}"
    )
    type_dir = parent / "mdev_supported_types" / type_id
    b.files(
        type_dir,
        {
            "name": name,
            "available_instances": str(instances),
            "device_api": "vfio-pci",
            "description": description,
            "create": "",
        },
    )
    (type_dir / "devices").mkdir(exist_ok=True)
    return type_dir


def create_mdevs(b: SysfsBuilder, parent: str, created: dict[str, list[str]]) -> None:
    """Pre-existing vGPUs, made the way the kernel makes them (a uuid written to `create`)."""
    kernel = SimulatedKernel(b.root)
    for type_id, uuids in created.items():
        for mdev_uuid in uuids:
            path = b.sys / "bus/pci/devices" / parent / "mdev_supported_types" / type_id / "create"
            kernel.write(path, mdev_uuid)


def tesla_t4_with_vgpu(
    b: SysfsBuilder,
    pf: str = "0000:3b:00.0",
    types: dict[str, tuple[str, int]] | None = None,
    created: dict[str, list[str]] | None = None,
    numa_node: int = 0,
    vbios: str = "90.04.38.00.03",
) -> str:
    """A T4 under the vGPU manager: mdev types on the PF, `types` = {id: (name, max instances)}."""
    path = b.pci(pf, "10de", T4, "030200", "nvidia", numa_node, subsystem=("10de", "12a2"))
    for type_id, (name, instances) in (T4_TYPES if types is None else types).items():
        mdev_type(b, path, type_id, name, instances)
    create_mdevs(b, pf, created or {})
    proc_information(b, pf, "Tesla T4", vbios)
    return pf


def tesla_t4_passthrough(b: SysfsBuilder, pf: str = "0000:5e:00.0", driver: str | None = "vfio-pci") -> str:
    """A T4 prepared for whole-GPU passthrough (no vGPU manager, so no mdev types)."""
    b.pci(pf, "10de", T4, "030200", driver, subsystem=("10de", "12a2"))
    return pf


def unbound_gpu(b: SysfsBuilder, pf: str = "0000:af:00.0") -> str:
    """A T4 no driver claimed (nvidia not loaded, or the device was unbound)."""
    b.pci(pf, "10de", T4, "030200", None, numa_node=1, subsystem=("10de", "12a2"))
    return pf


def a100_sriov(
    b: SysfsBuilder,
    pf: str = "0000:41:00.0",
    vfs: int = 4,
    interface: str = "mdev",
    current: dict[int, str] | None = None,
    numa_node: int = 0,
    vbios: str = "92.00.25.00.08",
) -> list[str]:
    """An A100 PCIe with `vfs` VFs enabled (as `sriov-manage -e` leaves it); returns the VFs.

    interface "mdev" (vGPU <= 16): every VF offers A100_MDEV_TYPES with one instance each.
    interface "vfio" (vGPU 17+): every VF lists A100_VFIO_TYPES as creatable; `current` sets a
    type on VF i, whose creatable list then empties (a VF hosts one vGPU).
    """
    b.pci(pf, "10de", A100_PCIE, "030200", "nvidia", numa_node, subsystem=("10de", "145f"))
    addresses = b.sriov(
        pf, total=16, vf_device=A100_PCIE, offset=4, stride=1, enabled=vfs, vf_driver="nvidia"
    )
    for index, vf in enumerate(addresses):
        vf_dir = b.device_dir(vf)
        if interface == "mdev":
            for type_id, (name, most) in A100_MDEV_TYPES.items():
                mdev_type(b, vf_dir, type_id, name, 1, most, A100_FRAMEBUFFER_MIB)
        else:
            chosen = (current or {}).get(index, "0")
            offered = {} if chosen != "0" else A100_VFIO_TYPES
            listing = "".join(f"{type_id} : {name}\n" for type_id, name in offered.items())
            b.files(vf_dir / "nvidia", {"creatable_vgpu_types": listing, "current_vgpu_type": chosen})
    proc_information(b, pf, "NVIDIA A100-PCIE-40GB", vbios)
    return addresses


def go_nvlib_mock_a100(b: SysfsBuilder, address: str = "0000:80:05.1") -> str:
    """The A100 of NVIDIA's go-nvlib mock tree, rebuilt from the facts it writes (no /proc file:
    the mock has none)."""
    b.pci(address, "10de", GO_NVLIB_A100, "030200", "nvidia", numa_node=0, iommu_group=20)
    return address


def workstation_gpu(
    b: SysfsBuilder,
    pf: str = "0000:65:00.0",
    device: str = "2204",
    model: str = "NVIDIA GeForce RTX 3090",
    audio: str = "1aef",
    usb_c: tuple[str, str] | None = None,
) -> str:
    """A GeForce card: VGA at .0, HDMI audio at .1; Turing adds USB (.2) and UCSI (.3)."""
    b.pci(pf, "10de", device, "030000", "nvidia")
    base = pf[:-1]
    b.pci(base + "1", "10de", audio, "040300", "snd_hda_intel")
    if usb_c is not None:
        b.pci(base + "2", "10de", usb_c[0], "0c0330", "xhci_hcd")
        b.pci(base + "3", "10de", usb_c[1], "0c8000", "nvidia-gpu")
    proc_information(b, pf, model, "94.02.42.00.a9")
    return pf


def aspeed_bmc(b: SysfsBuilder, bridge: str = "0000:02:00.0", vga: str = "0000:03:00.0") -> str:
    """The BMC's AST2500 VGA behind its PCI bridge: a display device, but not an accelerator."""
    b.pci(bridge, "1a03", "1150", "060400", None)  # pcieport binds PCIe ports only
    b.pci(vga, "1a03", "2000", "030000", "ast")
    return vga

"""The NVIDIA GPU family on fixture hosts laid out like the kernel, changed through SimulatedKernel."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from accord.agent.drivers.base import OperationNotSupported
from accord.agent.drivers.nvidia_gpu import (
    MigInstance,
    NvidiaGpuDriver,
    NvmlSource,
    PynvmlSource,
    VgpuError,
    load_nvml,
)
from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.kernel import SimulatedKernel
from accord.agent.sim.layouts import gpu
from accord.schemas.inventory import (
    AttachHandleReport,
    ControlPathId,
    DeployableReport,
    DeviceReport,
    Health,
    PartitionReport,
)

T4_PCI = {"domain": "0000", "bus": "3b", "device": "00", "function": "0"}
UUID_A = "6a0b3c1e-2f4d-4e8a-9b7c-1d2e3f4a5b6c"
UUID_B = "0f1e2d3c-4b5a-4697-8877-665544332211"
UUID_C = "11111111-2222-4333-8444-555555555555"


def driver(root: Path, nvml: NvmlSource | None = None) -> NvidiaGpuDriver:
    return NvidiaGpuDriver(root, SimulatedKernel(root), nvml=nvml)


def by_address(root: Path, nvml: NvmlSource | None = None) -> dict[str, DeviceReport]:
    return {d.pci_address: d for d in driver(root, nvml).discover()}


def deployables(device: DeviceReport) -> dict[str, DeployableReport]:
    return {d.name: d for d in device.deployables}


def mdev_handles(pci: dict[str, str], type_id: str, count: int) -> list[AttachHandleReport]:
    return [
        AttachHandleReport(
            attach_type="MDEV", attach_info={**pci, "asked_type": type_id, "vgpu_mark": f"{type_id}_{i}"}
        )
        for i in range(count)
    ]


def available(root: Path, parent: str, type_id: str) -> int:
    path = root / "sys/bus/pci/devices" / parent / "mdev_supported_types" / type_id / "available_instances"
    return int(path.read_text())


def vgpu_partition(
    type_id: str, framebuffer: int | None, most: int | None, occupied: int = 0, vfs: bool = False
) -> PartitionReport:
    consumes = {"framebuffer_mib": framebuffer} if framebuffer else {}
    if vfs:
        consumes["vfs"] = 1
    return PartitionReport(
        consumes={"gpu": consumes},
        exclusive_group="vgpu",
        max_units=most,
        occupied=occupied,
        part_type=type_id,
    )


@pytest.fixture
def b(tmp_path: Path) -> SysfsBuilder:
    return SysfsBuilder(tmp_path)


# --- discovery ---------------------------------------------------------------------------------


def test_t4_with_vgpu_types_exact_report(b: SysfsBuilder) -> None:
    gpu.tesla_t4_with_vgpu(b, numa_node=1)

    assert driver(b.root).discover() == [
        DeviceReport(
            type="GPU",
            vendor="10de",
            product="1eb8",
            model="Tesla T4",
            pci_address="0000:3b:00.0",
            numa_node=1,
            driver="nvidia",
            firmware_version="90.04.38.00.03",
            health=Health(),
            controlpath_id=ControlPathId(cpid_info=T4_PCI),
            vendor_board_info={
                "pci_address": "0000:3b:00.0",
                "vendor_id": "10de",
                "product_id": "1eb8",
                "subsystem_vendor_id": "10de",
                "subsystem_device_id": "12a2",
                "class": "030200",
            },
            deployables=[
                DeployableReport(
                    name="0000:3b:00.0-nvidia-222",
                    num_accelerators=16,
                    resource_class="VGPU",
                    traits=["OWNER_CYBORG", "CUSTOM_NVIDIA_1EB8_T4_1B", "CUSTOM_VGPU_TYPE_NVIDIA_222"],
                    driver_name="nvidia_gpu",
                    attach_handles=mdev_handles(T4_PCI, "nvidia-222", 16),
                    partition=vgpu_partition("nvidia-222", 1024, 16),
                ),
                DeployableReport(
                    name="0000:3b:00.0-nvidia-223",
                    num_accelerators=8,
                    resource_class="VGPU",
                    traits=["OWNER_CYBORG", "CUSTOM_NVIDIA_1EB8_T4_2B", "CUSTOM_VGPU_TYPE_NVIDIA_223"],
                    driver_name="nvidia_gpu",
                    attach_handles=mdev_handles(T4_PCI, "nvidia-223", 8),
                    partition=vgpu_partition("nvidia-223", 2048, 8),
                ),
            ],
            # A type that fills the GPU alone: 16 x 1 GiB (or 8 x 2 GiB).
            counter_sets={"gpu": {"framebuffer_mib": 16384}},
        )
    ]


def test_created_mdevs_still_count_as_capacity(b: SysfsBuilder) -> None:
    gpu.tesla_t4_with_vgpu(b, created={"nvidia-222": [UUID_A, UUID_B]})
    assert available(b.root, "0000:3b:00.0", "nvidia-222") == 14

    t4 = by_address(b.root)["0000:3b:00.0"]
    vgpu = deployables(t4)["0000:3b:00.0-nvidia-222"]
    assert vgpu.num_accelerators == 16
    assert vgpu.attach_handles == mdev_handles(T4_PCI, "nvidia-222", 16)
    assert t4.vendor_board_info["mdevs"] == f"{UUID_B}(nvidia-222),{UUID_A}(nvidia-222)"


def test_type_with_nothing_left_is_not_offered_and_gpu_is_not_offered_whole(b: SysfsBuilder) -> None:
    gpu.tesla_t4_with_vgpu(b, types={"nvidia-222": ("GRID T4-1B", 0)})
    assert by_address(b.root)["0000:3b:00.0"].deployables == []


def test_gpu_without_vgpu_is_one_pgpu_with_its_pci_function(b: SysfsBuilder) -> None:
    gpu.workstation_gpu(b)

    (device,) = driver(b.root).discover()
    assert (device.model, device.driver, device.firmware_version) == (
        "NVIDIA GeForce RTX 3090",
        "nvidia",
        "94.02.42.00.a9",
    )
    assert device.deployables == [
        DeployableReport(
            name="0000:65:00.0",
            num_accelerators=1,
            resource_class="PGPU",
            traits=["OWNER_CYBORG", "CUSTOM_NVIDIA_2204"],
            driver_name="nvidia_gpu",
            attach_handles=[
                AttachHandleReport(
                    attach_type="PCI",
                    attach_info={"domain": "0000", "bus": "65", "device": "00", "function": "0"},
                )
            ],
        )
    ]


def test_companions_bmc_bridge_and_other_nvidia_functions_are_not_gpus(b: SysfsBuilder) -> None:
    gpu.workstation_gpu(b, pf="0000:17:00.0", device="1e07", audio="10f7", usb_c=("1ad6", "1ad7"))
    gpu.aspeed_bmc(b)
    b.pci("0000:04:00.0", "102b", "0522", "030000", "mgag200")  # Matrox BMC VGA
    b.pci("0000:c1:00.0", "10de", "1af1", "068000", "nvidia-nvswitch")  # NVSwitch bridge
    b.pci("0000:16:00.0", "10b5", "8747", "060400", "pcieport")  # PCIe switch above the GPU

    assert list(by_address(b.root)) == ["0000:17:00.0"]


def test_unbound_gpu_is_unusable_with_the_reason(b: SysfsBuilder) -> None:
    pf = gpu.unbound_gpu(b)

    device = by_address(b.root)[pf]
    expected = Health(state="unusable", reasons=["0000:af:00.0 has no kernel driver bound"])
    assert device.health == expected
    assert driver(b.root).health(pf) == expected
    assert (device.driver, device.firmware_version, device.model) == (None, None, "Tesla T4")


def test_vfio_bound_gpu_is_fine_and_nouveau_is_degraded(b: SysfsBuilder) -> None:
    gpu.tesla_t4_passthrough(b, "0000:5e:00.0", "vfio-pci")
    gpu.tesla_t4_passthrough(b, "0000:5f:00.0", "nouveau")
    gpu.tesla_t4_passthrough(b, "0000:60:00.0", "pci-stub")

    devices = by_address(b.root)
    assert devices["0000:5e:00.0"].health == Health()
    assert devices["0000:5f:00.0"].health.state == "degraded"
    assert "nouveau" in devices["0000:5f:00.0"].health.reasons[0]
    assert devices["0000:60:00.0"].health.state == "unusable"
    assert "pci-stub" in devices["0000:60:00.0"].health.reasons[0]


def test_unreadable_vbios_is_no_version(b: SysfsBuilder) -> None:
    gpu.tesla_t4_with_vgpu(b, vbios="??.??.??.??.??")
    assert by_address(b.root)["0000:3b:00.0"].firmware_version is None


# --- SR-IOV vGPU -------------------------------------------------------------------------------


def test_a100_legacy_sriov_counts_vf_hosted_types_on_the_pf(b: SysfsBuilder) -> None:
    vfs = gpu.a100_sriov(b, vfs=3)
    assert vfs == ["0000:41:00.4", "0000:41:00.5", "0000:41:00.6"]

    devices = by_address(b.root)
    assert list(devices) == ["0000:41:00.0"]  # the VFs are not devices
    a100 = devices["0000:41:00.0"]
    pf_pci = {"domain": "0000", "bus": "41", "device": "00", "function": "0"}
    assert deployables(a100) == {
        "0000:41:00.0-nvidia-471": DeployableReport(
            name="0000:41:00.0-nvidia-471",
            num_accelerators=3,
            resource_class="VGPU",
            traits=["OWNER_CYBORG", "CUSTOM_NVIDIA_20F1_A100_4C", "CUSTOM_VGPU_TYPE_NVIDIA_471"],
            driver_name="nvidia_gpu",
            attach_handles=mdev_handles(pf_pci, "nvidia-471", 3),
            # 40 GiB / 4 GiB: at most 10 per GPU, one per VF
            partition=vgpu_partition("nvidia-471", 4096, 10, vfs=True),
        ),
        "0000:41:00.0-nvidia-472": DeployableReport(
            name="0000:41:00.0-nvidia-472",
            num_accelerators=3,
            resource_class="VGPU",
            traits=["OWNER_CYBORG", "CUSTOM_NVIDIA_20F1_A100_5C", "CUSTOM_VGPU_TYPE_NVIDIA_472"],
            driver_name="nvidia_gpu",
            attach_handles=mdev_handles(pf_pci, "nvidia-472", 3),
            partition=vgpu_partition("nvidia-472", 5120, 8, vfs=True),
        ),
    }
    assert a100.counter_sets == {"gpu": {"framebuffer_mib": 40960, "vfs": 3}}


def test_a100_legacy_sriov_create_lands_on_a_free_vf(b: SysfsBuilder) -> None:
    gpu.a100_sriov(b, vfs=2)
    nv = driver(b.root)
    before = by_address(b.root)["0000:41:00.0"].deployables

    nv.create_mdev("0000:41:00.0", "nvidia-471", UUID_A)
    nv.create_mdev("0000:41:00.0", "nvidia-471", UUID_B)

    parents = {u: (b.root / "sys/bus/mdev/devices" / u).resolve().parent.name for u in (UUID_A, UUID_B)}
    assert parents == {UUID_A: "0000:41:00.4", UUID_B: "0000:41:00.5"}
    # Both VFs now host an nvidia-471 each, so no VF is left for another type: the kernel
    # shows 0 of nvidia-472, yet both types are still reported with one slot per VF (the
    # server decides what coexists), the created vGPUs as occupied units of nvidia-471.
    after = by_address(b.root)["0000:41:00.0"].deployables
    assert [(d.name, d.num_accelerators) for d in after] == [(d.name, d.num_accelerators) for d in before]
    assert [d.partition.occupied for d in after if d.partition] == [2, 0]
    assert available(b.root, "0000:41:00.4", "nvidia-472") == 0
    with pytest.raises(VgpuError, match="no nvidia-471 instances left"):
        nv.create_mdev("0000:41:00.0", "nvidia-471", UUID_C)

    nv.remove_mdev("0000:41:00.0", UUID_A)
    assert available(b.root, "0000:41:00.4", "nvidia-471") == 1


def test_a100_vgpu17_reports_vfs_with_a_type_as_pci_handles(b: SysfsBuilder) -> None:
    vfs = gpu.a100_sriov(b, vfs=3, interface="vfio", current={0: "1033", 2: "1033"})

    devices = by_address(b.root)
    vf_pci = {"domain": "0000", "bus": "41", "device": "00"}
    assert list(devices) == ["0000:41:00.0"]
    assert devices["0000:41:00.0"].deployables == [
        DeployableReport(
            name="0000:41:00.0-vgpu-1033",
            num_accelerators=2,
            resource_class="VGPU",
            # The VFs that hold 1033 no longer list it; VF 1 still does, so the name is known.
            traits=["OWNER_CYBORG", "CUSTOM_NVIDIA_20F1_A100_4C", "CUSTOM_VGPU_TYPE_1033"],
            driver_name="nvidia_gpu",
            attach_handles=[
                AttachHandleReport(
                    attach_type="PCI", attach_info={**vf_pci, "function": f, "vgpu_type": "1033"}
                )
                for f in ("4", "6")
            ],
            partition=PartitionReport(consumes={"gpu": {"vfs": 1}}, exclusive_group="vgpu", part_type="1033"),
        )
    ]
    assert devices["0000:41:00.0"].counter_sets == {"gpu": {"vfs": 3}}
    assert vfs[1] not in devices


def test_a100_vgpu17_with_no_type_set_is_not_offered_whole(b: SysfsBuilder) -> None:
    gpu.a100_sriov(b, vfs=2, interface="vfio")
    assert by_address(b.root)["0000:41:00.0"].deployables == []


def test_a100_vgpu17_remembers_type_names_once_every_vf_is_used(b: SysfsBuilder) -> None:
    gpu.a100_sriov(b, vfs=2, interface="vfio", current={0: "1034"})
    nv = driver(b.root)
    nv.discover()
    # The last free VF takes a type: no VF lists 1034's name any more.
    vf1 = b.device_dir("0000:41:00.5") / "nvidia"
    (vf1 / "current_vgpu_type").write_text("1034\n")
    (vf1 / "creatable_vgpu_types").write_text("")

    (vgpu,) = nv.discover()[0].deployables
    assert vgpu.num_accelerators == 2
    assert "CUSTOM_NVIDIA_20F1_A100_5C" in vgpu.traits


def test_set_num_vfs_goes_through_the_kernel(b: SysfsBuilder) -> None:
    gpu.a100_sriov(b, vfs=2)
    nv = driver(b.root)

    nv.set_num_vfs("0000:41:00.0", 4)

    assert (b.device_dir("0000:41:00.0") / "sriov_numvfs").read_text().strip() == "4"
    assert list(by_address(b.root)) == ["0000:41:00.0"]
    with pytest.raises(OperationNotSupported):
        nv.set_num_vfs(gpu.workstation_gpu(b), 1)


# --- mdev lifecycle ----------------------------------------------------------------------------


def test_create_mdev_uses_an_instance_and_keeps_the_reported_capacity(b: SysfsBuilder) -> None:
    gpu.tesla_t4_with_vgpu(b)
    nv = driver(b.root)
    before = deployables(by_address(b.root)["0000:3b:00.0"])

    nv.create_mdev("0000:3b:00.0", "nvidia-223", UUID_A)

    assert available(b.root, "0000:3b:00.0", "nvidia-223") == 7
    mdev = b.root / "sys/bus/mdev/devices" / UUID_A
    assert (mdev / "mdev_type").resolve().name == "nvidia-223"
    after = by_address(b.root)["0000:3b:00.0"]
    # The created type keeps its capacity (7 left + 1 made); the GPU now hosts only that type:
    # the kernel shows the other with 0 left, and it is still reported with its slots (the
    # server's partition rules give it 0 while nvidia-223 is occupied).
    assert available(b.root, "0000:3b:00.0", "nvidia-222") == 0
    assert {k: v.num_accelerators for k, v in deployables(after).items()} == {
        k: v.num_accelerators for k, v in before.items()
    }
    occupied = {k: v.partition.occupied for k, v in deployables(after).items() if v.partition}
    assert occupied == {"0000:3b:00.0-nvidia-222": 0, "0000:3b:00.0-nvidia-223": 1}
    assert after.vendor_board_info["mdevs"] == f"{UUID_A}(nvidia-223)"


def test_create_mdev_retry_is_idempotent(b: SysfsBuilder) -> None:
    gpu.tesla_t4_with_vgpu(b)
    nv = driver(b.root)
    nv.create_mdev("0000:3b:00.0", "nvidia-222", UUID_A)
    nv.create_mdev("0000:3b:00.0", "nvidia-222", UUID_A)
    assert available(b.root, "0000:3b:00.0", "nvidia-222") == 15
    with pytest.raises(VgpuError, match="another type"):
        nv.create_mdev("0000:3b:00.0", "nvidia-223", UUID_A)


def test_creating_past_capacity_fails_cleanly(b: SysfsBuilder) -> None:
    gpu.tesla_t4_with_vgpu(b, types={"nvidia-234": ("GRID T4-16Q", 1)})
    nv = driver(b.root)
    nv.create_mdev("0000:3b:00.0", "nvidia-234", UUID_A)

    with pytest.raises(VgpuError, match="no nvidia-234 instances left"):
        nv.create_mdev("0000:3b:00.0", "nvidia-234", UUID_B)
    with pytest.raises(VgpuError, match="offers no vGPU type nvidia-999"):
        nv.create_mdev("0000:3b:00.0", "nvidia-999", UUID_B)
    with pytest.raises(ValueError, match="invalid mdev uuid"):
        nv.create_mdev("0000:3b:00.0", "nvidia-234", "../../escape")
    assert not (b.root / "sys/bus/mdev/devices" / UUID_B).exists()
    assert available(b.root, "0000:3b:00.0", "nvidia-234") == 0


def test_kernel_refusal_is_reported_as_a_vgpu_error(b: SysfsBuilder) -> None:
    gpu.tesla_t4_with_vgpu(b)
    kernel = SimulatedKernel(b.root)

    def refuse(path: Path, value: str) -> None:
        raise OSError(87, "Too many users")  # e.g. another host process took the last instance

    kernel.write = refuse  # type: ignore[method-assign]
    with pytest.raises(VgpuError, match="the kernel refused nvidia-222"):
        NvidiaGpuDriver(b.root, kernel).create_mdev("0000:3b:00.0", "nvidia-222", UUID_B)


def test_remove_mdev_restores_the_instance(b: SysfsBuilder) -> None:
    gpu.tesla_t4_with_vgpu(b, created={"nvidia-222": [UUID_A]})
    nv = driver(b.root)

    with pytest.raises(VgpuError, match="does not belong"):
        nv.remove_mdev(gpu.workstation_gpu(b), UUID_A)
    nv.remove_mdev("0000:3b:00.0", UUID_A)

    assert available(b.root, "0000:3b:00.0", "nvidia-222") == 16
    assert not (b.root / "sys/bus/mdev/devices" / UUID_A).exists()
    assert "mdevs" not in by_address(b.root)["0000:3b:00.0"].vendor_board_info
    nv.remove_mdev("0000:3b:00.0", UUID_A)  # already gone: nothing to do


# --- MIG and NVML ------------------------------------------------------------------------------


class FakeNvml:
    """Stands in for NVML (not installed here): MIG devices per GPU address."""

    def __init__(self, migs: dict[str, list[MigInstance]]) -> None:
        self.migs = migs

    def mig_instances(self, pci_address: str) -> list[MigInstance]:
        return self.migs.get(pci_address, [])


def test_mig_instances_become_deployables_per_profile(b: SysfsBuilder) -> None:
    pf = gpu.tesla_t4_passthrough(b, "0000:ca:00.0", "nvidia")
    gpu.workstation_gpu(b)
    nvml = FakeNvml(
        {
            pf: [
                MigInstance("3g.20gb", "MIG-c", 1),
                MigInstance("1g.10gb", "MIG-b", 9),
                MigInstance("1g.10gb", "MIG-a", 7),
            ]
        }
    )

    devices = by_address(b.root, nvml)
    pci = {"domain": "0000", "bus": "ca", "device": "00", "function": "0"}
    assert devices[pf].deployables == [
        DeployableReport(
            name="0000:ca:00.0-mig-1g.10gb",
            num_accelerators=2,
            resource_class="CUSTOM_MIG_1G_10GB",
            traits=["OWNER_CYBORG", "CUSTOM_NVIDIA_1EB8_MIG_1G_10GB"],
            driver_name="nvidia_gpu",
            attach_handles=[
                AttachHandleReport(attach_type="PCI", attach_info={**pci, "mig_uuid": "MIG-a"}),
                AttachHandleReport(attach_type="PCI", attach_info={**pci, "mig_uuid": "MIG-b"}),
            ],
            partition=PartitionReport(
                consumes={"gpu": {"memory_slices": 1, "compute_slices": 1}}, part_type="1g.10gb"
            ),
        ),
        DeployableReport(
            name="0000:ca:00.0-mig-3g.20gb",
            num_accelerators=1,
            resource_class="CUSTOM_MIG_3G_20GB",
            traits=["OWNER_CYBORG", "CUSTOM_NVIDIA_1EB8_MIG_3G_20GB"],
            driver_name="nvidia_gpu",
            attach_handles=[AttachHandleReport(attach_type="PCI", attach_info={**pci, "mig_uuid": "MIG-c"})],
            partition=PartitionReport(
                consumes={"gpu": {"memory_slices": 4, "compute_slices": 3}}, part_type="3g.20gb"
            ),
        ),
        # In MIG mode the whole GPU is offered too, consuming every slice: it and the MIG
        # devices exclude each other through the counters.
        DeployableReport(
            name=pf,
            num_accelerators=1,
            resource_class="PGPU",
            traits=["OWNER_CYBORG", "CUSTOM_NVIDIA_1EB8"],
            driver_name="nvidia_gpu",
            attach_handles=[AttachHandleReport(attach_type="PCI", attach_info=pci)],
            partition=PartitionReport(
                consumes={"gpu": {"memory_slices": 8, "compute_slices": 7}}, part_type="whole"
            ),
        ),
    ]
    assert devices[pf].counter_sets == {"gpu": {"memory_slices": 8, "compute_slices": 7}}
    # A GPU without MIG devices is still offered whole.
    assert devices["0000:65:00.0"].deployables[0].resource_class == "PGPU"


def test_load_nvml_without_pynvml_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import now raises ImportError
    assert load_nvml() is None


class NVMLError(Exception):
    pass


def fake_pynvml(init_error: bool = False) -> types.ModuleType:
    """The few pynvml calls the adapter makes, for one A100 in MIG mode with slot 1 empty."""
    module = types.ModuleType("pynvml")
    names = {0: "NVIDIA A100-SXM4-40GB MIG 1g.5gb", 2: "NVIDIA A100-SXM4-40GB MIG 2g.10gb"}

    def init() -> None:
        if init_error:
            raise NVMLError("Driver Not Loaded")

    def mig_by_index(gpu: str, index: int) -> int:
        if index not in names:
            raise NVMLError("Not Found")
        return index

    def handle_by_bus_id(bus_id: str) -> str:
        if bus_id != "0000:41:00.0":
            raise NVMLError("Not Found")
        return bus_id

    module.__dict__.update(
        NVMLError=NVMLError,
        NVML_DEVICE_MIG_ENABLE=1,
        nvmlInit=init,
        nvmlDeviceGetHandleByPciBusId=handle_by_bus_id,
        nvmlDeviceGetMigMode=lambda gpu: (1, 1),
        nvmlDeviceGetMaxMigDeviceCount=lambda gpu: 3,
        nvmlDeviceGetMigDeviceHandleByIndex=mig_by_index,
        nvmlDeviceGetName=lambda mig: names[mig].encode(),
        nvmlDeviceGetUUID=lambda mig: f"MIG-{mig}",
        nvmlDeviceGetGpuInstanceId=lambda mig: mig + 1,
    )
    return module


def test_load_nvml_when_init_fails_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(init_error=True))
    assert load_nvml() is None


def test_pynvml_adapter_lists_mig_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml())
    nvml = load_nvml()

    assert isinstance(nvml, PynvmlSource)
    assert nvml.mig_instances("0000:41:00.0") == [
        MigInstance("1g.5gb", "MIG-0", 1),
        MigInstance("2g.10gb", "MIG-2", 3),
    ]
    assert nvml.mig_instances("0000:99:00.0") == []  # NVML errors do not break discovery

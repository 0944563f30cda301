"""Discovery on fixture hosts rebuilt from public trees (sources in tests/fixtures/sysfs/README.md)."""

from __future__ import annotations

from accord.agent.drivers import all_drivers, discover_host
from accord.schemas.inventory import AttachHandleReport, DeployableReport, Health
from tests.fixtures.sysfs.hosts import FIXTURES


def test_go_nvlib_mock_a100_is_one_whole_gpu_at_function_1() -> None:
    root = FIXTURES / "nvlib-a100"

    devices, skipped = discover_host(all_drivers(root, simulate=True))

    assert skipped == []
    [gpu] = devices  # the plumbing beside it is no family's
    assert (gpu.pci_address, gpu.type, gpu.vendor, gpu.product) == ("0000:80:05.1", "GPU", "10de", "20bf")
    assert (gpu.driver, gpu.numa_node, gpu.health) == ("nvidia", 0, Health())
    assert gpu.model == "NVIDIA GPU 10de:20bf"  # no /proc information file in the mock
    assert gpu.firmware_version is None
    assert gpu.vendor_board_info["class"] == "030200"
    assert gpu.deployables == [
        DeployableReport(
            name="0000:80:05.1",
            num_accelerators=1,
            resource_class="PGPU",
            traits=["OWNER_CYBORG", "CUSTOM_NVIDIA_20BF"],
            driver_name="nvidia_gpu",
            attach_handles=[
                AttachHandleReport(
                    attach_type="PCI",
                    attach_info={"domain": "0000", "bus": "80", "device": "05", "function": "1"},
                )
            ],
        )
    ]

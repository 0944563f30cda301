"""Where the Ironic manager finds Accord: the kernel command line first (Ironic masks driver_info
tokens), driver_info only where a value arrives unmasked; and the trait mapping for a node."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.domain.baremetal import RegionFacts, node_facts
from accord.ironic.settings import NotConfigured, kernel_parameters, read_settings


@pytest.fixture
def cmdline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cmdline"
    monkeypatch.setenv("ACCORD_CMDLINE_FILE", str(path))
    monkeypatch.setenv("ACCORD_SYSFS_ROOT", str(tmp_path / "root"))
    monkeypatch.delenv("ACCORD_SIMULATE", raising=False)
    return path


def test_the_command_line_wins_and_masked_driver_info_is_ignored(cmdline: Path, tmp_path: Path) -> None:
    cmdline.write_text("BOOT_IMAGE=/vmlinuz quiet accord_url=http://a:6666 accord_token=T1 ipa-debug=1\n")
    node = {"driver_info": {"accord_url": "http://b:6666", "accord_token": "******"}}
    settings = read_settings(node)
    assert (settings.url, settings.token) == ("http://a:6666", "T1")
    assert settings.sysfs_root == tmp_path / "root" and settings.simulate is False


def test_driver_info_is_used_only_where_it_arrives_unmasked(cmdline: Path) -> None:
    cmdline.write_text("BOOT_IMAGE=/vmlinuz\n")
    settings = read_settings({"driver_info": {"accord_url": "http://b:6666", "accord_token": "******"}})
    assert (settings.url, settings.token) == ("http://b:6666", None)
    with pytest.raises(NotConfigured, match="kernel_append_params"):
        read_settings({"driver_info": {"accord_url": "******"}})


def test_an_unreadable_command_line_is_empty(tmp_path: Path) -> None:
    assert kernel_parameters(tmp_path / "missing") == {}
    quoted = tmp_path / "quoted"
    quoted.write_text('a=1 b="two words" c\n')
    assert kernel_parameters(quoted) == {"a": "1", "b": "two words"}


def test_node_facts_join_region_traits_and_count_devices_and_accelerators() -> None:
    facts = node_facts(
        ["FPGA", "FPGA", "GPU"],
        [
            RegionFacts("FPGA", 1, ("CUSTOM_FPGA_INTEL", "CUSTOM_FPGA_INTEL_PAC_N3000")),
            RegionFacts("FPGA", 2, ("CUSTOM_FPGA_INTEL",)),
            RegionFacts("VGPU", 16, ("CUSTOM_NVIDIA_T4",)),
        ],
    )
    assert facts.traits == ["CUSTOM_FPGA_INTEL", "CUSTOM_FPGA_INTEL_PAC_N3000", "CUSTOM_NVIDIA_T4"]
    assert facts.properties == {
        "accord_fpga": 3,
        "accord_fpga_devices": 2,
        "accord_gpu_devices": 1,
        "accord_vgpu": 16,
    }

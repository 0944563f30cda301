"""Hand-written inventory snapshots for API tests (driver output is tested in tests/agent)."""

from __future__ import annotations

from typing import Any


def pci_info(address: str) -> dict[str, str]:
    domain, bus, rest = address.split(":")
    device, function = rest.split(".")
    return {"domain": domain, "bus": bus, "device": device, "function": function}


def fpga_device(pf: str, vfs: int, numa: int = 0) -> dict[str, Any]:
    bus = pf.split(":")[1]
    vf_addresses = [f"0000:{int(bus, 16) + 1:02x}:00.{i}" for i in range(vfs)]
    return {
        "type": "FPGA",
        "vendor": "8086",
        "product": "0b30",
        "model": "Intel PAC Arria 10",
        "pci_address": pf,
        "numa_node": numa,
        "driver": "dfl-pci",
        "controlpath_id": {"cpid_type": "PCI", "cpid_info": pci_info(pf)},
        "deployables": [
            {
                "name": pf,
                "num_accelerators": vfs,
                "resource_class": "FPGA",
                "traits": ["CUSTOM_FPGA_INTEL", "CUSTOM_FPGA_INTEL_PAC_ARRIA10"],
                "driver_name": "intel",
                "attach_handles": [{"attach_type": "PCI", "attach_info": pci_info(a)} for a in vf_addresses],
            }
        ],
    }


def fpga_host_snapshot(hostname: str, vfs: int = 4, devices: int = 1) -> dict[str, Any]:
    return {
        "hostname": hostname,
        "agent_version": "test",
        "devices": [fpga_device(f"0000:{0x5E + 2 * i:02x}:00.0", vfs) for i in range(devices)],
    }


def gpu_mdev_snapshot(hostname: str, instances: int = 2) -> dict[str, Any]:
    """One NVIDIA GPU offering `instances` vGPUs of type nvidia-35 as MDEV handles."""
    pf = "0000:3b:00.0"
    handles = [
        {
            "attach_type": "MDEV",
            "attach_info": {**pci_info(pf), "asked_type": "nvidia-35", "vgpu_mark": f"nvidia-35_{i}"},
        }
        for i in range(instances)
    ]
    return {
        "hostname": hostname,
        "agent_version": "test",
        "devices": [
            {
                "type": "GPU",
                "vendor": "10de",
                "product": "1eb8",
                "model": "Tesla T4",
                "pci_address": pf,
                "driver": "nvidia",
                "controlpath_id": {"cpid_type": "PCI", "cpid_info": pci_info(pf)},
                "deployables": [
                    {
                        "name": f"{pf}-nvidia-35",
                        "num_accelerators": instances,
                        "resource_class": "VGPU",
                        "traits": ["OWNER_CYBORG", "CUSTOM_NVIDIA_1EB8_NVIDIA_35"],
                        "driver_name": "NVIDIA",
                        "attach_handles": handles,
                    }
                ],
            }
        ],
    }

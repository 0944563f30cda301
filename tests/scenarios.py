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

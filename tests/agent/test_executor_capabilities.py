"""Each family has only the capabilities its hardware has, and the executor refuses an operation a
family cannot do: the operation fails with "driver X cannot …", nothing is downloaded and the
host's tree is exactly as it was."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from accord.agent.drivers import DriverConfig, all_drivers, capabilities
from accord.agent.executor import Executor
from accord.agent.sysfs import read_function
from tests.fixtures.sysfs.hosts import FIXTURES

QAT = "0000:3d:00.0"  # C62x on the qat-nic host
E810 = "0000:17:00.0"
T4 = "0000:3b:00.0"  # on the gpu-mdev host
ALVEO = "0000:3b:00.0"  # management PF on the alveo host
N3000 = "0000:5e:00.0"  # on the dfl-fpga host
NVME = "0000:5e:00.0"  # plumbing on the qat-nic host, allow-listed for the generic family

DISCOVERS = {"Discovers", "ProbesHealth"}
EXPECTED = {
    "intel_fpga": DISCOVERS | {"ManagesVfs", "Programs", "FlashesFirmware"},
    "xilinx": DISCOVERS | {"Programs", "FlashesFirmware"},
    "nvidia_gpu": DISCOVERS | {"ManagesVfs", "ManagesMdevs"},
    "intel_qat": DISCOVERS | {"ManagesVfs"},
    "sriov_nic": DISCOVERS | {"ManagesVfs"},
    "generic_pci": DISCOVERS,
}


def host_tree(tmp_path: Path, fixture: str) -> Path:
    root = tmp_path / fixture
    shutil.copytree(FIXTURES / fixture, root, symlinks=True)
    return root


def tree(root: Path) -> dict[str, str | bytes]:
    """Every file's bytes and every link's target: what "nothing touched" is checked against."""
    found: dict[str, str | bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                found[str(path.relative_to(root))] = os.readlink(path)
            elif path.is_file():
                found[str(path.relative_to(root))] = path.read_bytes()
    return found


class RecordingFetch:
    """Stands in for the server download; any call means the executor went too far."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, image_uuid: str, path: Path) -> str:
        self.calls.append(image_uuid)
        path.write_bytes(b"image")
        return "0" * 64


def executor(root: Path, fetch: RecordingFetch, **config: Any) -> Executor:
    return Executor(all_drivers(root, simulate=True, config=DriverConfig(**config)), "host-a", fetch)


def test_every_family_declares_only_what_its_hardware_can(tmp_path: Path) -> None:
    drivers = all_drivers(tmp_path, simulate=True)
    assert {d.name: set(capabilities(d)) for d in drivers} == EXPECTED


IMAGE = str(uuid.uuid4())
MDEV = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("fixture", "kind", "params", "reason"),
    [
        (
            "qat-nic",
            "program",
            {"pci_address": QAT, "region": f"host-a_{QAT}", "image_uuid": IMAGE, "sha256": "0" * 64},
            f"driver intel_qat cannot program a region (device {QAT})",
        ),
        (
            "qat-nic",
            "firmware",
            {"pci_address": E810, "image_uuid": IMAGE, "sha256": "0" * 64, "version": "4.40"},
            f"driver sriov_nic cannot flash firmware (device {E810})",
        ),
        (
            "qat-nic",
            "create_mdev",
            {"pci_address": QAT, "mdev_type": "nvidia-222", "mdev_uuid": MDEV},
            f"driver intel_qat cannot create mediated devices (device {QAT})",
        ),
        (
            "gpu-mdev",
            "firmware",
            {"pci_address": T4, "image_uuid": IMAGE, "sha256": "0" * 64, "version": "90.04"},
            f"driver nvidia_gpu cannot flash firmware (device {T4})",
        ),
        (
            "gpu-mdev",
            "program",
            {"pci_address": T4, "region": T4, "image_uuid": IMAGE, "sha256": "0" * 64},
            f"driver nvidia_gpu cannot program a region (device {T4})",
        ),
        (
            "alveo",
            "set_vfs",
            {"pci_address": ALVEO, "count": 2},
            f"driver xilinx cannot change the number of VFs (device {ALVEO})",
        ),
        (
            "dfl-fpga",
            "remove_mdev",
            {"pci_address": N3000, "mdev_uuid": MDEV},
            f"driver intel_fpga cannot remove mediated devices (device {N3000})",
        ),
    ],
)
def test_an_operation_the_family_cannot_do_fails_with_the_reason_and_touches_nothing(
    tmp_path: Path, fixture: str, kind: str, params: dict[str, Any], reason: str
) -> None:
    root = host_tree(tmp_path, fixture)
    fetch = RecordingFetch()
    before = tree(root)

    outcome = executor(root, fetch).execute({"uuid": "op-1", "kind": kind, "params": params})

    assert not outcome.succeeded
    assert outcome.error is not None and reason in outcome.error
    assert outcome.result == {}
    assert fetch.calls == []
    assert tree(root) == before


def test_a_passed_through_device_can_be_neither_programmed_nor_given_vfs(tmp_path: Path) -> None:
    root = host_tree(tmp_path, "qat-nic")
    fetch = RecordingFetch()
    run = executor(root, fetch, passthrough=("class:0108",)).execute
    before = tree(root)

    program = run({"kind": "program", "params": {"pci_address": NVME, "region": NVME, "image_uuid": IMAGE}})
    vfs = run({"kind": "set_vfs", "params": {"pci_address": NVME, "count": 1}})

    assert program.error is not None and "driver generic_pci cannot program a region" in program.error
    assert vfs.error is not None and "driver generic_pci cannot change the number of VFs" in vfs.error
    assert fetch.calls == []
    assert tree(root) == before


def test_a_family_with_the_capability_is_called(tmp_path: Path) -> None:
    """The other side of the check: QAT manages VFs, so the same executor enables them."""
    root = host_tree(tmp_path, "qat-nic")
    assert len(read_function(root, QAT).virtfns) == 4

    outcome = executor(root, RecordingFetch()).execute(
        {"kind": "set_vfs", "params": {"pci_address": QAT, "count": 2}}
    )

    assert (outcome.succeeded, outcome.result, outcome.error) == (True, {"num_vfs": 2}, None)
    assert len(read_function(root, QAT).virtfns) == 2

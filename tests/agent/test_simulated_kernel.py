"""The simulated kernel answers writes the way Linux does, so drivers meet the same refusals and
the same changed trees as on a real host."""

from __future__ import annotations

import errno
import uuid
from pathlib import Path

import pytest

from accord.agent.hostio import ToolFailed
from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.kernel import SimulatedKernel
from accord.agent.sim.layouts import gpu, qat_nic
from accord.agent.sysfs import read_function

QAT = "0000:3d:00.0"
T4 = "0000:3b:00.0"


def numvfs(root: Path, address: str) -> Path:
    return root / "sys/bus/pci/devices" / address / "sriov_numvfs"


def test_vf_count_changes_through_zero_and_within_total(tmp_path: Path) -> None:
    builder = SysfsBuilder(tmp_path)
    qat_nic.qat_c62x(builder, QAT, vfs=0)
    kernel = SimulatedKernel(tmp_path)
    kernel.write(numvfs(tmp_path, QAT), "4")
    function = read_function(tmp_path, QAT)
    assert len(function.virtfns) == 4
    assert read_function(tmp_path, function.virtfns[0]).physfn == QAT
    assert read_function(tmp_path, function.virtfns[0]).driver == "c6xxvf"
    with pytest.raises(OSError) as busy:
        kernel.write(numvfs(tmp_path, QAT), "2")
    assert busy.value.errno == errno.EBUSY
    kernel.write(numvfs(tmp_path, QAT), "0")
    with pytest.raises(OSError) as too_many:
        kernel.write(numvfs(tmp_path, QAT), "17")
    assert too_many.value.errno == errno.ERANGE
    assert read_function(tmp_path, QAT).virtfns == ()


def test_vgpu_types_exclude_each_other_until_the_gpu_is_empty(tmp_path: Path) -> None:
    gpu.tesla_t4_with_vgpu(SysfsBuilder(tmp_path), T4)
    kernel = SimulatedKernel(tmp_path)
    types = tmp_path / "sys/bus/pci/devices" / T4 / "mdev_supported_types"

    def available() -> dict[str, int]:
        return {t.name: int((t / "available_instances").read_text()) for t in sorted(types.iterdir())}

    full = available()
    assert full == {"nvidia-222": 16, "nvidia-223": 8}
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    kernel.write(types / "nvidia-222" / "create", first)
    kernel.write(types / "nvidia-222" / "create", second)
    assert available() == {"nvidia-222": 14, "nvidia-223": 0}
    assert (tmp_path / "sys/bus/mdev/devices" / first / "mdev_type").resolve() == (
        types / "nvidia-222"
    ).resolve()
    with pytest.raises(OSError) as none_left:
        kernel.write(types / "nvidia-223" / "create", str(uuid.uuid4()))
    assert none_left.value.errno == errno.EUSERS
    kernel.write(tmp_path / "sys/bus/mdev/devices" / first / "remove", "1")
    assert available() == {"nvidia-222": 15, "nvidia-223": 0}
    kernel.write(tmp_path / "sys/bus/mdev/devices" / second / "remove", "1")
    assert available() == full
    assert not list((types / "nvidia-222" / "devices").iterdir())


def test_writes_outside_the_tree_and_unknown_tools_are_refused(tmp_path: Path) -> None:
    kernel = SimulatedKernel(tmp_path / "host")
    (tmp_path / "host").mkdir()
    with pytest.raises(PermissionError):
        kernel.write(tmp_path / "elsewhere", "1")
    with pytest.raises(ToolFailed, match="not installed"):
        kernel.run(["/usr/bin/rm-rf-everything", "/"])

"""A broken or changing sysfs never crashes a scan: the odd device is skipped (or reported
unusable) with a reason, and the rest of the host is still reported."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.agent.drivers import all_drivers, discover_host
from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.layouts import gpu, qat_nic

QAT = "0000:3d:00.0"
E810 = "0000:17:00.0"
T4 = "0000:3b:00.0"
EVERYTHING = [E810, T4, QAT]


@pytest.fixture
def root() -> Iterator[Path]:
    # World-readable, so the permission test can scan it as an unprivileged user.
    path = Path(tempfile.mkdtemp(prefix="accord-sysfs-"))
    path.chmod(0o755)
    builder = SysfsBuilder(path)
    qat_nic.server_plumbing(builder)
    qat_nic.qat_c62x(builder, QAT, vfs=2)
    qat_nic.e810(builder, E810, vfs=2, ifname="ens1f0")
    gpu.tesla_t4_with_vgpu(builder, T4)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def scan(root: Path) -> list[str]:
    devices, _skipped = discover_host(all_drivers(root, simulate=True))
    return [d.pci_address for d in devices]


def function_dir(root: Path, address: str) -> Path:
    return (root / "sys/bus/pci/devices" / address).resolve()


def test_the_intact_host(root: Path) -> None:
    assert scan(root) == EVERYTHING


@pytest.mark.parametrize("attribute", ["vendor", "device", "class", "numa_node", "sriov_numvfs"])
def test_missing_attribute_file(root: Path, attribute: str) -> None:
    (function_dir(root, QAT) / attribute).unlink()
    found = scan(root)
    assert E810 in found and T4 in found


@pytest.mark.parametrize("attribute", ["vendor", "class", "numa_node", "sriov_numvfs", "sriov_totalvfs"])
def test_garbage_values(root: Path, attribute: str) -> None:
    (function_dir(root, E810) / attribute).write_bytes(b"\xff\xfebanana\x00")
    found = scan(root)
    assert QAT in found and T4 in found


def test_garbage_mdev_instances(root: Path) -> None:
    types = function_dir(root, T4) / "mdev_supported_types"
    for type_dir in types.iterdir():
        (type_dir / "available_instances").write_text("lots\n")
    found = scan(root)
    assert QAT in found and E810 in found


def test_dangling_and_looping_symlinks(root: Path) -> None:
    devices = root / "sys/bus/pci/devices"
    (devices / "0000:99:00.0").symlink_to("../../../devices/pci0000:99/0000:99:00.0")  # dangling
    (devices / "0000:98:00.0").symlink_to("0000:98:00.0")  # loops onto itself
    qat = function_dir(root, QAT)
    (qat / "driver").unlink()
    (qat / "driver").symlink_to("driver")  # a looping driver link
    (function_dir(root, E810) / "virtfn1").unlink()
    (function_dir(root, E810) / "virtfn1").symlink_to("../0000:17:77.7")  # VF link to nothing
    found = scan(root)
    assert T4 in found
    assert "0000:99:00.0" not in found and "0000:98:00.0" not in found


def test_device_without_driver_is_reported_unusable_with_reason(root: Path) -> None:
    SysfsBuilder(root).bind_driver(QAT, None)
    devices, _ = discover_host(all_drivers(root, simulate=True))
    qat = next(d for d in devices if d.pci_address == QAT)
    assert qat.health.state == "unusable"
    assert "no kernel driver" in " ".join(qat.health.reasons)


def _scan_as_unprivileged(root: Path) -> str:
    """Scan from a forked child that is not root (root reads through any permission), so the
    closed directory really answers EACCES; the result or the crash comes back through a pipe."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(read)
        try:
            if os.geteuid() == 0:
                os.setgid(pwd.getpwnam("nobody").pw_gid)
                os.setuid(pwd.getpwnam("nobody").pw_uid)
            result = ",".join(scan(root))
        except BaseException as exc:
            result = f"crash: {type(exc).__name__}: {exc}"
        os.write(write, result.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        result = pipe.read()
    os.waitpid(child, 0)
    return result


def test_permission_denied(root: Path) -> None:
    """One device's directory closed to the scanning user: the others are still reported."""
    closed = function_dir(root, QAT)
    # As root the child drops to `nobody`, for whom 0700 (owned by root) is closed; as any other
    # user 0000 closes it to the owner too.
    closed.chmod(0o700 if os.geteuid() == 0 else 0o000)
    try:
        result = _scan_as_unprivileged(root)
    finally:
        closed.chmod(0o755)
    assert not result.startswith("crash"), result
    found = result.split(",")
    assert E810 in found and T4 in found


def test_devices_vanishing_during_scans(root: Path) -> None:
    """One thread keeps removing and re-adding the E810 and its VFs while scans run."""
    builder = SysfsBuilder(root)
    stop = threading.Event()
    cycles: list[int] = []
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            while not stop.is_set():
                builder.enable_vfs(E810, 0)
                builder.remove_pci(E810)
                qat_nic.e810(builder, E810, vfs=2, ifname="ens1f0")
                cycles.append(1)
        except BaseException as exc:  # the churn itself must not be what stops early
            errors.append(exc)

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        scans = 0
        while (len(cycles) < 20 or scans < 60) and scans < 5000 and not errors:
            found = scan(root)
            assert QAT in found and T4 in found
            scans += 1
    finally:
        stop.set()
        worker.join()
    assert errors == []
    assert len(cycles) >= 20, "the device hardly changed during the scans"

"""The committed fixture trees are exactly what their recipes build, and are laid out like sysfs:
relative symlinks only, every link resolving inside the tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fixtures.sysfs.hosts import FIXTURES, HOSTS, build_host


def snapshot(root: Path) -> dict[str, tuple[str, str | bytes]]:
    entries: dict[str, tuple[str, str | bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                entries[key] = ("link", os.readlink(path))
            elif path.is_file():
                entries[key] = ("file", path.read_bytes())
            # Directories are implied by what they hold: git keeps no empty ones (an unused mdev
            # type's `devices/`), and the drivers read a missing one as empty, like the kernel's.
    return entries


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_committed_tree_matches_its_recipe(name: str, tmp_path: Path) -> None:
    committed = FIXTURES / name
    assert committed.is_dir(), f"run: python -m tests.fixtures.sysfs.build ({name} is missing)"
    fresh = snapshot(build_host(name, tmp_path / name))
    assert snapshot(committed) == fresh, f"{name} drifted; run: python -m tests.fixtures.sysfs.build"


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_links_are_relative_and_stay_inside(name: str) -> None:
    root = (FIXTURES / name).resolve()
    links = [p for p in root.rglob("*") if p.is_symlink()]
    assert links, "a sysfs tree without links is not a sysfs tree"
    for link in links:
        target = os.readlink(link)
        assert not os.path.isabs(target), f"{link} -> {target} is absolute"
        assert link.resolve().is_relative_to(root), f"{link} -> {target} leaves the tree"
        assert link.resolve().exists(), f"{link} -> {target} dangles"


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_every_pci_function_has_the_kernel_basics(name: str) -> None:
    devices = FIXTURES / name / "sys/bus/pci/devices"
    for function in devices.iterdir():
        for attribute in ("vendor", "device", "class", "numa_node"):
            assert (function / attribute).is_file(), f"{function.name} lacks {attribute}"
        assert (function / "iommu_group").is_symlink()

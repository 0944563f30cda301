"""The partition rules: what each part of a device can still take, what can never coexist, and
which one type a counter-less mirror is shown."""

from __future__ import annotations

from accord.domain.partitions import (
    Part,
    PartitionSpec,
    capacities,
    mirrored_part,
    real_totals,
    shown_to_mirror,
    violation,
)

T4 = {"gpu": {"framebuffer_mib": 16384}}
A100_SRIOV = {"gpu": {"framebuffer_mib": 40960, "vfs": 16}}
A100_MIG = {"gpu": {"memory_slices": 8, "compute_slices": 7}}


def vgpu(type_id: str, framebuffer: int, most: int, handles: int, in_use: int = 0, vfs: bool = False) -> Part:
    consumes = {"framebuffer_mib": framebuffer, **({"vfs": 1} if vfs else {})}
    spec = PartitionSpec({"gpu": consumes}, "vgpu", most, part_type=type_id)
    return Part(type_id, spec, handles, in_use)


def mig(profile: str, memory: int, compute: int, handles: int, in_use: int = 0) -> Part:
    spec = PartitionSpec({"gpu": {"memory_slices": memory, "compute_slices": compute}}, part_type=profile)
    return Part(profile, spec, handles, in_use)


def t4_types(in_use: dict[str, int] | None = None) -> list[Part]:
    used = in_use or {}
    return [
        vgpu("T4-1B", 1024, 16, 16, used.get("T4-1B", 0)),
        vgpu("T4-2B", 2048, 8, 8, used.get("T4-2B", 0)),
        vgpu("T4-4Q", 4096, 4, 4, used.get("T4-4Q", 0)),
        vgpu("T4-16Q", 16384, 1, 1, used.get("T4-16Q", 0)),
    ]


def test_idle_t4_offers_each_type_its_own_capacity() -> None:
    assert capacities(T4, t4_types()) == {"T4-1B": 16, "T4-2B": 8, "T4-4Q": 4, "T4-16Q": 1}


def test_once_one_type_is_in_use_the_others_offer_nothing() -> None:
    parts = t4_types({"T4-2B": 1})
    assert capacities(T4, parts) == {"T4-1B": 0, "T4-2B": 7, "T4-4Q": 0, "T4-16Q": 0}
    assert real_totals(T4, parts) == {"T4-1B": 0, "T4-2B": 8, "T4-4Q": 0, "T4-16Q": 0}


def test_two_types_in_use_at_once_is_a_violation_naming_both() -> None:
    reason = violation(T4, t4_types({"T4-1B": 1, "T4-2B": 1}), {})
    assert reason is not None and "T4-1B and T4-2B exclude each other" in reason


def test_a100_sriov_is_bounded_by_max_instance_then_by_vfs() -> None:
    parts = [vgpu("A100-4C", 4096, 10, 16, vfs=True), vgpu("A100-5C", 5120, 8, 16, vfs=True)]
    # 16 VFs, but 40 GiB / 4 GiB and max_instance both say 10.
    assert capacities(A100_SRIOV, parts) == {"A100-4C": 10, "A100-5C": 8}
    tiny = [vgpu("A100-1C", 1024, 40, 16, vfs=True)]
    assert capacities(A100_SRIOV, tiny) == {"A100-1C": 16}  # one vGPU per VF


def test_a100_capacity_falls_as_vgpus_are_created() -> None:
    for used in range(11):
        parts = [vgpu("A100-4C", 4096, 10, 16, used, vfs=True), vgpu("A100-5C", 5120, 8, 16, vfs=True)]
        free = capacities(A100_SRIOV, parts)
        assert free == {"A100-4C": 10 - used, "A100-5C": 0 if used else 8}


def test_overdrawing_max_instance_or_a_counter_is_a_violation() -> None:
    assert "at most 10 units" in str(violation(A100_SRIOV, [vgpu("A100-4C", 4096, 10, 16, 11, vfs=True)], {}))
    no_max = Part("big", PartitionSpec({"gpu": {"framebuffer_mib": 8192}}), 8, 6)
    assert "gpu/framebuffer_mib would be overdrawn: 49152 asked, 16384 available" in str(
        violation(T4, [no_max], {})
    )


def test_mig_whole_gpu_and_partitions_exclude_each_other() -> None:
    def parts(whole: int = 0, small: int = 0, large: int = 0) -> list[Part]:
        return [
            mig("whole", 8, 7, 1, whole),
            mig("1g.5gb", 1, 1, 7, small),
            mig("3g.20gb", 4, 3, 2, large),
        ]

    assert capacities(A100_MIG, parts()) == {"whole": 1, "1g.5gb": 7, "3g.20gb": 2}
    assert capacities(A100_MIG, parts(whole=1)) == {"whole": 0, "1g.5gb": 0, "3g.20gb": 0}
    assert capacities(A100_MIG, parts(small=1)) == {"whole": 0, "1g.5gb": 6, "3g.20gb": 1}
    # Profiles of different sizes share the slices: 3g + 3g leaves 0 memory for a 1g.
    assert capacities(A100_MIG, parts(large=2)) == {"whole": 0, "1g.5gb": 0, "3g.20gb": 0}
    assert violation(A100_MIG, parts(whole=1, small=1), {}) is not None
    assert violation(A100_MIG, parts(small=4, large=1), {}) is None


def test_occupied_units_count_as_used_even_with_no_handle_held() -> None:
    stray = PartitionSpec({"gpu": {"framebuffer_mib": 1024}}, "vgpu", 16, occupied=2, part_type="T4-1B")
    parts = [Part("T4-1B", stray, 16, 0), vgpu("T4-2B", 2048, 8, 8)]
    assert capacities(T4, parts) == {"T4-1B": 14, "T4-2B": 0}


def test_a_counter_the_device_does_not_declare_offers_nothing() -> None:
    assert capacities({}, [vgpu("T4-1B", 1024, 16, 16)]) == {"T4-1B": 0}


def test_capacity_never_exceeds_free_handles() -> None:
    assert capacities(T4, [vgpu("T4-1B", 1024, 16, 4, 1)]) == {"T4-1B": 3}


def test_mirror_shows_the_type_in_use_else_the_pin_else_the_largest() -> None:
    assert mirrored_part(t4_types(), None, T4) == {"vgpu": "T4-1B"}  # most units, then type id
    assert mirrored_part(t4_types(), "T4-4Q", T4) == {"vgpu": "T4-4Q"}
    assert mirrored_part(t4_types({"T4-2B": 1}), "T4-4Q", T4) == {"vgpu": "T4-2B"}  # busy never switches
    shown = shown_to_mirror([*t4_types(), mig("1g.5gb", 1, 1, 7)], "T4-16Q", {**T4, **A100_MIG})
    assert shown == {"T4-16Q", "1g.5gb"}  # parts in no group are always shown


def test_spec_round_trips_through_json() -> None:
    spec = PartitionSpec({"gpu": {"vfs": 1}}, "vgpu", 10, 2, "nvidia-471")
    assert PartitionSpec.from_json(spec.to_json()) == spec
    assert PartitionSpec.from_json(None) is None

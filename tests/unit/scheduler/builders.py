"""Small constructors for scheduler test data: readable one-liners instead of nested dataclasses."""

from __future__ import annotations

from accord.scheduler.model import Host, Inventory, Provider, Request, RequestGroup


def device(
    host: str,
    name: str,
    rc: str = "FPGA",
    total: int = 1,
    *,
    reserved: int = 0,
    used: int = 0,
    max_unit: int | None = None,
    traits: frozenset[str] | set[str] = frozenset(),
    numa: int | None = 0,
    function: str | None = None,
    usable: bool = True,
) -> Provider:
    return Provider(
        uuid=f"rp-{host}-{name}",
        host=host,
        device_uuid=f"dev-{host}-{name}",
        deployable_uuid=f"dep-{host}-{name}",
        inventories={rc: Inventory(total, reserved, max_unit, used)},
        traits=frozenset(traits),
        numa_node=numa,
        function_id=function,
        usable=usable,
    )


def host(name: str, *providers: Provider, lost: bool = False) -> Host:
    return Host(name, tuple(providers), lost)


def identical_host(name: str, count: int = 8, **kwargs: object) -> Host:
    return host(name, *(device(name, f"d{i}", **kwargs) for i in range(count)))  # type: ignore[arg-type]


def group(
    group_id: int,
    rc: str = "FPGA",
    amount: int = 1,
    *,
    required: set[str] | None = None,
    forbidden: set[str] | None = None,
    function: str | None = None,
) -> RequestGroup:
    return RequestGroup(
        group_id,
        {rc: amount},
        frozenset(required or ()),
        frozenset(forbidden or ()),
        function_id=function,
    )


def request(*groups: RequestGroup, policy: str = "isolate", numa: str = "prefer") -> Request:
    return Request(tuple(groups), policy, numa)  # type: ignore[arg-type]

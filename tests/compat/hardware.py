"""Shared setup for the client tests: one reported FPGA host, read back over plain HTTP.

The clients under test only ever see what the server answers; the agent's inventory report
is not part of Cyborg's API, so it is posted directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tests.live_server import LiveServer
from tests.scenarios import fpga_host_snapshot

HOST = "compute-1"
PF = "0000:5e:00.0"


@dataclass(frozen=True)
class Hardware:
    device_uuid: str
    deployable_uuid: str
    rp_uuid: str
    vf_infos: list[dict[str, str]]  # attach_handle_info of each VF, as Cyborg renders PCI handles


def report_fpga_host(server: LiveServer, admin_token: str, vfs: int = 2, host: str = HOST) -> Hardware:
    headers = {"X-Auth-Token": admin_token}
    snapshot = fpga_host_snapshot(host, vfs=vfs)
    response = httpx.post(f"{server.url}/v2/hosts/{host}/inventory", json=snapshot, headers=headers)
    assert response.status_code == 200, response.text
    deployables = httpx.get(f"{server.url}/v2/deployables", headers=headers).json()["deployables"]
    (deployable,) = [d for d in deployables if d["name"].endswith(PF)]
    handles = snapshot["devices"][0]["deployables"][0]["attach_handles"]
    return Hardware(
        device_uuid=deployable["device_id"],
        deployable_uuid=deployable["uuid"],
        rp_uuid=deployable["rp_uuid"],
        vf_infos=[h["attach_info"] for h in handles],
    )

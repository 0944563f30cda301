"""The real ironic-python-agent 13 (`.venv-ipa`) loads Accord's hardware manager through its entry
point and dispatches to it, as in a ramdisk on a simulated host, and the Ironic conductor's calls
(`get_*_steps`, `execute_clean_step`, `execute_deploy_step`, `execute_service_step`) run the
steps against a live Accord: the card reads back what was asked; every refusal happens before the
card is touched; a flash killed mid-way leaves the device quarantined; reset returns the node to
the operator's baseline."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.agent.drivers import all_drivers, discover_host
from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.firmware import build_sim_firmware
from accord.agent.sim.kernel import SimulatedKernel, tool_runs
from accord.agent.sim.layouts import fpga, gpu
from accord.images.formats.build import build_gbs
from tests.fixtures.sysfs.hosts import AFU_NLB0, N3000_INTERFACE
from tests.ironic.runner import IpaDriver, run_plan
from tests.live_server import LiveServer, free_port, live_server

NODE = "1be26c0b-03f2-4d2d-ae87-c02d7f33c781"
OTHER_NODE = "9c1d2a44-7c55-4a8e-8f0e-3b8d2f6a1e90"
PF = "0000:5e:00.0"
GPU = "0000:3b:00.0"
NEW_AFU = "f7df405c-bd7a-cf72-22f1-44b0b93acd18"
TENANT_AFU = "0b0c0d0e-1111-4222-8333-944455556666"
BASELINE_AFU = "aa11bb22-cc33-4d44-8e55-f66a77b88c99"
OTHER_INTERFACE = "00000000-1111-2222-3333-444444444444"
FACTORY_VERSION = "0x23000410010309"
DEPLOY = {"priority": 0, "interface": "deploy"}


def build_node_tree(root: Path, released: bool = True, with_gpu: bool = False) -> None:
    """An N3000 with NLB0 loaded whose AFU port a VM host left released to its VF; a T4 with
    vGPU types when asked."""
    b = SysfsBuilder(root)
    fpga.dfl_n3000(b, PF, afu_id=AFU_NLB0, interface_id=N3000_INTERFACE)
    if released:
        fpga.released_to_vf(b, PF)
    if with_gpu:
        gpu.tesla_t4_with_vgpu(b, GPU)


def afu_on_pf(root: Path) -> str | None:
    ports = list(root.glob(f"sys/devices/pci0000:5e/{PF}/fpga_region/region*/dfl-port.*/afu_id"))
    return str(uuid.UUID(ports[0].read_text().strip())) if ports else None


def runs(root: Path, tool: str) -> int:
    return sum(1 for argv in tool_runs(root) if argv[0] == tool)


@dataclass
class Bay:
    """A live Accord, an enrolled node whose ramdisk sees `root`, and its kernel command line."""

    server: LiveServer
    admin: httpx.Client
    root: Path
    tmp: Path
    token: str

    @property
    def cmdline(self) -> Path:
        return self.tmp / "cmdline"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "ACCORD_SYSFS_ROOT": str(self.root),
            "ACCORD_SIMULATE": "1",
            "ACCORD_CMDLINE_FILE": str(self.cmdline),
            **extra,
        }

    def kernel_line(self, url: str | None = None, token: str | None = None) -> str:
        url, token = url or self.server.url, token or self.token
        return f"BOOT_IMAGE=/vmlinuz ipa-debug=1 accord_url={url} accord_token={token}\n"

    def node(self, **fields: Any) -> dict[str, Any]:
        # Ironic masks driver_info tokens before the ramdisk sees them.
        return {"uuid": NODE, "driver_info": {"accord_token": "******"}, **fields}

    def image(self, data: bytes, approve: bool = True, **fields: Any) -> str:
        body = {"name": f"img-{uuid.uuid4().hex[:6]}", "kind": "bitstream", **fields}
        image = str(self.admin.post("/v2/images", json=body).json()["uuid"])
        assert self.admin.put(f"/v2/images/{image}/file", content=data).status_code == 200
        if approve:
            assert self.admin.post(f"/v2/images/{image}/approve").status_code == 200
        return image

    def firmware(self, version: str) -> str:
        return self.image(build_sim_firmware(version), kind="firmware", version=version)

    def run(self, actions: list[dict[str, Any]], **env: str) -> list[dict[str, Any]]:
        return run_plan(actions, self.env(**env), self.tmp / f"ipa-{uuid.uuid4().hex[:6]}.log")

    def device(self, address: str = PF) -> dict[str, Any]:
        devices = self.admin.get("/v2/devices", params={"hostname": NODE}).json()["devices"]
        [device] = [d for d in devices if address in d["std_board_info"]]
        return dict(device)

    def operations(self) -> list[dict[str, Any]]:
        return list(self.admin.get("/v2/operations", params={"hostname": NODE}).json()["operations"])


def make_bay(tmp_path: Path, database_url: str, **tree: bool) -> Iterator[Bay]:
    root = tmp_path / "node"
    build_node_tree(root, **tree)
    env = {"ACCORD_RECONCILE_INTERVAL_S": "0.3", "ACCORD_OPERATION_LEASE_S": "3"}
    with live_server(tmp_path / "srv", database_url, auth="token", env=env) as server:
        admin = httpx.Client(
            base_url=server.url, headers={"X-Auth-Token": server.token("p-admin", "admin")}, timeout=30
        )
        assert admin.put(f"/v2/hosts/{NODE}", json={"bare_metal": True}).status_code == 200
        bay = Bay(server, admin, root, tmp_path, server.token("baremetal", "agent", host=NODE))
        bay.cmdline.write_text(bay.kernel_line())
        yield bay
        admin.close()


@pytest.fixture
def bay(tmp_path: Path, database_url: str) -> Iterator[Bay]:
    yield from make_bay(tmp_path, database_url)


def deploy(node: dict[str, Any], **args: Any) -> dict[str, Any]:
    return {"do": "deploy", "node": node, "step": {"step": "program_accelerator", **DEPLOY, "args": args}}


def clean(node: dict[str, Any], step: str, **args: Any) -> dict[str, Any]:
    return {"do": "clean", "node": node, "step": {"step": step, **DEPLOY, "args": args}}


def error_of(record: dict[str, Any]) -> tuple[str, str]:
    assert record["status"] == "FAILED", record
    return record["error"]["type"], record["error"]["details"]


def test_ipa_loads_the_manager_through_its_entry_point_only_where_accelerators_are(tmp_path: Path) -> None:
    root = tmp_path / "node"
    build_node_tree(root, released=False, with_gpu=True)
    node = {"uuid": NODE}
    managers, info, cleaning, deploying, servicing = run_plan(
        [
            {"do": "managers"},
            {"do": "hardware_info"},
            {"do": "clean_steps", "node": node},
            {"do": "deploy_steps", "node": node},
            {"do": "service_steps", "node": node},
        ],
        {"ACCORD_SYSFS_ROOT": str(root), "ACCORD_SIMULATE": "1"},
        tmp_path / "ipa.log",
    )
    assert managers["managers"][0] == {"name": "AccordHardwareManager", "support": 3}  # SERVICE_PROVIDER
    inventory = info["result"]
    assert inventory["cpu"] == {"model_name": "test machine"}  # the next manager's inventory is kept
    by_address = {a["pci_address"]: a for a in inventory["accelerators"]}
    assert set(by_address) == {PF, GPU}
    assert by_address[PF]["type"] == "FPGA" and by_address[PF]["vendor"] == "8086"
    assert by_address[PF]["product_id"] == "0b30" and by_address[PF]["functions"] == [AFU_NLB0]
    assert "CUSTOM_FPGA_INTEL_PAC_N3000" in by_address[PF]["traits"]
    assert by_address[GPU]["type"] == "GPU" and by_address[GPU]["vendor"] == "10de"

    ours = cleaning["result"]["clean_steps"]["AccordHardwareManager"]
    steps = {s["step"]: s for s in ours}
    assert set(steps) == {"reset_accelerators", "update_accelerator_firmware"}
    assert (
        steps["reset_accelerators"]["priority"] > 0 and steps["reset_accelerators"]["interface"] == "deploy"
    )
    firmware = steps["update_accelerator_firmware"]
    assert (firmware["priority"], firmware["abortable"]) == (0, False)
    assert firmware["argsinfo"]["image_uuid"]["required"] is True
    assert firmware["argsinfo"]["device_address"]["required"] is False
    [program] = deploying["result"]["deploy_steps"]["AccordHardwareManager"]
    assert (program["step"], program["priority"], program["interface"]) == (
        "program_accelerator",
        0,
        "deploy",
    )
    assert set(program["argsinfo"]) == {"image_uuid", "device_address"}
    [service] = servicing["result"]["service_steps"]["AccordHardwareManager"]
    assert (service["step"], service["abortable"]) == ("update_accelerator_firmware", False)

    empty = tmp_path / "no-accelerators"
    (empty / "sys" / "bus" / "pci" / "devices").mkdir(parents=True)
    [managers] = run_plan(
        [{"do": "managers"}], {"ACCORD_SYSFS_ROOT": str(empty), "ACCORD_SIMULATE": "1"}, tmp_path / "ipa2.log"
    )
    assert "AccordHardwareManager" not in [m["name"] for m in managers["managers"]]  # NONE


def test_program_accelerator_refuses_before_touching_and_programs_through_the_pf(bay: Bay) -> None:
    good = bay.image(build_gbs(NEW_AFU, N3000_INTERFACE))
    tampered = bay.image(build_gbs("0d9e9f3a-5b6c-4d7e-8f90-a1b2c3d4e5f6", N3000_INTERFACE))
    blob = bay.server.data_dir / "images" / tampered
    blob.write_bytes(blob.read_bytes()[:-4] + b"evil")
    unapproved = bay.image(build_gbs("1d9e9f3a-5b6c-4d7e-8f90-a1b2c3d4e5f6", N3000_INTERFACE), approve=False)
    wrong_interface = bay.image(build_gbs("2d9e9f3a-5b6c-4d7e-8f90-a1b2c3d4e5f6", OTHER_INTERFACE))
    firmware = bay.firmware("2.0.0")
    node = bay.node()
    records = bay.run(
        [
            deploy(node, image_uuid=unapproved),
            deploy(node, image_uuid=wrong_interface),
            deploy(node, image_uuid=firmware),
            deploy(node, image_uuid=str(uuid.uuid4())),
            deploy(node, image_uuid=good, device_address="0000:99:00.0"),
            deploy(node),
            deploy(node, image_uuid=42),
            deploy(node, image_uuid=good, device_address=["0000:5e:00.0"]),
            deploy(node, image_uuid=tampered),
            deploy(node, image_uuid=good),
        ]
    )
    expected = [
        ("DeploymentError", "not approved"),
        ("DeploymentError", f"PR interface {OTHER_INTERFACE}"),
        ("DeploymentError", "not a bitstream"),
        ("DeploymentError", "could not be found"),
        ("DeploymentError", "no FPGA at 0000:99:00.0"),
        ("InvalidCommandParamsError", "image_uuid is required"),
        ("InvalidCommandParamsError", "image_uuid must be a string"),
        ("InvalidCommandParamsError", "device_address must be a PCI address string"),
        ("DeploymentError", "sha256"),
    ]
    for record, (kind, words) in zip(records, expected, strict=False):
        got_kind, details = error_of(record)
        assert got_kind == kind and words in details, (kind, words, details)
    # Refused before the card was touched: the VF still holds the port, no tool ever ran but the
    # one programming of the good image.
    assert runs(bay.root, "fpgaconf") == 1 and runs(bay.root, "fpgaport") == 1
    done = records[-1]
    assert done["status"] == "SUCCEEDED", done
    [operation] = done["result"]["deploy_result"]["operations"]
    assert operation["state"] == "succeeded" and operation["result"]["function_id"] == NEW_AFU
    assert afu_on_pf(bay.root) == NEW_AFU  # the port is the PF's again, and holds the new AFU
    assert not list(bay.root.glob(f"sys/bus/pci/devices/{PF}/virtfn*"))
    [region] = [
        d for d in bay.admin.get("/v2/deployables").json()["deployables"] if d["name"] == f"{NODE}_{PF}"
    ]
    assert region["bitstream_id"] == good
    ops = {o["params"]["image_uuid"]: o for o in bay.operations()}
    assert set(ops) == {tampered, good}  # the refusals queued nothing
    assert ops[tampered]["state"] == "failed" and "not using it" in ops[tampered]["error"]
    refused = bay.admin.get("/v2/audit_events", params={"outcome": "refused"}).json()["audit_events"]
    # Unapproved, wrong interface, firmware as bitstream (404s are lookups, not decisions).
    assert {e["action"] for e in refused} == {"deployable.program"} and len(refused) == 3


def test_firmware_in_cleaning_and_servicing_and_a_flash_killed_midway(bay: Bay) -> None:
    v2, v3, v4 = bay.firmware("2.0.0"), bay.firmware("3.0.0"), bay.firmware("4.0.0")
    bitstream = bay.image(build_gbs(NEW_AFU, N3000_INTERFACE))
    node = bay.node()
    servicing = bay.node(provision_state="servicing")
    records = bay.run(
        [
            clean(node, "update_accelerator_firmware", image_uuid=bitstream),
            clean(node, "update_accelerator_firmware", image_uuid=v2),
            {
                "do": "service",
                "node": servicing,
                "step": {"step": "update_accelerator_firmware", **DEPLOY, "args": {"image_uuid": v3}},
            },
            clean(node, "update_accelerator_firmware", image_uuid=v2),
        ]
    )
    kind, details = error_of(records[0])
    assert kind == "CleaningError" and "not firmware" in details
    assert records[1]["status"] == "SUCCEEDED", records[1]
    assert records[2]["status"] == "SUCCEEDED", records[2]
    kind, details = error_of(records[3])
    assert kind == "CleaningError" and "runs firmware 3.0.0" in details  # a downgrade needs force
    assert bay.admin.get(f"/v2/devices/{bay.device()['uuid']}/health").json()["firmware_version"] == "3.0.0"
    assert runs(bay.root, "fpgasupdate") == 2

    # A flash whose step is killed while the tool writes: the node stops heartbeating, the
    # operation's lease runs out, and the device is quarantined, never reported healthy.
    driver = IpaDriver(
        [clean(node, "update_accelerator_firmware", image_uuid=v4)],
        bay.env(ACCORD_SIM_TOOL_DELAY_S="120"),
        bay.tmp / "ipa-killed.log",
    )
    try:
        deadline = time.monotonic() + 120
        while runs(bay.root, "fpgasupdate") < 3:
            assert time.monotonic() < deadline, driver.stderr()
            time.sleep(0.1)
    finally:
        driver.kill()
    device = bay.device()["uuid"]
    deadline = time.monotonic() + 60
    while not (health := bay.admin.get(f"/v2/devices/{device}/health").json()).get("quarantine_reason"):
        assert time.monotonic() < deadline, health
        time.sleep(0.2)
    assert "flash interrupted" in health["quarantine_reason"] and health["firmware_version"] == "3.0.0"
    [killed] = [o for o in bay.operations() if o["params"]["image_uuid"] == v4]
    assert killed["state"] == "failed" and killed["attempts"] == 1


def test_reset_after_a_tenant_leaves_the_node_at_the_baseline(tmp_path: Path, database_url: str) -> None:
    for bay in make_bay(tmp_path, database_url, released=False, with_gpu=True):
        baseline = bay.image(build_gbs(BASELINE_AFU, N3000_INTERFACE))
        # The tenant: its own bitstream through the vendor tool, a vGPU, the port given to a VF.
        kernel = SimulatedKernel(bay.root)
        gbs = bay.tmp / "tenant.gbs"
        gbs.write_bytes(build_gbs(TENANT_AFU, N3000_INTERFACE))
        drivers = all_drivers(bay.root, simulate=True)
        drivers[0].program(PF, PF, gbs)  # type: ignore[attr-defined]
        drivers[2].create_mdev(GPU, "nvidia-222", str(uuid.uuid4()))  # type: ignore[attr-defined]
        fpga.released_to_vf(SysfsBuilder(bay.root), PF)
        assert kernel.root == bay.root and list(bay.root.glob("sys/bus/mdev/devices/*"))

        [reset] = bay.run(
            [clean(bay.node(driver_info={"accord_baseline_image": baseline}), "reset_accelerators")]
        )
        assert reset["status"] == "SUCCEEDED", reset
        summary = reset["result"]["clean_result"]
        assert len(summary["mdevs_removed"]) == 1 and summary["ports_reclaimed"] == {PF: [0]}

        expected_root = tmp_path / "baseline"
        b = SysfsBuilder(expected_root)
        fpga.dfl_n3000(b, PF, afu_id=BASELINE_AFU, interface_id=N3000_INTERFACE)
        gpu.tesla_t4_with_vgpu(b, GPU)
        expected, _ = discover_host(all_drivers(expected_root, simulate=True))
        got, _ = discover_host(all_drivers(bay.root, simulate=True))
        assert [d.model_dump() for d in got] == [d.model_dump() for d in expected]
        assert not list(bay.root.glob("sys/bus/mdev/devices/*"))


def test_wrong_node_token_unreachable_accord_and_no_url_fail_the_step_with_the_reason(bay: Bay) -> None:
    good = bay.image(build_gbs(NEW_AFU, N3000_INTERFACE))
    other_token = bay.server.token("baremetal", "agent", host=OTHER_NODE)
    closed = f"http://127.0.0.1:{free_port()}"
    node = bay.node()
    records = bay.run(
        [
            {"do": "write_cmdline", "path": str(bay.cmdline), "text": bay.kernel_line(token=other_token)},
            deploy(node, image_uuid=good),
            {"do": "write_cmdline", "path": str(bay.cmdline), "text": bay.kernel_line(url=closed)},
            deploy(node, image_uuid=good),
            {"do": "write_cmdline", "path": str(bay.cmdline), "text": "BOOT_IMAGE=/vmlinuz\n"},
            clean(node, "update_accelerator_firmware", image_uuid=good),
        ]
    )
    kind, details = error_of(records[1])
    assert kind == "DeploymentError" and f"may not report for host '{NODE}'" in details
    kind, details = error_of(records[3])
    assert kind == "DeploymentError" and "cannot reach Accord" in details and "after 5 attempts" in details
    kind, details = error_of(records[5])
    assert kind == "CleaningError" and "accord_url" in details
    assert runs(bay.root, "fpgaconf") == 0 and runs(bay.root, "fpgaport") == 0
    assert afu_on_pf(bay.root) is None  # still released to the VF, untouched
    assert bay.operations() == []

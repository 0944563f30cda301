"""Runs in `.venv-ipa` (ironic-python-agent 13 with `accord[ironic]`): the calls Ironic's
conductor makes into the ramdisk, through IPA's own code. Reads a plan (JSON) on stdin, prints
one JSON line per action.

IPA loads every manager on its entry point, Accord's included, and dispatches as in a ramdisk.
Only the generic manager's probing of this machine is replaced, since the test machine is not a
ramdisk: its `initialize` (iSCSI, md RAID, IPMI modules, waiting for a root disk),
`wait_for_disks` and `list_hardware_info` (lshw, dmidecode) would act on the real host.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from ironic_python_agent import config

config.populate_config()  # as the ramdisk's `ironic-python-agent` command does first
config.CONF(args=[], default_config_files=[])

from ironic_python_agent import errors, hardware  # noqa: E402  (needs the options registered)
from ironic_python_agent.extensions import clean, deploy, service  # noqa: E402

GENERIC_INVENTORY = {"cpu": {"model_name": "test machine"}, "memory": {"total": 1}}


def _quiet_generic() -> None:
    generic = hardware.GenericHardwareManager
    generic.initialize = lambda self: None
    generic.wait_for_disks = lambda self: None
    generic.list_hardware_info = lambda self: dict(GENERIC_INVENTORY)


def _error(exc: BaseException | None) -> dict[str, Any] | None:
    if exc is None:
        return None
    if isinstance(exc, errors.RESTError):
        return {"type": exc.type, "details": exc.details}
    return {"type": type(exc).__name__, "details": str(exc)}


def _command(result: Any) -> dict[str, Any]:
    if hasattr(result, "join"):  # async commands (steps) run in a thread of their own
        result.join()
    return {
        "status": str(result.command_status),
        "result": result.command_result,
        "error": _error(result.command_error),
    }


def run(action: dict[str, Any]) -> dict[str, Any]:
    do = action["do"]
    node = action.get("node") or {}
    ports: list[Any] = []
    if do == "write_cmdline":  # as an operator changing kernel_append_params between steps
        with open(action["path"], "w") as handle:
            handle.write(action["text"])
        return {}
    if do == "managers":
        return {
            "managers": [
                {"name": m["name"], "support": int(m["support"])} for m in hardware.get_managers_detail()
            ]
        }
    if do == "hardware_info":
        return {"result": hardware.dispatch_to_managers("list_hardware_info")}
    if do == "clean_steps":
        return _command(clean.CleanExtension().get_clean_steps(node=node, ports=ports))
    if do == "deploy_steps":
        return _command(deploy.DeployExtension().get_deploy_steps(node=node, ports=ports))
    if do == "service_steps":
        return _command(service.ServiceExtension().get_service_steps(node=node, ports=ports))
    if do == "clean":
        return _command(
            clean.CleanExtension().execute_clean_step(step=action["step"], node=node, ports=ports)
        )
    if do == "deploy":
        return _command(
            deploy.DeployExtension().execute_deploy_step(step=action["step"], node=node, ports=ports)
        )
    if do == "service":
        return _command(
            service.ServiceExtension().execute_service_step(step=action["step"], node=node, ports=ports)
        )
    raise ValueError(f"unknown action {do!r}")


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    _quiet_generic()
    plan = json.load(sys.stdin)
    for action in plan["actions"]:
        try:
            record = run(action)
        except Exception as exc:  # a call that raised before any command ran (sync commands)
            record = {"status": "RAISED", "error": _error(exc)}
        print(json.dumps({"do": action["do"], **record}, default=str), flush=True)


if __name__ == "__main__":
    main()

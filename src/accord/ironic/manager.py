"""Accord's hardware manager for ironic-python-agent, on the entry point
`ironic_python_agent.hardware_managers` as `accord`.

IPA loads every manager on that entry point, asks each `evaluate_hardware_support()` and
dispatches each call to the best one that implements it. This one claims the node
(SERVICE_PROVIDER) when Accord's drivers find an accelerator, adds an `accelerators` section to
the inventory, and offers three steps (contract names and arguments):
- `program_accelerator(image_uuid, device_address=None)`: deploy step, priority 0 (run from a
  deploy template mapped to a flavor trait);
- `update_accelerator_firmware(image_uuid, device_address=None)`: clean and service step,
  priority 0 (manual), not abortable;
- `reset_accelerators()`: automated clean step.
Bad arguments are `InvalidCommandParamsError`; a refusal or failure is the phase's own error
(`DeploymentError`, `CleaningError`, `ServicingError`) with Accord's reason.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from ironic_python_agent import errors, hardware

from accord.ironic.node import NodeHost, StepFailed, StepRefused
from accord.ironic.reset import reset_node
from accord.ironic.settings import NotConfigured, read_settings, simulated, sysfs_root

log = logging.getLogger(__name__)

RESET_PRIORITY = 95  # early in automated cleaning, before disks are erased
IMAGE_ARGS = {
    "image_uuid": {"description": "uuid of an image approved in Accord", "required": True},
    "device_address": {
        "description": "PCI address of the card (default: every card the image fits)",
        "required": False,
    },
}

Node = dict[str, Any]


def _step(name: str, priority: int, interface: str, abortable: bool, args: bool) -> dict[str, Any]:
    step: dict[str, Any] = {
        "step": name,
        "priority": priority,
        "interface": interface,
        "reboot_requested": False,
        "abortable": abortable,
    }
    if args:
        step["argsinfo"] = IMAGE_ARGS
    return step


def _image_args(image_uuid: object, device_address: object) -> tuple[str, str | None]:
    if image_uuid is None:
        raise errors.InvalidCommandParamsError("image_uuid is required")
    if not isinstance(image_uuid, str):
        raise errors.InvalidCommandParamsError(
            f"image_uuid must be a string, not {type(image_uuid).__name__}"
        )
    try:
        uuid.UUID(image_uuid)
    except ValueError:
        raise errors.InvalidCommandParamsError(f"image_uuid {image_uuid!r} is not a uuid") from None
    if device_address is not None and not isinstance(device_address, str):
        raise errors.InvalidCommandParamsError(
            f"device_address must be a PCI address string, not {type(device_address).__name__}"
        )
    return image_uuid, device_address


class AccordHardwareManager(hardware.HardwareManager):  # type: ignore[misc]
    HARDWARE_MANAGER_NAME = "AccordHardwareManager"
    HARDWARE_MANAGER_VERSION = "1.0"

    def evaluate_hardware_support(self) -> int:
        from accord.agent.drivers import all_drivers, discover_host

        devices, _ = discover_host(all_drivers(sysfs_root(), simulated()))
        if devices:
            log.info("Accord manages %d accelerator(s) on this node", len(devices))
            return int(hardware.HardwareSupport.SERVICE_PROVIDER)
        return int(hardware.HardwareSupport.NONE)

    def list_hardware_info(self) -> dict[str, Any]:
        """The next manager's inventory, plus what Accord's drivers find."""
        from accord.agent.drivers import all_drivers, discover_host

        info: dict[str, Any] = {}
        for manager in hardware.get_managers():
            if manager is self:
                continue
            try:
                info = dict(manager.list_hardware_info())
                break
            except errors.IncompatibleHardwareMethodError:
                continue
        devices, _ = discover_host(all_drivers(sysfs_root(), simulated()))
        info["accelerators"] = [
            {
                "pci_address": d.pci_address,
                "type": d.type,
                "vendor": d.vendor,
                "product_id": d.product,
                "model": d.model,
                "driver": d.driver,
                "firmware_version": d.firmware_version,
                "functions": [x.function_id for x in d.deployables if x.function_id],
                "interfaces": sorted({x.interface_id for x in d.deployables if x.interface_id}),
                "traits": sorted({t for x in d.deployables for t in x.traits}),
            }
            for d in devices
        ]
        return info

    def get_clean_steps(self, node: Node, ports: list[Any]) -> list[dict[str, Any]]:
        return [
            _step("reset_accelerators", RESET_PRIORITY, "deploy", True, args=False),
            _step("update_accelerator_firmware", 0, "deploy", False, args=True),
        ]

    def get_deploy_steps(self, node: Node, ports: list[Any]) -> list[dict[str, Any]]:
        return [_step("program_accelerator", 0, "deploy", True, args=True)]

    def get_service_steps(self, node: Node, ports: list[Any]) -> list[dict[str, Any]]:
        return [_step("update_accelerator_firmware", 0, "deploy", False, args=True)]

    def program_accelerator(
        self, node: Node, ports: list[Any], image_uuid: object = None, device_address: object = None
    ) -> dict[str, Any]:
        image, address = _image_args(image_uuid, device_address)
        return self._on_node(
            node, errors.DeploymentError, lambda host: {"operations": host.run("program", image, address)}
        )

    def update_accelerator_firmware(
        self, node: Node, ports: list[Any], image_uuid: object = None, device_address: object = None
    ) -> dict[str, Any]:
        image, address = _image_args(image_uuid, device_address)
        failure = (
            errors.ServicingError if node.get("provision_state") == "servicing" else errors.CleaningError
        )
        return self._on_node(node, failure, lambda host: {"operations": host.run("firmware", image, address)})

    def reset_accelerators(self, node: Node, ports: list[Any]) -> dict[str, Any]:
        baseline = (node.get("driver_info") or {}).get("accord_baseline_image") or None
        if baseline is not None:
            _image_args(baseline, None)
        return self._on_node(
            node, errors.CleaningError, lambda host: reset_node(host, sysfs_root(), baseline)
        )

    def _on_node(
        self, node: Node, failure: type[Exception], work: Callable[[NodeHost], dict[str, Any]]
    ) -> dict[str, Any]:
        node_uuid = node.get("uuid")
        if not isinstance(node_uuid, str) or not node_uuid:
            raise errors.InvalidCommandParamsError("the node has no uuid")
        try:
            settings = read_settings(node)
        except NotConfigured as exc:
            raise failure(f"Accord: {exc}") from exc
        host = NodeHost(node_uuid, settings)
        try:
            return work(host)
        except StepRefused as exc:
            raise failure(f"Accord refused: {exc}") from exc
        except StepFailed as exc:
            raise failure(f"Accord: {exc}") from exc
        except Exception as exc:  # a driver or tool error: the card may be half-done, say so
            log.exception("accelerator step failed on node %s", node_uuid)
            raise failure(f"Accord: {type(exc).__name__}: {exc}") from exc
        finally:
            host.close()

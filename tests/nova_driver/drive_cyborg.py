"""Nova 34's own Cyborg code, driven against a live Accord as nova-api, -conductor and -compute do.

Run with `.venv-nova/bin/python` (Nova's pins clash with Accord's), never imported by pytest's
interpreter. A JSON plan comes on stdin; one JSON line per step goes to stdout, flushed at once,
so the test can act between steps (start an agent while Nova waits for a bind).

What runs is Nova's code, not a copy: `nova.accelerator.cyborg` (request groups, ARQ creation and
matching, bind, resolved/unresolved reads, deletes) through the openstacksdk adapter Nova builds
from its `[cyborg]` options with the user's token plus the `[service_user]` service token; the
conductor's `_create_and_bind_arq_for_instance` and the compute manager's
`_get_bound_arq_resources` / `_split_network_arqs` (taken from their classes onto small
stand-ins, since the full services need a database and a message bus), with Nova's real
`ComputeVirtAPI` and `InstanceEvents` waiting for `accelerator-request-bound`; and Neutron's
`_populate_neutron_binding_profile` for ports with a device profile. Accord's event posts are
read from the Nova stub, checked against Nova's own request schema for the microversion they
carry, and delivered the way nova-compute's `_process_instance_event` does.

Plan: {"conf": {group: {option: value}}, "user": {...}, "events_url": URL, "hostname": H,
"steps": [{"do": ..., ...}]}. "user" is either {"token", "user_id", "project_id"} (no Keystone:
`[cyborg] endpoint_override` must be set) or {"auth_url", "username", "password",
"project_name", "user_domain_name", "project_domain_name"} (a Keystone login; the token's catalog
reaches Nova's context as keystonemiddleware would pass it).
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import threading
import time
from typing import Any

import nova.conf
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v3
from keystonemiddleware.auth_token import _request as ksm_request
from nova import context as nova_context
from nova import exception, objects
from nova.accelerator import cyborg
from nova.api.openstack import api_version_request
from nova.api.openstack.compute.schemas import server_external_events as event_schemas
from nova.api.validation import validators
from nova.compute import manager as compute_manager
from nova.conductor import manager as conductor_manager
from nova.network import constants as neutron_constants
from nova.network import neutron

CONF = nova.conf.CONF


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record, sort_keys=True, default=str), flush=True)


def write_conf(conf: dict[str, dict[str, Any]], folder: str) -> str:
    lines = []
    for group, options in conf.items():
        lines.append(f"[{group}]")
        lines += [f"{key} = {value}" for key, value in options.items()]
    path = f"{folder}/nova.conf"
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def user_context(user: dict[str, str]) -> nova_context.RequestContext:
    """The RequestContext nova-api builds from keystonemiddleware's headers."""
    if "token" in user:
        return nova_context.RequestContext(
            user_id=user["user_id"], project_id=user["project_id"], auth_token=user["token"]
        )
    auth = v3.Password(
        auth_url=user["auth_url"],
        username=user["username"],
        password=user["password"],
        project_name=user["project_name"],
        user_domain_name=user["user_domain_name"],
        project_domain_name=user["project_domain_name"],
    )
    sess = ksa_session.Session(auth=auth)
    access = auth.get_access(sess)
    # keystonemiddleware hands the catalog to Nova in X-Service-Catalog, normalised this way.
    catalog = ksm_request._normalize_catalog(access.service_catalog.catalog)
    return nova_context.RequestContext(
        user_id=access.user_id,
        project_id=access.project_id,
        auth_token=access.auth_token,
        roles=access.role_names,
        service_catalog=catalog,
    )


class Conductor:
    """nova-conductor's ARQ code, on a stand-in (the real ComputeTaskManager needs RPC and a DB)."""

    _create_and_bind_arq_for_instance = conductor_manager.ComputeTaskManager._create_and_bind_arq_for_instance
    _create_and_bind_arqs = conductor_manager.ComputeTaskManager._create_and_bind_arqs
    _create_arqs_for_ports = conductor_manager.ComputeTaskManager._create_arqs_for_ports


class Neutron:
    """The part of Nova's Neutron API that writes a port's binding profile from its ARQ."""

    _populate_neutron_binding_profile = neutron.API._populate_neutron_binding_profile


class RecordingVirtAPI(compute_manager.ComputeVirtAPI):
    """Nova's ComputeVirtAPI, remembering which events the early check let it skip."""

    def __init__(self, compute: Compute) -> None:
        super().__init__(compute)
        self.exited_early: list[str] = []

    def exit_wait_early(self, events: list[tuple[str, str]]) -> None:
        self.exited_early += [tag for _, tag in events]
        super().exit_wait_early(events)


class Compute:
    """nova-compute's ARQ wait and event dispatch, on a stand-in with Nova's own event plumbing."""

    _get_bound_arq_resources = compute_manager.ComputeManager._get_bound_arq_resources
    _split_network_arqs = compute_manager.ComputeManager._split_network_arqs
    _process_instance_event = compute_manager.ComputeManager._process_instance_event

    def __init__(self) -> None:
        self.reportclient = None
        self.instance_events = compute_manager.InstanceEvents()
        self.virtapi = RecordingVirtAPI(self)


def event_schema(version_header: str) -> dict[str, Any]:
    """The request schema nova-api applies to os-server-external-events at this microversion."""
    requested = api_version_request.APIVersionRequest(version_header.split()[-1])
    for minimum, schema in (
        ("2.93", event_schemas.create_v293),
        ("2.82", event_schemas.create_v282),
        ("2.76", event_schemas.create_v276),
        ("2.51", event_schemas.create_v251),
    ):
        if requested >= api_version_request.APIVersionRequest(minimum):
            return schema
    return event_schemas.create


class EventRelay(threading.Thread):
    """Reads Accord's event posts from the Nova stub and dispatches them as nova-compute does."""

    def __init__(self, events_url: str, compute: Compute, instances: dict[str, objects.Instance]) -> None:
        super().__init__(daemon=True)
        self.events_url = events_url
        self.compute = compute
        self.instances = instances
        self.seen = 0
        self.delivered: list[dict[str, Any]] = []
        self.invalid: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        sess = ksa_session.Session()
        while not self.stop.is_set():
            posts = sess.get(self.events_url).json()["posts"]
            for post in posts[self.seen :]:
                self._dispatch(post)
            self.seen = len(posts)
            time.sleep(0.05)

    def _dispatch(self, post: dict[str, Any]) -> None:
        version = post["headers"].get("OpenStack-API-Version", "compute 2.1")
        try:
            validators._SchemaValidator(event_schema(version)).validate(post["body"])
        except exception.ValidationError as exc:
            self.invalid.append(f"{version}: {exc}")
            return
        for body in post["body"]["events"]:
            instance = self.instances.get(body["server_uuid"])
            event = objects.InstanceExternalEvent(
                instance_uuid=body["server_uuid"], name=body["name"], status=body["status"], tag=body["tag"]
            )
            waiting = instance is not None and (
                event.name,
                event.tag,
            ) in self.compute.instance_events._events.get(instance.uuid, {})
            if instance is not None:
                self.compute._process_instance_event(instance, event)
            self.delivered.append(
                {"key": event.key, "status": event.status, "to_waiter": waiting, "version": version}
            )


def request_groups(ctx: nova_context.RequestContext, step: dict[str, Any]) -> dict[str, Any]:
    """nova-api: a flavor's `accel:device_profile` or a port's `device_profile` as request groups."""
    groups = cyborg.get_device_profile_request_groups(ctx, step["profile"], owner=step.get("owner"))
    return {"groups": [describe_group(g) for g in groups]}


def describe_group(group: objects.RequestGroup) -> dict[str, Any]:
    return {
        "requester_id": group.requester_id,
        "resources": dict(group.resources),
        "required_traits": sorted(group.required_traits),
        "forbidden_traits": sorted(group.forbidden_traits),
        "provider_uuids": list(group.provider_uuids) if "provider_uuids" in group else [],
    }


def boot(
    ctx: nova_context.RequestContext, plan: dict[str, Any], step: dict[str, Any], relay: EventRelay
) -> dict[str, Any]:
    """One server boot's accelerator part: API request groups, scheduler mapping, conductor
    create and bind, compute wait for the bind events, and Neutron's binding profile per port."""
    vm = step["instance"]
    extra_specs = {"accel:device_profile": step["flavor_profile"]} if step.get("flavor_profile") else {}
    instance = objects.Instance(
        uuid=vm, vm_state="building", task_state="spawning", flavor=objects.Flavor(extra_specs=extra_specs)
    )
    relay.instances[vm] = instance
    groups: list[objects.RequestGroup] = []
    if extra_specs:
        groups += cyborg.get_device_profile_request_groups(ctx, extra_specs["accel:device_profile"])
    networks = []
    cyclient = cyborg.get_client(ctx)
    for port in step.get("ports", []):
        dp_groups = cyclient.get_device_profile_groups(port["device_profile"])
        if cyborg.get_device_amount_of_dp_groups(dp_groups) > 1:
            raise exception.DeviceProfileError(
                name=port["device_profile"], msg="request multiple devices for single port."
            )
        groups += cyclient.get_device_request_groups(dp_groups, owner=port["port_id"])
        networks.append(
            objects.NetworkRequest(port_id=port["port_id"], device_profile=port["device_profile"])
        )
    # The scheduler: Placement gives each request group one provider.
    for group in groups:
        group.provider_uuids = [step["providers"][group.requester_id]]
    request_spec = objects.RequestSpec(requested_resources=groups)
    requested_networks = objects.NetworkRequestList(objects=networks)

    accel_uuids = Conductor()._create_and_bind_arq_for_instance(
        ctx, instance, plan["hostname"], request_spec, requested_networks
    )
    unresolved_reads = {
        "resolved": [a["uuid"] for a in cyclient.get_arqs_for_instance(vm, only_resolved=True)],
        "states": sorted(a["state"] for a in cyclient.get_arqs_for_instance(vm)),
    }
    emit(
        {
            "step": "boot",
            "phase": "bound",
            "instance": vm,
            "groups": [describe_group(g) for g in groups],
            "accel_uuids": sorted(accel_uuids),
            "arq_uuid_by_port": {n.port_id: n.arq_uuid for n in networks},
            "after_bind": unresolved_reads,
        }
    )
    compute = relay.compute
    try:
        arqs = compute._get_bound_arq_resources(ctx, instance, accel_uuids)
    except exception.InstanceEventTimeout:
        # nova-compute aborts the build and deletes the instance's ARQs.
        cyclient.delete_arqs_by_uuid(accel_uuids)
        return {"timed_out": True, "accel_uuids": sorted(accel_uuids)}
    spec_arqs, port_arqs = compute._split_network_arqs(arqs, requested_networks)
    profiles = {}
    for network in networks:
        body: dict[str, Any] = {"port": {"device_id": vm}}
        Neutron()._populate_neutron_binding_profile(
            instance, None, body, port_arq=port_arqs.get(network.arq_uuid)
        )
        profiles[network.port_id] = body["port"].get(neutron_constants.BINDING_PROFILE)
    return {
        "timed_out": False,
        "arqs": sorted(arqs, key=lambda a: a["uuid"]),
        "spec_arqs": sorted(spec_arqs),
        "port_arqs": sorted(port_arqs),
        "exited_early": sorted(compute.virtapi.exited_early),
        "binding_profiles": profiles,
    }


def run_step(
    ctx: nova_context.RequestContext, plan: dict[str, Any], step: dict[str, Any], relay: EventRelay
) -> Any:
    cyclient = cyborg.get_client(ctx)
    do = step["do"]
    if do == "request_groups":
        return request_groups(ctx, step)
    if do == "boot":
        return boot(ctx, plan, step, relay)
    if do == "arqs":
        return {
            "all": cyclient.get_arqs_for_instance(step["instance"]),
            "resolved": cyclient.get_arqs_for_instance(step["instance"], only_resolved=True),
        }
    if do == "arq":
        return cyclient.get_arq_by_uuid(step["uuid"])
    if do == "arq_uuids":
        instance = objects.Instance(uuid=step["instance"])
        return sorted(cyclient.get_arq_uuids_for_instance(instance))
    if do == "create_arqs":
        return cyclient.create_arqs(step["profile"])
    if do == "delete_instance":
        cyclient.delete_arqs_for_instance(step["instance"])
        return "deleted"
    if do == "delete_arqs":
        cyclient.delete_arqs_by_uuid(step["uuids"])
        return "requested"
    if do == "events":
        # Accord posts events after its commit, from the background: wait for `expect` of them.
        deadline = time.monotonic() + 30
        while len(relay.delivered) + len(relay.invalid) < step["expect"] and time.monotonic() < deadline:
            time.sleep(0.05)
        return {"delivered": relay.delivered, "invalid": relay.invalid}
    raise ValueError(f"unknown step {do!r}")


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    plan = json.load(sys.stdin)
    folder = tempfile.mkdtemp(prefix="nova-driver-")
    CONF(["--config-file", write_conf(plan["conf"], folder)], project="nova")
    objects.register_all()
    ctx = user_context(plan["user"])
    relay = EventRelay(plan["events_url"], Compute(), {})
    relay.start()
    for step in plan["steps"]:
        record: dict[str, Any] = {"step": step["do"], "phase": "done"}
        try:
            record["result"] = run_step(ctx, plan, step, relay)
        except exception.NovaException as exc:
            record["error"] = type(exc).__name__
            record["message"] = str(exc)
        emit(record)
    relay.stop.set()
    relay.join(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A tempest workspace for cyborg-tempest-plugin against Accord and a real Keystone, and its run.

Tempest (47, in `.venv-tempest`) reads `etc/tempest.conf`: identity at the Keystone harness's
`uri_v3`, the `accelerator` endpoint from that Keystone's catalog, pre-provisioned accounts from
the harness's users (`etc/accounts.yaml`), `[cyborg_policy] enforce_new_defaults = true` (so the
SRBAC tests run). `tempest run --config-file` writes `.stestr.conf` itself: no `tempest init`.

The plugin's API tests ask for these personas per class: primary, admin, project_admin,
project_manager, project_member, project_reader, a user with the `service` role and, for the
scope test, a system-scoped admin. Each account below is a distinct credential (tempest locks
accounts by their hash). The project personas must share one project, and tempest may hand
either admin account to `project_admin`, so both project admins are in project-a.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.keystone_server import REGION, USER_PASSWORD, KeystoneCloud

REPO = Path(__file__).resolve().parent.parent.parent
TEMPEST = REPO / ".venv-tempest" / "bin" / "tempest"
API_TESTS = "cyborg_tempest_plugin.tests.api"

TEMPEST_CONF = """\
[DEFAULT]
log_file = tempest.log

[oslo_concurrency]
lock_path = {lock_path}

[auth]
use_dynamic_credentials = false
test_accounts_file = {accounts}
default_credentials_domain_name = Default
create_isolated_networks = false

[identity]
auth_version = v3
uri_v3 = {uri_v3}
region = {region}
disable_ssl_certificate_validation = true

[identity-feature-enabled]
api_v2 = false

[service_available]
cyborg = true
nova = false
glance = false
neutron = false
cinder = false
swift = false
horizon = false

[cyborg_policy]
enforce_new_defaults = true
"""


SECOND_ADMIN = "tempest-a-admin2"


def add_second_admin(keystone: KeystoneCloud) -> None:
    """Tempest's `admin` and `project_admin` are two accounts, and the project personas (admin,
    manager, member, reader) must share one project: a second admin of project-a, made through
    Keystone's own API (idempotent, the session's Keystone is shared)."""
    with keystone.admin_api() as api:
        found = api.get("/users", params={"name": SECOND_ADMIN}).json()["users"]
        if found:
            return
        user = {"name": SECOND_ADMIN, "password": USER_PASSWORD, "domain_id": "default"}
        created = api.post("/users", json={"user": user})
        created.raise_for_status()
        user_id = created.json()["user"]["id"]
        (role,) = api.get("/roles", params={"name": "admin"}).json()["roles"]
        project = keystone.project_ids["project-a"]
        api.put(f"/projects/{project}/users/{user_id}/roles/{role['id']}").raise_for_status()


def accounts_yaml(keystone: KeystoneCloud) -> str:
    """The harness's users as tempest accounts: (user, project or system, roles tempest matches)."""
    accounts = [
        ("a-admin", "project_name: project-a", ["admin"]),
        (SECOND_ADMIN, "project_name: project-a", ["admin"]),
        ("b-member", "project_name: project-b", []),  # primary
        ("a-manager", "project_name: project-a", ["manager"]),
        ("a-member", "project_name: project-a", ["member"]),
        ("a-reader", "project_name: project-a", ["reader"]),
        ("nova", "project_name: service", ["service"]),
        ("admin", "system: all", ["admin"]),
    ]
    lines = []
    for name, scope, roles in accounts:
        password = keystone.users[name].password if name in keystone.users else USER_PASSWORD
        lines += [f"- username: {name}", f"  {scope}", f"  password: {password}"]
        if roles:
            lines.append(f"  roles: [{', '.join(roles)}]")
    return "\n".join(lines) + "\n"


def accord_keystone_config(path: Path, keystone: KeystoneCloud) -> Path:
    """Accord's TOML for keystone mode: `[keystone_authtoken]` as the harness's `accord` user."""
    lines = ["[accord]", 'auth = "keystone"', "", "[keystone_authtoken]"]
    # JSON's booleans, strings and lists of strings are TOML's too.
    lines += [f"{key} = {json.dumps(value)}" for key, value in keystone.authtoken_options().items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_workspace(folder: Path, keystone: KeystoneCloud) -> Path:
    add_second_admin(keystone)
    etc = folder / "etc"
    etc.mkdir(parents=True)
    (etc / "accounts.yaml").write_text(accounts_yaml(keystone))
    (etc / "tempest.conf").write_text(
        TEMPEST_CONF.format(
            lock_path=folder / "tempest_lock",
            accounts=etc / "accounts.yaml",
            uri_v3=keystone.identity_url,
            region=REGION,
        )
    )
    return etc / "tempest.conf"


# `{0} cyborg_tempest_plugin.tests.api.test_x.Class.test_y[id-…,negative] [0.12s] ... ok`
# or `{0} setUpClass (cyborg_tempest_plugin.tests.api.test_x.Class) [0.0s] ... FAILED`.
RESULT_LINE = re.compile(
    r"^\{\d+\} (?P<test>[\w.]+(?: \([\w.]+\))?)(?:\[[^\]]*\])?(?: \[[\d.]+s\])? \.\.\. (?P<outcome>\w+)"
)


@dataclass
class TempestRun:
    returncode: int
    output: str
    outcomes: dict[str, str] = field(default_factory=dict)  # test id -> ok | FAILED | SKIPPED

    def tally(self) -> dict[str, int]:
        values = list(self.outcomes.values())
        return {
            "ran": len(values),
            "passed": values.count("ok"),
            "failed": values.count("FAILED"),
            "skipped": values.count("SKIPPED"),
        }

    def with_outcome(self, outcome: str) -> list[str]:
        return sorted(test for test, result in self.outcomes.items() if result == outcome)


def run_tempest(folder: Path, config: Path, regex: str = API_TESTS, timeout_s: float = 900) -> TempestRun:
    if not TEMPEST.exists():
        raise RuntimeError(f"{TEMPEST} is missing: run `make tempest` at the repository root first")
    completed = subprocess.run(
        [str(TEMPEST), "run", "--config-file", str(config), "--concurrency", "1", "--regex", regex],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    output = completed.stdout + completed.stderr
    (folder / "run.txt").write_text(output)
    run = TempestRun(completed.returncode, output)
    for line in output.splitlines():
        match = RESULT_LINE.match(line)
        if match:
            run.outcomes[match["test"]] = match["outcome"]
    return run

"""A real OpenStack Keystone (keystone 30.0) on a free loopback port, with a small cloud in it.

Keystone runs from its own venv, `.venv-keystone` (`make keystone` builds it), under gunicorn, on
SQLite, with fernet tokens. `keystone_cloud(tmp_dir)` sets it up from scratch: `keystone-manage
fernet_setup`, `credential_setup`, `db_sync`, `bootstrap` (user `admin` with the `admin` role on
project `admin` and on the system, region `RegionOne`, identity endpoints), then creates through
Keystone's own API the users below and the `accelerator` service.

Interface (stable: the `openstack` helper's tests use it too):

- `keystone_cloud(tmp_dir, accord_url=None, port=None, expiration_s=3600)` → context manager
  yielding a running `KeystoneCloud`; `keystone` is the session-scoped pytest fixture around it
  (import it into a conftest: `from tests.keystone_server import keystone  # noqa: F401`).
- `KeystoneCloud.url` (`http://127.0.0.1:PORT`), `.identity_url` (`…/v3`, the `auth_url`),
  `.users` (name → `User`), `.project_ids` (name → id), `.domain_ids` (name → id).
- `KeystoneCloud.token(user, scope="project", project=None, domain=None)` → a token string;
  scope `project` (the user's home project unless `project=` names another), `system`
  (system-scoped, `all`), `domain` (the user's domain unless `domain=`), or `unscoped`.
  Tokens are cached per (user, scope, target); `fresh=True` issues a new one.
- `KeystoneCloud.issue(…)` same arguments, never cached; `.revoke(token)`;
  `.validate(token)` → Keystone's status code for `GET /v3/auth/tokens`.
- `KeystoneCloud.register_accelerator(url)`: the `accelerator` service's public, internal and
  admin endpoints point at `url` (an Accord) from now on.
- `KeystoneCloud.authtoken_options(**overrides)` → a `[keystone_authtoken]` table (dict) for
  Accord's TOML config, as the `accord` service user.
- `KeystoneCloud.admin_api()` → an httpx client on Keystone with a system-scoped admin token.
- `KeystoneCloud.stop()` / `.start()`: restart on the same port with the data intact.
- `KeystoneCloud.short_lived_issuer(expiration_s)` → context manager: a second Keystone process
  on the same database and fernet keys whose tokens expire after `expiration_s` (the main
  Keystone accepts them and later rejects them as expired).

Users (password `USER_PASSWORD`, domain `Default` unless said): `admin` (bootstrap, admin on
project `admin` and on the system), `a-admin` / `a-manager` / `a-member` / `a-reader` with that
role on `project-a`, `b-member` (member of `project-b`), `nova` and `accord` (role `service` on
project `service`), `other-admin` in domain `other` (admin on that domain and member of its
project `other-project`). Keystone's implied roles apply: admin ⊃ manager ⊃ member ⊃ reader.

Learned by running it: `keystone.wsgi.api` parses `sys.argv` with oslo.config and exits on
gunicorn's own arguments, so gunicorn loads a two-line shim that clears them first; tokens carry
the implied roles (a member's token lists `member` and `reader`); setup takes ~15 s, a token
~0.2 s, a restart ~3 s.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from tests.gunicorn_server import GunicornService, require_venv
from tests.live_server import free_port

REPO = Path(__file__).resolve().parent.parent
KEYSTONE_VENV = REPO / ".venv-keystone"
KEYSTONE_BIN = KEYSTONE_VENV / "bin"
# keystone.wsgi.api parses sys.argv with oslo.config and chokes on gunicorn's arguments: a shim
# module clears them before importing it.
WSGI_SHIM = "accord_keystone_wsgi"
WSGI_SHIM_SOURCE = (
    "import sys\n\nsys.argv = sys.argv[:1]\nfrom keystone.wsgi.api import application  # noqa: E402\n"
)
ADMIN_PASSWORD = "admin-secret"
USER_PASSWORD = "user-secret"
REGION = "RegionOne"

CONFIG = """\
[DEFAULT]
debug = false

[database]
connection = sqlite:///{db_path}

[token]
provider = fernet
expiration = {expiration_s}

[fernet_tokens]
key_repository = {keys}

[fernet_receipts]
key_repository = {keys}

[credential]
key_repository = {credential_keys}

[identity]
password_hash_rounds = 4

[cache]
enabled = false
"""


@dataclass(frozen=True)
class User:
    name: str
    project: str | None  # home project (for project-scoped tokens)
    domain: str = "Default"
    password: str = USER_PASSWORD


USERS = [
    User("a-admin", "project-a"),
    User("a-manager", "project-a"),
    User("a-member", "project-a"),
    User("a-reader", "project-a"),
    User("b-member", "project-b"),
    User("nova", "service"),
    User("accord", "service"),
    User("other-admin", "other-project", domain="other"),
]
# (user, role, project or None, domain or None): assignments made after bootstrap.
ASSIGNMENTS = [
    ("a-admin", "admin", "project-a", None),
    ("a-manager", "manager", "project-a", None),
    ("a-member", "member", "project-a", None),
    ("a-reader", "reader", "project-a", None),
    ("b-member", "member", "project-b", None),
    ("nova", "service", "service", None),
    ("accord", "service", "service", None),
    ("other-admin", "admin", None, "other"),
    ("other-admin", "member", "other-project", None),
]
PROJECTS = [
    ("project-a", "Default"),
    ("project-b", "Default"),
    ("service", "Default"),
    ("other-project", "other"),
]


def _require_venv() -> None:
    require_venv("Keystone", "keystone", [KEYSTONE_BIN / "gunicorn", KEYSTONE_BIN / "keystone-manage"])


@dataclass
class KeystoneProcess(GunicornService):
    """One gunicorn serving Keystone with the given config file."""

    what: ClassVar[str] = "Keystone"
    health_path: ClassVar[str] = "/v3"
    config_file: Path = Path()

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "OS_KEYSTONE_CONFIG_FILES": str(self.config_file)}

    def gunicorn(self) -> Path:
        return KEYSTONE_BIN / "gunicorn"

    def app_args(self) -> list[str]:
        return ["--pythonpath", str(self.config_file.parent), f"{WSGI_SHIM}:application"]


def _manage(config_file: Path, *args: str) -> None:
    result = subprocess.run(
        [str(KEYSTONE_BIN / "keystone-manage"), "--config-file", str(config_file), *args],
        env={**os.environ, "OS_KEYSTONE_CONFIG_FILES": str(config_file)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"keystone-manage {args[0]} failed with {result.returncode}:\n{result.stdout}{result.stderr}"
        )


def _write_config(tmp_dir: Path, name: str, expiration_s: int) -> Path:
    (tmp_dir / f"{WSGI_SHIM}.py").write_text(WSGI_SHIM_SOURCE)
    config_file = tmp_dir / name
    config_file.write_text(
        CONFIG.format(
            db_path=tmp_dir / "keystone.sqlite",
            expiration_s=expiration_s,
            keys=tmp_dir / "fernet-keys",
            credential_keys=tmp_dir / "credential-keys",
        )
    )
    return config_file


@dataclass
class KeystoneCloud:
    server: KeystoneProcess
    tmp_dir: Path
    users: dict[str, User] = field(default_factory=dict)
    project_ids: dict[str, str] = field(default_factory=dict)
    domain_ids: dict[str, str] = field(default_factory=dict)
    _tokens: dict[tuple[str, str, str | None], str] = field(default_factory=dict, repr=False)
    _admin_token: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def identity_url(self) -> str:
        return self.server.url + "/v3"

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def log(self) -> str:
        return self.server.log_path.read_text(errors="replace")

    # Tokens -----------------------------------------------------------------------------------

    def _scope(
        self, user: User, scope: str, project: str | None, domain: str | None
    ) -> dict[str, Any] | None:
        if scope == "project":
            name = project or user.project
            if name is None:
                raise ValueError(f"user {user.name} has no home project: pass project=")
            return {"project": {"id": self.project_ids[name]}}
        if scope == "system":
            return {"system": {"all": True}}
        if scope == "domain":
            return {"domain": {"id": self.domain_ids[domain or user.domain]}}
        if scope == "unscoped":
            return None
        raise ValueError(f"unknown scope {scope!r}")

    def issue(
        self,
        user: str,
        scope: str = "project",
        project: str | None = None,
        domain: str | None = None,
        base_url: str | None = None,
    ) -> str:
        """A new token for `user` (never cached). `base_url`: ask another Keystone process."""
        who = self.users[user]
        body: dict[str, Any] = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": who.name,
                            "domain": {"id": self.domain_ids[who.domain]},
                            "password": who.password,
                        }
                    },
                }
            }
        }
        scoped = self._scope(who, scope, project, domain)
        if scoped is not None:
            body["auth"]["scope"] = scoped
        response = httpx.post((base_url or self.url) + "/v3/auth/tokens?nocatalog", json=body, timeout=30)
        if response.status_code != 201:
            raise RuntimeError(f"Keystone refused a token for {user} ({scope}): {response.text}")
        return response.headers["X-Subject-Token"]

    def token(
        self,
        user: str,
        scope: str = "project",
        project: str | None = None,
        domain: str | None = None,
        fresh: bool = False,
    ) -> str:
        key = (user, scope, project or domain)
        if fresh or key not in self._tokens:
            self._tokens[key] = self.issue(user, scope, project, domain)
        return self._tokens[key]

    def admin_token(self) -> str:
        if self._admin_token is None:
            self._admin_token = self.issue("admin", "system")
        return self._admin_token

    def admin_api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.identity_url, headers={"X-Auth-Token": self.admin_token()}, timeout=30
        )

    def revoke(self, token: str) -> None:
        with self.admin_api() as api:
            response = api.delete("/auth/tokens", headers={"X-Subject-Token": token})
        if response.status_code != 204:
            raise RuntimeError(f"Keystone did not revoke the token: {response.status_code} {response.text}")
        self._tokens = {k: v for k, v in self._tokens.items() if v != token}

    def validate(self, token: str) -> int:
        with self.admin_api() as api:
            return api.get("/auth/tokens", headers={"X-Subject-Token": token}).status_code

    # Catalog and config -----------------------------------------------------------------------

    def register_accelerator(self, url: str) -> None:
        """Point the `accelerator` service's endpoints at `url` (created on first use)."""
        with self.admin_api() as api:
            services = api.get("/services", params={"type": "accelerator"}).json()["services"]
            if services:
                service_id = services[0]["id"]
            else:
                created = api.post(
                    "/services",
                    json={"service": {"type": "accelerator", "name": "accord", "description": "Accord"}},
                )
                created.raise_for_status()
                service_id = created.json()["service"]["id"]
            endpoints = api.get("/endpoints", params={"service_id": service_id}).json()["endpoints"]
            existing = {e["interface"]: e["id"] for e in endpoints}
            for interface in ("public", "internal", "admin"):
                endpoint = {"service_id": service_id, "interface": interface, "url": url, "region_id": REGION}
                if interface in existing:
                    done = api.patch(f"/endpoints/{existing[interface]}", json={"endpoint": endpoint})
                else:
                    done = api.post("/endpoints", json={"endpoint": endpoint})
                done.raise_for_status()

    def authtoken_options(self, **overrides: Any) -> dict[str, Any]:
        """A `[keystone_authtoken]` table for Accord, authenticating as the `accord` user."""
        options: dict[str, Any] = {
            "www_authenticate_uri": self.identity_url,
            "auth_url": self.identity_url,
            "auth_type": "password",
            "username": "accord",
            "password": USER_PASSWORD,
            "project_name": "service",
            "user_domain_name": "Default",
            "project_domain_name": "Default",
            "service_token_roles": ["service"],
            "service_token_roles_required": True,
        }
        options.update(overrides)
        return options

    @contextmanager
    def short_lived_issuer(self, expiration_s: int) -> Iterator[KeystoneProcess]:
        """Another Keystone on the same data and keys whose tokens expire after `expiration_s`;
        `issue(..., base_url=issuer.url)` gets one."""
        config_file = _write_config(self.tmp_dir, f"keystone-{expiration_s}s.conf", expiration_s)
        issuer = KeystoneProcess(
            free_port(), self.tmp_dir / f"keystone-{expiration_s}s.log", config_file=config_file
        )
        issuer.start()
        try:
            yield issuer
        finally:
            issuer.stop()

    # Setup ------------------------------------------------------------------------------------

    def _populate(self) -> None:
        self.users["admin"] = User("admin", "admin", password=ADMIN_PASSWORD)
        self.domain_ids["Default"] = "default"
        with self.admin_api() as api:

            def create(path: str, key: str, body: dict[str, Any]) -> str:
                response = api.post(path, json={key: body})
                if response.status_code != 201:
                    raise RuntimeError(
                        f"Keystone refused POST {path}: {response.status_code} {response.text}"
                    )
                return str(response.json()[key]["id"])

            self.domain_ids["other"] = create("/domains", "domain", {"name": "other"})
            self.project_ids["admin"] = api.get("/projects", params={"name": "admin"}).json()["projects"][0][
                "id"
            ]
            for name, domain in PROJECTS:
                self.project_ids[name] = create(
                    "/projects", "project", {"name": name, "domain_id": self.domain_ids[domain]}
                )
            roles = {r["name"]: r["id"] for r in api.get("/roles").json()["roles"]}
            user_ids = {}
            for user in USERS:
                user_ids[user.name] = create(
                    "/users",
                    "user",
                    {"name": user.name, "password": user.password, "domain_id": self.domain_ids[user.domain]},
                )
                self.users[user.name] = user
            for user_name, role, project, domain in ASSIGNMENTS:
                target = (
                    f"/projects/{self.project_ids[project]}"
                    if project
                    else f"/domains/{self.domain_ids[domain]}"
                )
                response = api.put(f"{target}/users/{user_ids[user_name]}/roles/{roles[role]}")
                if response.status_code != 204:
                    raise RuntimeError(f"Keystone refused role {role} for {user_name}: {response.text}")


@contextmanager
def keystone_cloud(
    tmp_dir: Path, accord_url: str | None = None, port: int | None = None, expiration_s: int = 3600
) -> Iterator[KeystoneCloud]:
    """A running Keystone whose config, keys, SQLite database and log live in `tmp_dir`."""
    _require_venv()
    tmp_dir.mkdir(parents=True, exist_ok=True)
    config_file = _write_config(tmp_dir, "keystone.conf", expiration_s)
    port = port or free_port()
    uid, gid = str(os.getuid()), str(os.getgid())
    for setup in ("fernet_setup", "credential_setup"):
        _manage(config_file, setup, "--keystone-user", uid, "--keystone-group", gid)
    _manage(config_file, "db_sync")
    identity = f"http://127.0.0.1:{port}/v3"
    _manage(
        config_file,
        "bootstrap",
        "--bootstrap-password",
        ADMIN_PASSWORD,
        "--bootstrap-admin-url",
        identity,
        "--bootstrap-internal-url",
        identity,
        "--bootstrap-public-url",
        identity,
        "--bootstrap-region-id",
        REGION,
    )
    cloud = KeystoneCloud(KeystoneProcess(port, tmp_dir / "keystone.log", config_file=config_file), tmp_dir)
    try:
        cloud.start()
        cloud._populate()
        if accord_url:
            cloud.register_accelerator(accord_url)
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture(scope="session")
def keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeystoneCloud]:
    """One real Keystone for the whole test session (see the module docstring)."""
    with keystone_cloud(tmp_path_factory.mktemp("keystone")) as cloud:
        yield cloud

"""[keystone_authtoken] and [oslo_policy] tables in the TOML file given to --config."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.config import ConfigError, load_settings

KEYSTONE = """\
[accord]
auth = "keystone"

[keystone_authtoken]
www_authenticate_uri = "http://keystone.example/v3"
auth_url = "http://keystone.internal/v3"
auth_type = "password"
username = "accord"
password = "secret"
project_name = "service"
user_domain_name = "Default"
project_domain_name = "Default"
service_token_roles = "service, admin"
service_token_roles_required = "false"
memcached_servers = ["127.0.0.1:11211"]
token_cache_time = 60
"""


def test_keystone_options_use_keystonemiddleware_names_and_types(tmp_path: Path) -> None:
    config = tmp_path / "accord.toml"
    config.write_text(KEYSTONE)
    options = load_settings(env={}, config_file=config).keystone_authtoken
    assert options.auth_url == "http://keystone.internal/v3"
    assert options.www_authenticate_uri == "http://keystone.example/v3"
    assert options.service_token_roles == ("service", "admin")  # oslo's comma-separated lists
    assert options.service_token_roles_required is False
    assert options.memcached_servers == ("127.0.0.1:11211",)  # or TOML lists
    assert options.token_cache_time == 60
    assert options.interface == "internal"  # keystonemiddleware's default


def test_keystonemiddleware_defaults_apply(tmp_path: Path) -> None:
    config = tmp_path / "accord.toml"
    config.write_text(
        KEYSTONE.replace('service_token_roles = "service, admin"\n', "").replace(
            'service_token_roles_required = "false"\n', ""
        )
    )
    options = load_settings(env={}, config_file=config).keystone_authtoken
    assert options.service_token_roles == ("service",)
    assert options.service_token_roles_required is True


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('password = "secret"\n', ""), "needs \\[keystone_authtoken\\] password"),
        (('auth_type = "password"', 'auth_type = "v3oidcpassword"'), "not supported"),
        (("token_cache_time = 60", 'token_cache_time = "soon"'), "integer"),
        (("token_cache_time = 60", 'admin_token = "x"'), "does not use: admin_token"),
    ],
)
def test_unusable_keystone_options_are_config_errors(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    config = tmp_path / "accord.toml"
    config.write_text(KEYSTONE.replace(*edit))
    with pytest.raises(ConfigError, match=message):
        load_settings(env={}, config_file=config)


def test_keystone_mode_without_the_table_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="auth_url"):
        load_settings(env={"ACCORD_AUTH": "keystone"})


def test_policy_file_from_oslo_policy_is_relative_to_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "accord.toml"
    config.parent.mkdir()
    config.write_text('[oslo_policy]\npolicy_file = "policy.yaml"\nenforce_scope = true\n')
    assert load_settings(env={}, config_file=config).policy_file == str(tmp_path / "etc" / "policy.yaml")
    # ACCORD_POLICY_FILE wins over the file.
    assert load_settings(env={"ACCORD_POLICY_FILE": "/p.yaml"}, config_file=config).policy_file == "/p.yaml"


@pytest.mark.parametrize("option", ["enforce_scope", "enforce_new_defaults"])
def test_scope_and_new_defaults_cannot_be_turned_off(tmp_path: Path, option: str) -> None:
    config = tmp_path / "accord.toml"
    config.write_text(f"[oslo_policy]\n{option} = false\n")
    with pytest.raises(ConfigError, match="cannot be turned off"):
        load_settings(env={}, config_file=config)

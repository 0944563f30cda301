"""Keystone-mode tests share one real Keystone per session (tests/keystone_server.py)."""

from tests.keystone_server import keystone  # noqa: F401

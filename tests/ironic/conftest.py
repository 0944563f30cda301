"""The IPA tests drive a ramdisk's code against a live server: one database backend is enough for
them (PostgreSQL, as in production); the store-level rules they rely on (enrolment, the node's own
operations, `in use`) run on both backends in tests/api/test_bare_metal_hosts.py."""

from __future__ import annotations

import pytest


@pytest.fixture
def backend() -> str:
    return "postgresql"

"""Keystone token validation for `ACCORD_AUTH=keystone`: keystoneauth1 as the service user
(`GET /v3/auth/tokens`), with a bounded, expiry-aware cache in the process.

Hosting keystonemiddleware's WSGI `auth_token` in the ASGI server was measured and costs too
much for a cached token (docs/benchmarks.md, "Keystone mode"); this package does the same job
with the same `[keystone_authtoken]` options. Imported only in keystone mode.
"""

"""`GET /healthz` and `GET /readyz` for load balancers and orchestrators: no authentication,
one cheap query at most.

healthz says the process answers (it touches nothing); readyz says this replica can serve:
the database answers and holds the schema revision this code expects.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from accord.api.state import app_state
from accord.domain.errors import ServiceUnavailable
from accord.store.schema_version import database_revision, head_revision


def healthz() -> dict[str, Any]:
    return {"status": "ok"}


def readyz(request: Request) -> dict[str, Any]:
    expected = head_revision()
    # A database that cannot be reached raises here and is answered 503 by the error mapping.
    with app_state(request).db.read() as session:
        current = database_revision(session)
    if current != expected:
        raise ServiceUnavailable(
            f"The database schema is at revision {current or 'none'}, this server needs {expected}: "
            "run `accord db upgrade`."
        )
    return {"status": "ready", "schema_revision": current}

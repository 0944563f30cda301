"""Handlers' results straight to JSON responses.

FastAPI would validate a handler's `Any` result against a response field in a worker thread and
serialise it afterwards; for plain dicts that is a second thread hop per request and no check at
all. `json_endpoint` renders the result itself with the same serialiser (pydantic-core), so the
bodies are byte for byte what FastAPI produced, and the route's OpenAPI stays as it was (the
wrapper keeps the handler's signature and annotations).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from pydantic_core import to_json
from starlette.responses import Response


class JSONBody(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return to_json(content)


def _respond(result: Any, status: int) -> Any:
    if isinstance(result, Response):
        return result
    return JSONBody(result, status_code=status)


def responder(status: int) -> Callable[[Any], Response]:
    """How `json_endpoint` turns a handler's result into its response, for the dispatcher."""
    return functools.partial(_respond, status=status)


def json_endpoint(handler: Callable[..., Any], status: int) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def async_endpoint(*args: Any, **kwargs: Any) -> Any:
            return _respond(await handler(*args, **kwargs), status)

        return async_endpoint

    @functools.wraps(handler)
    def endpoint(*args: Any, **kwargs: Any) -> Any:
        return _respond(handler(*args, **kwargs), status)

    return endpoint

"""/openapi.json: FastAPI's document, with each body described by the model that parses it (named
in the route table) and Cyborg's error shape in place of the framework's 422."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, TypeAdapter
from starlette.routing import BaseRoute

REF = "#/components/schemas/{model}"
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error_message": {"type": "string"}},
    "required": ["error_message"],
}
ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
ERROR_STATUSES = {
    "400": "Invalid input",
    "401": "Not authenticated",
    "403": "Not allowed",
    "404": "Not found",
    "406": "Microversion not acceptable",
    "503": "The database (or Keystone) cannot be reached; try again",
}


def install_openapi(
    app: FastAPI,
    bodies: dict[tuple[str, str], type[BaseModel]],
    documented_routes: Callable[[], Sequence[BaseRoute]] | None = None,
) -> None:
    """`documented_routes`: the routes to describe, built when the document is first asked for
    (the serving routes carry no response models)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        routes = list(documented_routes()) if documented_routes is not None else app.routes
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=routes)
        components = spec.setdefault("components", {}).setdefault("schemas", {})
        for (method, path), model in bodies.items():
            schema = TypeAdapter(model).json_schema(ref_template=REF)
            components.update(schema.pop("$defs", {}))
            components[model.__name__] = schema
            operation = spec["paths"][path][method.lower()]
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}},
            }
        components["Error"] = ERROR_SCHEMA
        for operations in spec["paths"].values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                for status, text in ERROR_STATUSES.items():
                    responses.setdefault(status, {"description": text, "content": ERROR_CONTENT})
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]

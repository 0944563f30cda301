"""Every request body is described in /openapi.json by the model that parses it: a handler that
takes a body must name its model in the route table, and the document must show that model."""

from __future__ import annotations

import inspect

from fastapi.testclient import TestClient

from accord.api.app import ROUTES


def test_every_handler_with_a_body_names_its_model_and_the_document_shows_it(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    takes_body = [r for r in ROUTES if "body" in inspect.signature(r.handler).parameters]
    assert takes_body, "no handler takes a body?"
    for route in takes_body:
        assert route.body is not None, f"{route.method} {route.path} parses a body but names no model"
        operation = spec["paths"][route.path][route.method.lower()]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/{route.body.__name__}"
        assert route.body.__name__ in spec["components"]["schemas"]
        assert "422" not in operation["responses"]
        assert operation["responses"]["400"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }

"""A lean way into the route table's handlers, in front of FastAPI's router.

FastAPI resolves each handler's parameters per request by walking a dependency tree
(`solve_dependencies`): about half the framework's CPU per request. Accord's handlers take only
a few kinds of parameters, so each route's plan is worked out once, at start-up, from the
handler's signature: the request, `str` path parameters, `str | None = None` query parameters,
a `Body(None)` JSON body, and the request-only dependencies (`context`, `microversion`). A route
whose handler takes anything else, and every request that does not fully match a route (404,
405, lifespan), goes on to FastAPI's router unchanged.

What a planned route does matches FastAPI's handling of the same signature: the body is read
first (JSON only for a JSON content type; a malformed one is the same RequestValidationError),
then the dependencies in declaration order, then the query and path parameters; sync handlers
run in the worker-thread pool; failures reach the same exception handlers (this sits where the
router sat, inside FastAPI's exception middleware). OpenAPI is built from its own copy of the
route table (`api/openapi.py`) and does not see this.
"""

from __future__ import annotations

import email.message
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

from fastapi import params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette._utils import get_route_path, is_async_callable
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Router

from accord.api.middleware import ASGIApp, Receive, Scope, Send

Respond = Callable[[Any], Response]
# How one parameter gets its value: from the request, the parsed body, or a dependency.
Getter = Callable[[Request, Any], Awaitable[Any] | Any]


class Unplannable(Exception):
    """The handler takes a parameter this module does not resolve: FastAPI keeps the route."""


def _is_json(content_type: str) -> bool:
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


async def read_body(request: Request) -> Any:
    """FastAPI's reading of a `Body(None)` parameter (strict content type, its default)."""
    try:
        raw = await request.body()
        if not raw:
            return None
        content_type = request.headers.get("content-type")
        if content_type and _is_json(content_type):
            return json.loads(raw)
        return raw
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ],
            body=exc.doc,
        ) from exc
    except HTTPException:
        raise
    except Exception as exc:
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc


class Plan:
    """One route's handler with its parameters resolved in FastAPI's order."""

    def __init__(
        self, route: APIRoute, handler: Callable[..., Any], respond: Callable[[Any], Response]
    ) -> None:
        self.route = route
        self.handler = handler
        self.respond = respond
        self.is_async = inspect.iscoroutinefunction(handler)
        self.takes_body = False
        self.dependencies: list[tuple[str, Callable[[Request], Awaitable[Any]]]] = []
        self.plain: list[tuple[str, str]] = []  # (name, where): "request" | "path" | "query"
        signature = inspect.signature(handler, eval_str=True)
        path_names = set(route.param_convertors)
        for name, parameter in signature.parameters.items():
            default = parameter.default
            if parameter.annotation is Request:
                self.plain.append((name, "request"))
            elif isinstance(default, params.Depends):
                dependency = default.dependency
                if dependency is None or not _request_only(dependency):
                    raise Unplannable(name)
                self.dependencies.append((name, dependency))
            elif isinstance(default, params.Body):
                if default.default is not None or default.embed or parameter.annotation is not Any:
                    raise Unplannable(name)
                self.takes_body = True
                self.body_name = name
            elif name in path_names and parameter.annotation is str:
                if route.param_convertors[name].regex != "[^/]+":
                    raise Unplannable(name)
                self.plain.append((name, "path"))
            elif default is None and parameter.annotation == str | None:
                self.plain.append((name, "query"))
            else:
                raise Unplannable(name)

    async def run(self, request: Request) -> Response:
        """The handler's response, not yet sent."""
        arguments: dict[str, Any] = {}
        if self.takes_body:
            arguments[self.body_name] = await read_body(request)
        for name, dependency in self.dependencies:
            arguments[name] = await dependency(request)
        if self.plain:
            path_params = request.scope["path_params"]
            for name, where in self.plain:
                if where == "request":
                    arguments[name] = request
                elif where == "path":
                    arguments[name] = path_params[name]
                else:
                    arguments[name] = request.query_params.get(name)
        if self.is_async:
            result = await self.handler(**arguments)
        else:
            result = await run_in_threadpool(self.handler, **arguments)
        return self.respond(result)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.run(Request(scope, receive, send))
        await response(scope, receive, send)


def _request_only(dependency: Callable[..., Any]) -> bool:
    """An async dependency whose only parameter is the request (`context`, `microversion`)."""
    if not inspect.iscoroutinefunction(dependency):
        return False
    parameters = list(inspect.signature(dependency, eval_str=True).parameters.values())
    return len(parameters) == 1 and parameters[0].annotation is Request


class Dispatcher:
    """Finds the first route that fully matches, as Starlette's router does, and runs its plan.

    Two ways in: as the router's app (`__call__`, inside FastAPI's exception middleware), and
    `respond`, called by Accord's middleware before FastAPI's inner layers, which maps a
    handler's exception to its response with the app's own exception handlers, as the
    exception middleware would (an exception without a handler goes on up to the server-error
    middleware, as before)."""

    def __init__(
        self,
        fallback: ASGIApp,
        router: Router,
        plans: dict[int, Plan],
        exception_handlers: Mapping[Any, Callable[..., Any]] | None = None,
    ) -> None:
        self.fallback = fallback
        self.router = router
        self._exception_handlers = exception_handlers or {}
        self._errors: ExceptionMiddleware | None = None
        # Per method, the routes in table order; a path without parameters is also found in one
        # dictionary look-up, unless an earlier route with parameters would match it first.
        self.ordered: dict[str, list[tuple[re.Pattern[str], APIRoute, Plan | None]]] = {}
        self.exact: dict[tuple[str, str], tuple[APIRoute, Plan | None]] = {}
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            plan = plans.get(id(route))
            for method in route.methods or ():
                earlier = self.ordered.setdefault(method, [])
                if not route.param_convertors and not any(r.match(route.path) for r, _, _ in earlier):
                    self.exact.setdefault((method, route.path), (route, plan))
                earlier.append((route.path_regex, route, plan))

    def _match(self, method: str, path: str) -> tuple[APIRoute, Plan | None, dict[str, Any]] | None:
        found = self.exact.get((method, path))
        if found is not None:
            return found[0], found[1], {}
        for regex, route, plan in self.ordered.get(method, ()):
            match = regex.match(path)
            if match is not None:
                return route, plan, match.groupdict()
        return None

    def _enter(self, scope: Scope) -> Plan | None:
        """The plan of the route this request fully matches, with the scope filled in as
        Starlette's router fills it; None when no planned route matches."""
        matched = self._match(scope["method"], get_route_path(scope))
        if matched is None or matched[1] is None:
            return None
        route, plan, path_params = matched
        scope["endpoint"] = route.endpoint
        scope["path_params"] = {**scope.get("path_params", {}), **path_params}
        scope["route"] = route
        scope.setdefault("router", self.router)
        return plan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            plan = self._enter(scope)
            if plan is not None:
                await plan(scope, receive, send)
                return
        await self.fallback(scope, receive, send)

    async def respond(self, scope: Scope, receive: Receive, send: Send) -> Response | None:
        plan = self._enter(scope)
        if plan is None:
            return None
        request = Request(scope, receive, send)
        try:
            return await plan.run(request)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            if is_async_callable(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
            exc.__traceback__ = None  # as Starlette does: a reused exception keeps no tracebacks
            return cast(Response, response)

    def _handler(self, exc: Exception) -> Callable[..., Any] | None:
        """The handler FastAPI's exception middleware would choose (500/Exception excepted:
        those belong to the server-error middleware)."""
        if self._errors is None:
            handlers = {k: v for k, v in self._exception_handlers.items() if k not in (500, Exception)}
            self._errors = ExceptionMiddleware(self.fallback, handlers=handlers)
        handler = None
        if isinstance(exc, HTTPException):
            handler = self._errors._status_handlers.get(exc.status_code)
        if handler is None:
            for cls in type(exc).__mro__:
                if cls in self._errors._exception_handlers:
                    return self._errors._exception_handlers[cls]
        return handler


def plan_routes(
    routes: Sequence[BaseRoute], handlers: dict[str, Callable[..., Any]], respond: dict[str, Respond]
) -> dict[int, Plan]:
    """Plans for the routes named in `handlers` (by route name) whose signatures allow one."""
    plans: dict[int, Plan] = {}
    for route in routes:
        if isinstance(route, APIRoute) and route.name in handlers:
            try:
                plans[id(route)] = Plan(route, handlers[route.name], respond[route.name])
            except Unplannable:
                continue
    return plans

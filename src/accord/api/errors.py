"""One place that turns every failure into Cyborg's error body `{"error_message": "..."}`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from accord.domain.errors import AccordError, Locked
from accord.store.db import database_unavailable

log = logging.getLogger(__name__)

HTTP_MESSAGES = {
    404: "The resource could not be found.",
    405: "The method is not allowed for this resource.",
    413: "The request body is too large.",
}
DATABASE_UNAVAILABLE = "The database cannot be reached right now; nothing was changed. Try again."
RETRY_AFTER_S = "5"


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error_message": message}, status_code=status)


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        if error.get("type") == "json_invalid":
            return "The request body is not valid JSON."
        parts.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AccordError)
    async def _domain(_request: Request, exc: AccordError) -> Response:
        if isinstance(exc, Locked):
            # Cyborg answers 423 with an empty body; Accord adds the reason (clients ignore it).
            return error_response(423, exc.message)
        response = error_response(exc.status, exc.message)
        # e.g. WWW-Authenticate on a 401 in keystone mode
        response.headers.update(getattr(exc, "headers", None) or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        return error_response(400, _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        message = HTTP_MESSAGES.get(exc.status_code) or str(exc.detail)
        response = error_response(exc.status_code, message)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeout)
    async def _database(request: Request, exc: Exception) -> Response:
        # The request's transaction was rolled back with its connection, so a 503 promises the
        # client that nothing of this request was written.
        if not database_unavailable(exc):
            return await _unexpected(request, exc)
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, _first_line(exc))
        response = error_response(503, DATABASE_UNAVAILABLE)
        response.headers["Retry-After"] = RETRY_AFTER_S
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "Internal error; the server log has the details.")


def _first_line(exc: Exception) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]

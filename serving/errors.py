"""Map every failure to the ``{"error": {"code", "message"}}`` shape with the right status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ganxun.serving.predictor import BadRequestError, UnknownIdError

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media",
    422: "invalid_request",
    503: "not_ready",
}


class ApiError(StarletteHTTPException):
    """An HTTP error with its own machine-readable ``code`` (the pages map codes to Chinese).

    Codes beyond the per-status defaults: ``missing_api_key`` and ``invalid_api_key`` (401),
    ``infeasible`` (422: a roster no choice of cadres can meet, a class goal that cannot be
    designed), ``not_ended`` (422: a class evaluated before it ended).
    """

    def __init__(self, status_code: int, detail: str, code: str | None = None):
        super().__init__(status_code=status_code, detail=detail)
        self.code = code


def not_in_scope(kind: str, value: str) -> ApiError:
    """The one answer a scoped key gets for an id it may not see *and* for an id that is unknown.

    The same status (404) and the same body either way, so a unit, cadre or institution key
    cannot tell which ids exist outside its scope.
    """
    return ApiError(404, f"no {kind} {value!r} within this key's scope", "not_found")


def error_response(status: int, message: str, code: str | None = None) -> JSONResponse:
    """A JSON error in the service's one error shape."""
    return JSONResponse(
        status_code=status,
        content={"error": {"code": code or _CODES.get(status, "error"), "message": message}},
    )


class BodyLimit:
    """413 in the error shape for a request whose Content-Length exceeds ``max_bytes`` (ASGI)."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        """Handle one ASGI call."""
        if scope["type"] == "http":
            for name, value in scope.get("headers", ()):
                if name == b"content-length":
                    size = value.decode("latin-1")
                    if size.isdigit() and int(size) > self.max_bytes:
                        message = f"request body of {size} bytes exceeds {self.max_bytes}"
                        await error_response(413, message)(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)


def _describe(errors: list[dict]) -> str:
    parts = []
    for e in errors[:10]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts)


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, _describe(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and request.url.path.startswith("/ui/"):
            from ganxun.serving.routes.ui import not_found_page  # a page, not JSON, for people

            return not_found_page()
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "code", None))

    @app.exception_handler(UnknownIdError)
    async def _unknown(_: Request, exc: UnknownIdError) -> JSONResponse:
        return error_response(404, str(exc))

    @app.exception_handler(BadRequestError)
    async def _bad(_: Request, exc: BadRequestError) -> JSONResponse:
        return error_response(422, str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            status_code=500,
            content={"error": {"code": "internal", "message": "internal error; see server log"}},
        )

"""Errors as JSON with one stable shape: ``{"error": {"status", "code", "message", "details"}}``."""
from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pixseek.errors import ImageError, ImageTooLargeError, PixseekError

log = logging.getLogger("pixseek.api")


class ApiError(Exception):
    """An error the API answers with on purpose; ``code`` is a stable machine-readable word."""

    def __init__(self, status: int, code: str, message: str, details: object = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details, self.headers = status, code, message, details, headers


def error_body(status: int, code: str, message: str, details: object = None) -> dict:
    return {"error": {"status": status, "code": code, "message": message, "details": details}}


def error_response(status: int, code: str, message: str, details: object = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, code, message, details), status_code=status, headers=headers)


def api_error_for_image(err: ImageError, name: str) -> ApiError:
    """An unreadable upload: 413 for too many pixels, 422 for anything else, naming the upload."""
    status = 413 if isinstance(err, ImageTooLargeError) else 422
    return ApiError(status, err.kind, f"{name}: {err.cause}", {"file": name})


def _code_for(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "-")
    except ValueError:
        return "error"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(ImageError)
    async def _image_error(_: Request, exc: ImageError):
        err = api_error_for_image(exc, exc.path)
        return error_response(err.status, err.code, err.message, err.details)

    @app.exception_handler(PixseekError)
    async def _pixseek_error(_: Request, exc: PixseekError):
        return error_response(400, "bad-request", str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return error_response(exc.status_code, _code_for(exc.status_code), message,
                              headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError):
        details = [{"loc": list(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()]
        first = details[0] if details else {"loc": [], "message": "invalid request"}
        where = ".".join(str(p) for p in first["loc"][1:]) or "request"
        return error_response(422, "invalid-request", f"{where}: {first['message']}", details)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal-error", "internal server error")

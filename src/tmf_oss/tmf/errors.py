"""The TMF `Error` body, and the one exception type every layer raises to produce it."""
from __future__ import annotations

from http import HTTPStatus

import orjson
from starlette.responses import Response

ERROR_MEDIA_TYPE = "application/json;charset=utf-8"


class TmfError(Exception):
    """A failure the client should see as a TMF Error with this status code."""

    def __init__(self, status: int, reason: str, message: str | None = None, *, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message or reason)
        self.status = status
        self.reason = reason
        self.message = message
        self.code = code or default_code(status)
        self.headers = headers or {}


def default_code(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.replace(" ", "").replace("-", "")
    except ValueError:
        return "Error"


def error_document(status: int, reason: str, message: str | None = None, code: str | None = None) -> dict:
    body = {"@type": "Error", "code": code or default_code(status), "reason": reason, "status": str(status)}
    if message:
        body["message"] = message
    return body


def error_response(error: TmfError) -> Response:
    body = orjson.dumps(error_document(error.status, error.reason, error.message, error.code))
    return Response(body, status_code=error.status, media_type=ERROR_MEDIA_TYPE, headers=error.headers)


def bad_request(message: str, *, reason: str = "Invalid request") -> TmfError:
    return TmfError(400, reason, message)


def not_found(what: str, ident: str) -> TmfError:
    return TmfError(404, "Not found", f"No {what} with id '{ident}'")

"""Response helpers and request facts (public base URL, correlation id) shared by every API handler."""
from __future__ import annotations

import uuid

import orjson
from starlette.requests import Request
from starlette.responses import Response

JSON_MEDIA_TYPE = "application/json;charset=utf-8"


def json_response(data, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON_MEDIA_TYPE, headers=headers)


def raw_json_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=JSON_MEDIA_TYPE, headers=headers)


def empty_response(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, headers=headers)


def public_base_url(request: Request, configured: str = "", trust_forwarded: bool = True) -> str:
    """scheme://host[:port] that clients use to reach us; hrefs are built from it."""
    if configured:
        return configured.rstrip("/")
    headers = request.headers
    scheme = request.url.scheme
    host = headers.get("host") or request.url.netloc
    if trust_forwarded:
        forwarded_proto = headers.get("x-forwarded-proto")
        forwarded_host = headers.get("x-forwarded-host")
        if forwarded_proto:
            scheme = forwarded_proto.split(",")[0].strip()
        if forwarded_host:
            host = forwarded_host.split(",")[0].strip()
            port = headers.get("x-forwarded-port")
            if port and ":" not in host:
                host = f"{host}:{port.split(',')[0].strip()}"
    prefix = headers.get("x-forwarded-prefix", "").rstrip("/") if trust_forwarded else ""
    return f"{scheme}://{host}{prefix}"


def correlation_id(request: Request) -> str:
    return request.headers.get("x-request-id") or request.headers.get("x-correlation-id") or uuid.uuid4().hex

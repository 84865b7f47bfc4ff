"""Response helpers and request facts (public base URL, correlation id) shared by every API handler."""
from __future__ import annotations

import uuid
from urllib.parse import parse_qsl

import orjson
from connexion.context import scope as _operation_scope
from starlette.responses import Response

JSON_MEDIA_TYPE = "application/json;charset=utf-8"


def json_response(data, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON_MEDIA_TYPE, headers=headers)


def raw_json_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=JSON_MEDIA_TYPE, headers=headers)


def empty_response(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, headers=headers)


_FORWARDED = (b"host", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port", b"x-forwarded-prefix")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def request_scope() -> dict:
    """The ASGI scope of the request a connexion handler is answering. Cheaper than `connexion.request`, which
    builds a new request object (and a starlette one) for every attribute read from it."""
    return _operation_scope._get_current_object()


def query_pairs(scope: dict) -> list[tuple[str, str]]:
    """The query string's (name, value) pairs in order, as starlette's QueryParams parses them."""
    return parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)


def public_base_url(scope: dict, configured: str = "", trust_forwarded: bool = True) -> str:
    """scheme://host[:port] that clients use to reach us; hrefs are built from it. Read from the ASGI scope's raw
    headers: every read request needs it, and starlette's Headers and URL objects cost more than the rest of a
    cached read."""
    if configured:
        return configured.rstrip("/")
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _FORWARDED and name not in found:  # ASGI servers give header names in lower case
            found[name] = value.decode("latin-1")
    scheme = scope.get("scheme", "http")
    host = found.get(b"host")
    if not host:
        server_host, port = scope.get("server") or ("localhost", None)
        host = server_host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{server_host}:{port}"
    prefix = ""
    if trust_forwarded:
        forwarded_proto = found.get(b"x-forwarded-proto")
        forwarded_host = found.get(b"x-forwarded-host")
        if forwarded_proto:
            scheme = forwarded_proto.split(",")[0].strip()
        if forwarded_host:
            host = forwarded_host.split(",")[0].strip()
            port = found.get(b"x-forwarded-port")
            if port and ":" not in host:
                host = f"{host}:{port.split(',')[0].strip()}"
        prefix = found.get(b"x-forwarded-prefix", "").rstrip("/")
    return f"{scheme}://{host}{prefix}"


def header(scope: dict, name: bytes) -> str | None:
    """The first value of a request header (`name` in lower case, as ASGI servers give names)."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def correlation_id(scope: dict) -> str:
    return header(scope, b"x-request-id") or header(scope, b"x-correlation-id") or uuid.uuid4().hex

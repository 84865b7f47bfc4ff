"""Builds the connexion application: one add_api per served spec document, handlers found by operationId."""
from __future__ import annotations

import inspect
import logging
import warnings

# connexion imports starlette's test client at start-up, which warns about its HTTP client on every server
# start; it is not used when serving.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
from contextlib import asynccontextmanager

import connexion
import orjson
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionResponse
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException
from starlette.responses import Response

from tmf_oss.alarms.consumer import prometheus_lines as fault_engine_metrics
from tmf_oss.config import Settings
from tmf_oss.events.admin_api import admin_routes
from tmf_oss.events.hub_api import HubHandlers
from tmf_oss.events.subscriptions import Subscriptions
from tmf_oss.performance.metrics import prometheus_lines as performance_metrics
from tmf_oss.performance.service import known_indicator
from tmf_oss.performance.threshold_api import threshold_routes
from tmf_oss.platform import SPECS_DIR, Platform
from tmf_oss.southbound.admin_api import fault_routes
from tmf_oss.tmf.errors import ERROR_MEDIA_TYPE, TmfError, error_document
from tmf_oss.tmf.handlers import CollectionHandlers
from tmf_oss.tmf.request_validation import VALIDATORS, fold_path_parameters

log = logging.getLogger("tmf_oss.app")


def _error(status: int, reason: str, message: str | None, code: str | None = None,
           headers: dict | None = None) -> ConnexionResponse:
    body = orjson.dumps(error_document(status, reason, message, code))
    return ConnexionResponse(status_code=status, mimetype=ERROR_MEDIA_TYPE, body=body, headers=headers or {})


def _on_tmf_error(_request, exc: TmfError):
    return _error(exc.status, exc.reason, exc.message, exc.code, exc.headers)


def _on_problem(_request, exc: ProblemException):
    return _error(exc.status, exc.title or "Invalid request", exc.detail, None, exc.headers)


def _on_http_exception(_request, exc: HTTPException):
    reasons = {404: "Not found", 405: "Method not allowed"}
    message = {404: "no such path on this server", 405: "this path does not support that method"}
    status = exc.status_code
    detail = exc.detail if exc.detail and exc.detail not in ("Not Found", "Method Not Allowed") else None
    return _error(status, reasons.get(status, "Request failed"), detail or message.get(status), None, exc.headers)


def _on_unexpected(_request, exc: Exception):
    log.error("unhandled error: %r", exc, exc_info=exc)
    return _error(500, "Internal error", "the server failed to handle the request; see its log")


async def _listener_not_served(**_kwargs):
    # The listener operations describe the client's endpoint, where we deliver events; we do not consume them.
    raise TmfError(501, "Not implemented", "listener operations are implemented by event consumers, not by this server")


def _with_fixed_signature(handler):
    """connexion re-reads a handler's signature on every request; for a bound method that costs ~50 µs, for a
    function carrying `__signature__` ~3 µs. Same parameters, same behaviour."""
    async def operation(**kwargs):
        return await handler(**kwargs)

    operation.__signature__ = inspect.signature(handler)
    operation.__name__ = getattr(handler, "__name__", "operation")
    return operation


def _resolver(operations: dict) -> Resolver:
    def find(operation_id: str):
        if operation_id in operations:
            return _with_fixed_signature(operations[operation_id])
        if operation_id.startswith("listenTo") or operation_id.endswith("Event"):
            return _listener_not_served
        raise KeyError(f"no handler for operationId {operation_id}")

    return Resolver(function_resolver=find)


def _document_handler(document: dict, base_path: str):
    served = orjson.dumps({**document, "servers": [{"url": base_path}]})

    async def openapi_document(request):
        return Response(served, media_type="application/json")

    return openapi_document


def _index_handler(platform: Platform):
    """GET / lists what this server serves, so a person or a client can find the APIs and their UIs."""
    apis = [{"api": api.api, "title": api.title, "version": version.version, "basePath": version.base_path,
             "openapi": f"{version.base_path}/openapi.json", "ui": f"{version.base_path}/ui/"}
            for api in platform.apis for version in api.versions]
    body = orjson.dumps({"name": "tmf-oss", "apis": apis})

    async def index(request):
        return Response(body, media_type="application/json")

    return index


def create_app(settings: Settings | None = None, platform: Platform | None = None) -> connexion.AsyncApp:
    settings = settings or Settings.from_env()
    platform = platform or Platform(settings)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        platform.close()

    # connexion would serve the reference-resolved document, which the TMF model's recursive schemas make
    # circular (unserialisable); we serve the document as written instead.
    app = connexion.AsyncApp(
        "tmf_oss", specification_dir=str(SPECS_DIR), lifespan=lifespan,
        swagger_ui_options=connexion.options.SwaggerUIOptions(swagger_ui=settings.swagger_ui, serve_spec=False),
    )
    subscriptions = Subscriptions(platform.db, allow_private=settings.allow_private_callbacks)
    for api in platform.apis:
        for version in api.versions:
            operations: dict = {}
            for entity in api.entities:
                if version.version not in entity.views:
                    continue  # served by other versions only
                collection = platform.collection(api.api, entity.spec.name)
                operations.update(CollectionHandlers(collection, version.version, settings)
                                  .operations(entity.operation_name))
            if api.extra_operations:
                operations.update(api.extra_operations(platform, version, settings))
            operations.update(HubHandlers(subscriptions, api.api, version.version, version.base_path, settings)
                              .operations())
            document = platform.specs[(api.api, version.version)]
            app.add_url_rule(f"{version.base_path}/openapi.json", f"{api.api}-{version.version}-document",
                             _document_handler(document, version.base_path), methods=["GET"])
            app.add_api(
                fold_path_parameters(document),
                base_path=version.base_path,
                name=f"{api.api}-{version.version}",
                resolver=_resolver(operations),
                validate_responses=settings.validate_responses,
                strict_validation=False,
                pythonic_params=False,
                validator_map=VALIDATORS,
            )
    for api in platform.apis:
        for path, name, handler, methods in api.routes(platform, settings) if api.routes else ():
            app.add_url_rule(path, name, handler, methods=methods)
    app.add_url_rule("/", "index", _index_handler(platform), methods=["GET"])
    if settings.admin_api:
        routes = admin_routes(platform.db, more_metrics=[fault_engine_metrics, performance_metrics]) + \
            fault_routes(platform.db) + threshold_routes(
                platform.db, platform.collection("tmf639", "resource"),
                known_indicator=lambda ident: known_indicator(platform.db, ident), settings=settings)
        for path, name, handler, methods in routes:
            app.add_url_rule(path, name, handler, methods=methods)
    app.add_error_handler(TmfError, _on_tmf_error)
    app.add_error_handler(ProblemException, _on_problem)
    app.add_error_handler(HTTPException, _on_http_exception)
    app.add_error_handler(Exception, _on_unexpected)
    app.platform = platform  # type: ignore[attr-defined]
    return app

"""Operator endpoints for performance thresholds (documents: performance/threshold_document.py):

    GET    /admin/v1/performanceThreshold[?indicatorId=ID]   every threshold (oldest first)
    POST   /admin/v1/performanceThreshold                    201 with the new threshold
    GET    /admin/v1/performanceThreshold/{id}
    PATCH  /admin/v1/performanceThreshold/{id}               merge-patch; the threshold starts afresh (its alarms
                                                             are cleared) when anything changed
    DELETE /admin/v1/performanceThreshold/{id}               204; the alarms it raised are cleared
Errors are TMF Error bodies like everywhere else: 400 for a document that is not a usable threshold (unknown
indicator, hysteresis the wrong way round, bad direction, severity, forecast or objectFilter), 404 for an unknown
id, 415 for a PATCH that is not a merge-patch.
"""
from __future__ import annotations

from typing import Callable

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from tmf_oss.performance.threshold_document import SERVER_OWNED, threshold_from_document
from tmf_oss.performance.threshold_scope import compile_object_filter
from tmf_oss.performance.threshold_store import ThresholdStore
from tmf_oss.tmf.collection import Collection
from tmf_oss.tmf.errors import TmfError, bad_request, not_found
from tmf_oss.tmf.http import empty_response, json_response, public_base_url
from tmf_oss.tmf.patch import MERGE_PATCH, PatchError, apply_patch, media_kind

PATH = "/admin/v1/performanceThreshold"
WHAT = "performanceThreshold"


def threshold_routes(db, resources: Collection, *, known_indicator: Callable[[str], bool] | None = None,
                     settings=None) -> list[tuple[str, str, object, list[str]]]:
    """`resources`: the TMF639 resource collection objectFilters are checked against; `known_indicator(id)`:
    whether a performance indicator specification with that id exists (None: every id is accepted);
    `settings`: for the public base URL hrefs are built from."""
    store = ThresholdStore(db)
    is_known = known_indicator or (lambda _indicator: True)

    def check_filter(object_filter: str) -> None:
        compile_object_filter(resources, object_filter)

    def parsed(document, ident: str):
        return threshold_from_document(document, ident, known_indicator=is_known, check_filter=check_filter)

    def shown(request: Request, document: dict) -> dict:
        base = public_base_url(request.scope, getattr(settings, "public_base_url", ""),
                               getattr(settings, "trust_forwarded_headers", True))
        return {"id": document["id"], "href": f"{base}{PATH}/{document['id']}",
                **{name: value for name, value in document.items() if name != "id"}}

    async def listing(request: Request):
        found = await run_in_threadpool(store.list, indicator_id=request.query_params.get("indicatorId"))
        return json_response([shown(request, document) for document in found])

    async def create(request: Request):
        body = await _body(request)
        document = await run_in_threadpool(store.create, lambda ident: parsed(body, ident))
        return json_response(shown(request, document), 201)

    async def retrieve(request: Request):
        ident = request.path_params["id"]
        document = await run_in_threadpool(store.get, ident)
        if document is None:
            raise not_found(WHAT, ident)
        return json_response(shown(request, document))

    async def patch(request: Request):
        ident = request.path_params["id"]
        try:
            if media_kind(request.headers.get("content-type")) != MERGE_PATCH:
                raise PatchError(f"thresholds are changed with {MERGE_PATCH}", 415)
        except PatchError as error:
            raise TmfError(error.status, "Unsupported patch", error.message) from None
        body = await _body(request)

        def changed(current: dict):
            try:
                patched = apply_patch(current, body, MERGE_PATCH, immutable=frozenset({"id", "href"}),
                                      server_owned=SERVER_OWNED - {"id", "href"})
            except PatchError as error:
                raise TmfError(error.status, "Invalid patch", error.message) from None
            return parsed(patched, ident)

        document = await run_in_threadpool(store.change, ident, changed)
        if document is None:
            raise not_found(WHAT, ident)
        return json_response(shown(request, document))

    async def remove(request: Request):
        ident = request.path_params["id"]
        if not await run_in_threadpool(store.delete, ident):
            raise not_found(WHAT, ident)
        return empty_response()

    return [
        (PATH, "performance-thresholds", _methods({"GET": listing, "POST": create}), ["GET", "POST"]),
        (f"{PATH}/{{id}}", "performance-threshold", _methods({"GET": retrieve, "PATCH": patch, "DELETE": remove}),
         ["GET", "PATCH", "DELETE"]),
    ]


def _methods(handlers: dict) -> Callable:
    """One handler per path (a route has one), dispatching on the request's method."""
    async def dispatch(request: Request):
        return await handlers[request.method](request)

    return dispatch


async def _body(request: Request):
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise bad_request("the body must be a JSON object", reason="Invalid body") from None

"""Operator endpoints beside the TMF APIs: delivery metrics, the parked list and replays.

    GET  /metrics                              Prometheus text: per-subscription pending, delivered, failed,
                                               parked, oldest pending age
    GET  /admin/v1/delivery[?subscription=ID]  the same as JSON, with last error and next attempt
    GET  /admin/v1/delivery/parked[?subscription=ID&state=parked|replay|replayed|all]
    POST /admin/v1/delivery/replay             {"subscription": ID} | {"eventId": [...]} | {"all": true}
Errors are TMF Error bodies like everywhere else.
"""
from __future__ import annotations

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tmf_oss.events.model import PARKED, REPLAY, REPLAYED
from tmf_oss.events.status import delivery_state, parked_deliveries, prometheus_text, request_replay
from tmf_oss.tmf.errors import bad_request
from tmf_oss.tmf.http import json_response

PROMETHEUS_MEDIA_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PARKED_STATES = {PARKED: PARKED, REPLAY: REPLAY, REPLAYED: REPLAYED, "all": None}


def admin_routes(db, more_metrics=()) -> list[tuple[str, str, object, list[str]]]:
    """`more_metrics`: callables (db -> lines of Prometheus text) that other domains add to /metrics."""
    def exposition() -> str:
        text = prometheus_text(delivery_state(db))
        for lines in more_metrics:
            text += "\n".join(lines(db)) + "\n"
        return text

    async def metrics(_request: Request):
        return Response(await run_in_threadpool(exposition), media_type=PROMETHEUS_MEDIA_TYPE)

    async def delivery(request: Request):
        subscription = request.query_params.get("subscription")
        states = await run_in_threadpool(delivery_state, db, subscription)
        return json_response([state.as_dict() for state in states])

    async def parked(request: Request):
        state = request.query_params.get("state", PARKED)
        if state not in PARKED_STATES:
            raise bad_request(f"state must be one of {', '.join(PARKED_STATES)}", reason="Invalid state")
        rows = await run_in_threadpool(parked_deliveries, db, subscription_id=request.query_params.get(
            "subscription"), state=PARKED_STATES[state])
        return json_response(rows)

    async def replay(request: Request):
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            raise bad_request("the body must be a JSON object", reason="Invalid body") from None
        if not isinstance(body, dict):
            raise bad_request("the body must be a JSON object", reason="Invalid body")
        event_ids = body.get("eventId")
        if isinstance(event_ids, str):
            event_ids = [event_ids]
        if event_ids is not None and not (isinstance(event_ids, list) and all(isinstance(e, str) for e in event_ids)):
            raise bad_request("eventId must be a string or a list of strings", reason="Invalid body")
        marked = await run_in_threadpool(lambda: request_replay(
            db, subscription_id=body.get("subscription"), event_ids=event_ids, everything=body.get("all") is True))
        return json_response({"requested": marked}, 202)

    return [
        ("/metrics", "delivery-metrics", metrics, ["GET"]),
        ("/admin/v1/delivery", "delivery-state", delivery, ["GET"]),
        ("/admin/v1/delivery/parked", "delivery-parked", parked, ["GET"]),
        ("/admin/v1/delivery/replay", "delivery-replay", replay, ["POST"]),
    ]

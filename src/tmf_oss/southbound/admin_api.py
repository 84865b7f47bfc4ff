"""Operator endpoint for received faults (until alarm management builds alarms on them):

    GET /admin/v1/faults[?device=ADDRESS&kind=linkDown&since=RFC3339&limit=N]   newest first
"""
from __future__ import annotations

from dataclasses import asdict

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from tmf_oss.db.base import rfc3339
from tmf_oss.southbound.fault_store import FaultStore
from tmf_oss.tmf.errors import bad_request
from tmf_oss.tmf.http import json_response
from tmf_oss.tmf.query import parse_instant

MAX_LIMIT = 1000


def fault_document(fault) -> dict:
    document = {key: value for key, value in asdict(fault).items() if value is not None}
    document["received_at"] = rfc3339(fault.received_at)
    if fault.device_time is not None:
        document["device_time"] = rfc3339(fault.device_time)
    return document


def fault_routes(db) -> list[tuple[str, str, object, list[str]]]:
    store = FaultStore(db)

    async def faults(request: Request):
        params = request.query_params
        try:
            limit = int(params.get("limit", 100))
        except ValueError:
            raise bad_request("limit must be a whole number", reason="Invalid limit") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise bad_request(f"limit must be between 1 and {MAX_LIMIT}", reason="Invalid limit")
        since = None
        if params.get("since"):
            try:
                since = parse_instant(params["since"])
            except ValueError:
                raise bad_request("since must be an RFC 3339 date-time", reason="Invalid since") from None
        found = await run_in_threadpool(lambda: store.recent(limit=limit, device_address=params.get("device"),
                                                             kind=params.get("kind"), since=since))
        return json_response([fault_document(fault) for fault in found])

    return [("/admin/v1/faults", "faults", faults, ["GET"])]

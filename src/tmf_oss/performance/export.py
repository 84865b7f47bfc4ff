"""A collection job's measurements as a download: what its dataAccessEndpoints point at.

    GET /performanceData/{jobId}/measurements.csv[?from=RFC3339&to=RFC3339]
    GET /performanceData/{jobId}/measurements.json[?from=...&to=...]

Rows come in interval order, streamed from the database as they are read, so a month of a large job does not
have to fit in memory. A missing value is an empty cell (CSV) or null (JSON), with its reason beside it.
"""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import orjson
from sqlalchemy import select
from starlette.concurrency import iterate_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from tmf_oss.db.base import rfc3339, utcnow
from tmf_oss.performance.model import CollectionJobRow
from tmf_oss.tmf.errors import bad_request, not_found
from tmf_oss.tmf.query import parse_instant

COLUMNS = ("startDateTime", "endDateTime", "monitoredObjectId", "monitoredObjectName", "indicatorId",
           "indicatorName", "observedValue", "missingReason")
BATCH = 500  # rows per chunk sent


def _record(row) -> dict:
    return {"startDateTime": rfc3339(row.start),
            "endDateTime": rfc3339(row.start + timedelta(seconds=row.period_seconds)),
            "monitoredObjectId": row.object_id, "monitoredObjectName": row.object_name or "",
            "indicatorId": row.indicator_id, "indicatorName": row.indicator_name or "",
            "observedValue": row.value, "missingReason": row.missing_reason}


def _csv_chunks(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for count, row in enumerate(rows, 1):
        record = _record(row)
        record["observedValue"] = "" if record["observedValue"] is None else repr(record["observedValue"])
        record["missingReason"] = record["missingReason"] or ""
        writer.writerow(record[name] for name in COLUMNS)
        if count % BATCH == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _json_chunks(rows):
    yield b"["
    first = True
    for row in rows:
        yield (b"" if first else b",") + orjson.dumps(_record(row))
        first = False
    yield b"]"


def _bound(request: Request, name: str):
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    try:
        return parse_instant(value)
    except ValueError as error:
        raise bad_request(f"'{name}': {error}", reason="Invalid time range") from None


def export_routes(platform) -> list[tuple[str, str, object, list[str]]]:
    from tmf_oss.performance.timeseries import TimeSeriesStore

    store = TimeSeriesStore(platform.db)

    def download(fmt: str):
        async def handler(request: Request):
            job_id = request.path_params["job_id"]
            start_from, start_before = _bound(request, "from"), _bound(request, "to")
            with platform.db.reading() as session:
                known = session.execute(select(CollectionJobRow.id).where(CollectionJobRow.id == job_id)).first()
                first, _ = store.query(session, job_id=job_id, limit=1, with_total=False)
            if known is None and not first:
                raise not_found("measurementCollectionJob", job_id)
            if start_from is None:
                start_from = first[0].start if first else utcnow()
            if start_before is None:
                start_before = utcnow() + timedelta(days=1)

            def rows():
                with platform.db.reading() as session:
                    yield from store.export_rows(session, job_id, start_from, start_before)

            chunks = _csv_chunks(rows()) if fmt == "csv" else _json_chunks(rows())
            media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
            filename = f"measurements-{job_id}.{fmt}"
            return StreamingResponse(iterate_in_threadpool(chunks), media_type=media,
                                     headers={"Content-Disposition": f'attachment; filename="{filename}"'})

        return handler

    return [(f"/performanceData/{{job_id}}/measurements.{fmt}", f"performance-data-{fmt}", download(fmt), ["GET"])
            for fmt in ("csv", "json")]

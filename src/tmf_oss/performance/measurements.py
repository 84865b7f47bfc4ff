"""TMF628 performanceMeasurement: the stored values of the time-series, read through the API.

One measurement is one indicator's value on one monitored object over one granularity interval; its id is
`<series>-<interval start, epoch seconds>`. The values are not TMF documents in the database (there are far too
many), so this read side maps the query parameters the API offers onto the time-series store itself:

    measurementCollectionJob.id                      the job that measured
    v5 tag.monitoredObject.id  | v4 sourceSystem.id  the measured resource (TMF639 id)
    v5 performanceIndicatorValue.performanceIndicatorSpecification.id
    v4 performanceIndicatorSpecification.id          the indicator
    validFor.startDateTime (eq, gt, gte, lt, lte)    the interval start
    sort=validFor.startDateTime | -validFor.startDateTime; fields, offset, limit as everywhere.

Any other attribute is refused with a 400, as in every list. A missing value (device unreachable, counter reset)
has no observedValue and says why in `tag.missingReason` (v5) or `description` (v4).
"""
from __future__ import annotations

from datetime import timedelta

import orjson

from tmf_oss.db.base import rfc3339
from tmf_oss.tmf.catalog import AttributeCatalog
from tmf_oss.tmf.errors import bad_request, not_found
from tmf_oss.tmf.fields import parse_fields, select_fields
from tmf_oss.tmf.http import public_base_url, query_pairs, raw_json_response, request_scope
from tmf_oss.tmf.query import RESERVED, parse_conditions, parse_instant

TICK = timedelta(microseconds=1)
START = ("validFor", "startDateTime")
FILTERS = {
    "v5": {("measurementCollectionJob", "id"): "job", ("tag", "monitoredObject", "id"): "object",
           ("performanceIndicatorValue", "performanceIndicatorSpecification", "id"): "indicator", START: "start"},
    "v4": {("measurementCollectionJob", "id"): "job", ("sourceSystem", "id"): "object",
           ("performanceIndicatorSpecification", "id"): "indicator", START: "start"},
}


def _number(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(value)


class MeasurementReader:
    def __init__(self, platform, settings, version: str, base_path: str):
        from tmf_oss.performance.timeseries import TimeSeriesStore

        self.platform = platform
        self.settings = settings
        self.version = version
        self.base_path = base_path
        self.store = TimeSeriesStore(platform.db)
        spec = platform.specs[("tmf628", version)]
        schemas = ("PerformanceMeasurement", "PerformanceMeasurementAtomic") if version == "v5" else \
            ("PerformanceMeasurement",)
        self.catalog = AttributeCatalog.from_openapi(spec, schemas)
        self.always = ("id", "href", "@type") if version == "v5" else ("id", "href")

    def operations(self) -> dict:
        return {"listPerformanceMeasurement": self.list, "retrievePerformanceMeasurement": self.retrieve}

    # --- query ------------------------------------------------------------------------------------------

    def _criteria(self, pairs) -> dict:
        criteria: dict = {}
        for condition in parse_conditions(pairs, RESERVED):
            kind = FILTERS[self.version].get(condition.path)
            if kind is None:
                known = ", ".join(".".join(path) for path in FILTERS[self.version])
                raise bad_request(f"Unknown attribute '{condition.dotted}': measurements are filtered by {known}",
                                  reason="Invalid filter")
            if kind == "start":
                self._time_bounds(condition, criteria)
                continue
            if condition.op != "eq":
                raise bad_request(f"'{condition.dotted}' is matched by value (eq, or a comma-separated list)",
                                  reason="Invalid filter")
            criteria.setdefault(kind, set()).update(condition.values)
        return criteria

    @staticmethod
    def _time_bounds(condition, criteria: dict) -> None:
        if len(condition.values) != 1 or condition.op in ("ne", "regex"):
            raise bad_request("validFor.startDateTime takes one instant with eq, gt, gte, lt or lte",
                              reason="Invalid filter")
        try:
            moment = parse_instant(condition.values[0])
        except ValueError as error:
            raise bad_request(f"validFor.startDateTime: {error}", reason="Invalid filter") from None
        low, high = criteria.get("from"), criteria.get("before")
        if condition.op in ("eq", "gte", "gt"):
            bound = moment + TICK if condition.op == "gt" else moment
            low = bound if low is None else max(low, bound)
        if condition.op in ("eq", "lte", "lt"):
            bound = moment if condition.op == "lt" else moment + TICK
            high = bound if high is None else min(high, bound)
        criteria["from"], criteria["before"] = low, high

    def _order(self, sort: str | None) -> str:
        if sort in (None, "", "validFor.startDateTime", "+validFor.startDateTime"):
            return "start"
        if sort == "-validFor.startDateTime":
            return "-start"
        raise bad_request("measurements sort by validFor.startDateTime (or -validFor.startDateTime)",
                          reason="Invalid sort")

    def _paging(self, offset, limit) -> tuple[int, int]:
        offset = 0 if offset is None else int(offset)
        limit = self.settings.default_page_size if limit is None else int(limit)
        if offset < 0 or limit < 0:
            raise bad_request("offset and limit cannot be negative", reason="Invalid paging")
        return offset, min(limit, self.settings.max_page_size)

    # --- rendering --------------------------------------------------------------------------------------

    def base_url(self) -> str:
        return public_base_url(request_scope(), self.settings.public_base_url,
                               self.settings.trust_forwarded_headers)

    def render(self, row, base_url: str) -> dict:
        from tmf_oss.performance.timeseries import measurement_id

        ident = measurement_id(row.series_id, row.start)
        api = base_url.rstrip("/") + self.base_path
        job = {"@type": "MeasurementCollectionJobRef", "id": row.job_id,
               "href": f"{api}/measurementCollectionJob/{row.job_id}"}
        indicator = {"@type": "PerformanceIndicatorSpecificationRef", "id": row.indicator_id,
                     "href": f"{api}/performanceIndicatorSpecification/{row.indicator_id}"}
        if row.indicator_name:
            indicator["name"] = row.indicator_name
        monitored = {"@type": "ResourceRef", "id": row.object_id, "@referredType": "Resource"}
        if row.object_name:
            monitored["name"] = row.object_name
        valid_for = {"startDateTime": rfc3339(row.start),
                     "endDateTime": rfc3339(row.start + timedelta(seconds=row.period_seconds))}
        missing = row.value is None
        if self.version == "v4":
            doc = {"id": ident, "href": f"{api}/performanceMeasurement/{ident}", "@type": "PerformanceMeasurement",
                   "measurementCollectionJob": job, "performanceIndicatorSpecification": indicator,
                   "indicatorName": row.indicator_name or row.indicator_id, "sourceSystem": monitored,
                   "validFor": valid_for}
            if missing:
                doc["description"] = f"missing: {row.missing_reason or 'no value'}"
            else:
                doc["observedValue"] = _number(row.value)
            return doc
        value = {"performanceIndicatorSpecification": indicator}
        if not missing:
            value["observedValue"] = _number(row.value)
        tag = {"monitoredObject": monitored}
        if missing:
            tag.update(missing=True, missingReason=row.missing_reason or "no value")
        return {"id": ident, "href": f"{api}/performanceMeasurement/{ident}", "@type": "PerformanceMeasurementAtomic",
                "@baseType": "PerformanceMeasurement", "measurementCollectionJob": job, "validFor": valid_for,
                "performanceIndicatorValue": [value], "tag": tag}

    def _selected(self, docs: list[dict], fields: str | None) -> list[dict]:
        selection = parse_fields(fields, self.catalog, self.always)
        keep = ("@type",) if self.version == "v5" else ()
        return [select_fields(doc, selection, keep) for doc in docs]

    # --- operations -------------------------------------------------------------------------------------

    async def list(self, fields: str | None = None, offset: int | None = None, limit: int | None = None,
                   sort: str | None = None, filter: str | None = None, before: str | None = None,
                   after: str | None = None):
        if filter is not None or before is not None or after is not None:
            raise bad_request("measurements take attribute filters (see the list above), offset and limit; not "
                              "'filter', 'before' or 'after'", reason="Unsupported query")
        criteria = self._criteria(query_pairs(request_scope()))
        offset, limit = self._paging(offset, limit)
        order = self._order(sort)
        jobs = criteria.get("job") or set()
        if len(jobs) > 1:
            raise bad_request("measurementCollectionJob.id takes one job", reason="Invalid filter")
        with self.platform.db.reading() as session:
            rows, total = self.store.query(
                session, job_id=next(iter(jobs), None),
                object_ids=sorted(criteria["object"]) if "object" in criteria else None,
                indicator_ids=sorted(criteria["indicator"]) if "indicator" in criteria else None,
                start_from=criteria.get("from"), start_before=criteria.get("before"), order=order,
                offset=offset, limit=limit)
        base_url = self.base_url()
        docs = self._selected([self.render(row, base_url) for row in rows], fields)
        return raw_json_response(orjson.dumps(docs), 200, {"X-Total-Count": str(total),
                                                          "X-Result-Count": str(len(docs))})

    async def retrieve(self, id: str, fields: str | None = None):
        with self.platform.db.reading() as session:
            row = self.store.get(session, id)
        if row is None:
            raise not_found("performanceMeasurement", id)
        doc = self._selected([self.render(row, self.base_url())], fields)[0]
        return raw_json_response(orjson.dumps(doc), 200)

"""The TMF628 collections: what is specific to performance management, on top of the shared machinery."""
from __future__ import annotations

import uuid
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from tmf_oss.performance import jobs
from tmf_oss.performance.model import (
    CollectionJobRow,
    DataAccessEndpointRow,
    IndicatorGroupSpecificationRow,
    IndicatorSpecificationRow,
    TrackingRecordRow,
)
from tmf_oss.tmf.collection import EntitySpec, WriteContext
from tmf_oss.tmf.errors import bad_request
from tmf_oss.tmf.polymorphism import TypeFamily
from tmf_oss.tmf.query import parse_instant

SYSTEM_ID = "tmf-oss"
V5_BASE_PATH = "/tmf-api/performanceManagement/v5"
EXPORT_FORMATS = {"csv": "text/csv", "json": "application/json"}


def export_path(job_id: str, fmt: str) -> str:
    """Where a job's measurements can be downloaded (performance/export.py serves it)."""
    return f"/performanceData/{job_id}/measurements.{fmt}"


# --- indicator specifications and groups -------------------------------------------------------------------

def _check_derivation(spec: dict) -> None:
    from tmf_oss.performance import derivation

    try:
        jobs.parse_derivation(spec)
    except derivation.DerivationError as error:
        raise bad_request(f"derivationAlgorithm: {error}", reason="Invalid derivation") from None


def known_indicator(db, ident: str) -> bool:
    """Whether a performance indicator specification with this id exists (thresholds name one)."""
    with db.reading() as session:
        return session.execute(select(IndicatorSpecificationRow.id)
                               .where(IndicatorSpecificationRow.id == ident)).first() is not None


INDICATOR_SPECIFICATION = EntitySpec(
    name="performanceIndicatorSpecification",
    api="tmf628",
    events=False,  # TMF628 defines no events for it
    model=IndicatorSpecificationRow,
    family=TypeFamily(base="PerformanceIndicatorSpecification",
                      known=frozenset({"PerformanceIndicatorSpecification"})),
    event_prefix="PerformanceIndicatorSpecification",
    columns={"name": "name", "indicatorCategory": "indicator_category", "collectionType": "collection_type"},
    on_insert=lambda _session, spec, _context: _check_derivation(spec),
    on_update=lambda _previous, spec: _check_derivation(spec),
    rendered_columns={"v5": "body"},
)


def _check_group_members(session: Session, group: dict) -> None:
    refs = [ref for ref in group.get("performanceIndicatorSpecification") or () if isinstance(ref, dict)]
    ids = {str(ref["id"]) for ref in refs if ref.get("id")}
    known = set(session.execute(select(IndicatorSpecificationRow.id)
                                .where(IndicatorSpecificationRow.id.in_(ids))).scalars()) if ids else set()
    unknown = sorted(ids - known)
    if unknown:
        raise bad_request(f"unknown performanceIndicatorSpecification {', '.join(repr(i) for i in unknown)}",
                          reason="Invalid group")


INDICATOR_GROUP_SPECIFICATION = EntitySpec(
    name="performanceIndicatorGroupSpecification",
    api="tmf628",
    events=False,  # TMF628 defines no events for it
    model=IndicatorGroupSpecificationRow,
    family=TypeFamily(base="PerformanceIndicatorGroupSpecification",
                      known=frozenset({"PerformanceIndicatorGroupSpecification"})),
    event_prefix="PerformanceIndicatorGroupSpecification",
    columns={"name": "name", "groupCategory": "group_category"},
    on_insert=lambda session, group, _context: _check_group_members(session, group),
    on_patch=lambda session, _previous, group, _context: _check_group_members(session, group),
)


# --- tracking records and data access endpoints (read-only, written by the server) -----------------------------

def _job_characteristic(job_id: str) -> dict:
    """How a tracking record or an endpoint says which job it belongs to (neither has a member for it)."""
    return {"@type": "StringCharacteristic", "name": "measurementCollectionJob", "value": job_id,
            "valueType": "string"}


def _job_of(characteristics) -> str | None:
    return next((c.get("value") for c in characteristics or ()
                 if isinstance(c, dict) and c.get("name") == "measurementCollectionJob"), None)


def _record_columns(record: dict) -> dict:
    job = _job_of(record.get("characteristic"))
    try:
        moment = parse_instant(record["time"]) if record.get("time") else None
    except ValueError:
        moment = None
    return {"job_id": job, "time": moment}


TRACKING_RECORD = EntitySpec(
    name="trackingRecord",
    api="tmf628",
    events=False,  # TMF628 defines no events for it
    model=TrackingRecordRow,
    family=TypeFamily(base="TrackingRecord", known=frozenset({"TrackingRecord"})),
    event_prefix="TrackingRecord",
    derived_columns=_record_columns,
)

DATA_ACCESS_ENDPOINT = EntitySpec(
    name="dataAccessEndpoint",
    api="tmf628",
    events=False,  # TMF628 defines no events for it
    model=DataAccessEndpointRow,
    family=TypeFamily(base="DataAccessEndpoint", known=frozenset({"DataAccessEndpoint"})),
    event_prefix="DataAccessEndpoint",
    columns={"name": "name"},
    derived_columns=lambda endpoint: {"job_id": _job_of(endpoint.get("resourceCharacteristic"))},
)


def tracking_record(job_id: str, description: str, *, user: str | None = None) -> dict:
    record = {"@type": "TrackingRecord", "id": str(uuid.uuid4()), "time": jobs.now_text(), "systemId": SYSTEM_ID,
              "description": description,
              "characteristic": [_job_characteristic(job_id)]}
    if user:
        record["user"] = user
    return record


def add_tracking(session: Session, platform, job_id: str, job: dict, description: str, *, base_url: str,
                 user: str | None = None) -> None:
    """A tracking record of a change to the job: stored in its own read-only collection and listed in the job."""
    record = tracking_record(job_id, description, user=user)
    ident = record["id"]
    platform.collection("tmf628", "trackingRecord").insert(
        session, [(ident, {k: v for k, v in record.items() if k != "id"})], base_url=base_url,
        correlation_id=None)
    job["trackingRecord"] = [*(job.get("trackingRecord") or []), record]


def data_access_endpoints(job_id: str, base_url: str) -> list[tuple[str, dict]]:
    """The job's download endpoints (CSV and JSON), as DataAccessEndpoint documents by id."""
    endpoints = []
    for fmt in EXPORT_FORMATS:
        endpoints.append((f"{job_id}-{fmt}", {
            "@type": "DataAccessEndpoint",
            "name": f"measurements of job {job_id} ({fmt.upper()})",
            "description": "The job's measurements; 'from' and 'to' (RFC 3339) narrow the download to a time range.",
            "category": fmt, "apiType": "REST", "uri": base_url.rstrip("/") + export_path(job_id, fmt),
            "resourceStatus": "available", "operationalState": "enable",
            "resourceCharacteristic": [_job_characteristic(job_id)],
        }))
    return endpoints


# --- measurement collection jobs -----------------------------------------------------------------------------

COLLECTION_JOB = EntitySpec(
    name="measurementCollectionJob",
    api="tmf628",
    model=CollectionJobRow,
    family=TypeFamily(base="MeasurementCollectionJob", known=frozenset({"MeasurementCollectionJob"})),
    event_prefix="MeasurementCollectionJob",
    columns={"executionState": "execution_state"},
    state_fields=frozenset({"executionState"}),
    event_names={"StateChangeEvent": "MeasurementCollectionJobExecutionStateChangeEvent"},
    server_owned=frozenset({"executionState", "creationTime", "lastModifiedTime", "trackingRecord",
                            "dataAccessEndpoint"}),
    on_create=jobs.on_create,
    on_update=jobs.on_update,
    derived_columns=jobs.derived_columns,
)


# What the collector measures: a change to any of these is checked again and tracked.
MEASURED = ("performanceIndicatorSpecification", "performanceIndicatorGroupSpecification", "granularity",
            "reportingPeriod", "monitoredInstancesCriteria", "monitoredClassCriteria", "scheduleDefinition")


def bind_job(platform, spec: EntitySpec) -> EntitySpec:
    """Jobs are checked against the indicator specifications and the inventory, and leave tracking records."""
    resources = platform.collection("tmf639", "resource")

    def on_insert(session: Session, job: dict, context: WriteContext) -> None:
        jobs.check_job(session, resources, job, creating=True)
        endpoints = data_access_endpoints(context.ident, context.base_url)
        # Their characteristic (a StringCharacteristic, which this TMF628 release does not define) is recorded as
        # an extension, so that `resourceCharacteristic.value=<job id>` filters like any attribute.
        platform.collection("tmf628", "dataAccessEndpoint").insert(
            session, endpoints, base_url=context.base_url, correlation_id=None)
        api = context.base_url.rstrip("/") + V5_BASE_PATH
        job["dataAccessEndpoint"] = [{"id": ident, "href": f"{api}/dataAccessEndpoint/{ident}", **endpoint}
                                     for ident, endpoint in endpoints]
        add_tracking(session, platform, context.ident, job, "job created", base_url=context.base_url)

    def on_patch(session: Session, previous: dict, job: dict, context: WriteContext) -> None:
        if previous.get("adminState") != job.get("adminState"):
            add_tracking(session, platform, context.ident, job, f"job {job.get('adminState')}",
                         base_url=context.base_url)
        changed = [name for name in MEASURED if previous.get(name) != job.get(name)]
        if changed:
            # Only what changes is checked again: locking a job whose device has gone stays possible.
            jobs.check_job(session, resources, job, creating=False)
            add_tracking(session, platform, context.ident, job, f"changed {', '.join(changed)}",
                         base_url=context.base_url)

    return replace(spec, on_insert=on_insert, on_patch=on_patch)

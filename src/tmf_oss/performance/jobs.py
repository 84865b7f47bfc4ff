"""A measurement collection job's life: what a client may ask for, what the server decides.

The server owns `executionState`: acknowledged when the job is accepted, inProgress once the collector measures
it, pending while an administrator holds it (`adminState: locked`), completed when its schedule has ended, failed
when nothing it names can be measured any more. The client locks and unlocks it (`adminState`) and may change
what it measures while it runs; an ended job is not changed any more. Creating or changing a job checks
everything the collector will need (jobs.check_job): a job that cannot be measured is refused with a 400 that
lists every problem, rather than accepted and left to fail.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tmf_oss.db.base import rfc3339, utcnow
from tmf_oss.performance import objects, periods
from tmf_oss.performance.model import IndicatorGroupSpecificationRow, IndicatorSpecificationRow
from tmf_oss.performance.schedule import CollectionSchedule, ScheduleError
from tmf_oss.tmf.errors import TmfError
from tmf_oss.tmf.query import parse_instant

ENDED = frozenset({"completed", "failed", "cancelled"})
EXPRESSION = "expression"


class InvalidJob(TmfError):
    def __init__(self, problems: list[str]):
        super().__init__(400, "Invalid measurement collection job", "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Indicator:
    """An indicator specification a job measures, with its derivation parsed."""

    id: str
    name: str
    unit: str | None
    expression: object  # derivation.Expression

    @property
    def scope(self) -> str:
        return self.expression.scope


def now_text() -> str:
    return rfc3339(utcnow())


def on_create(job: dict) -> None:
    job["executionState"] = "acknowledged" if job.get("adminState", "unlocked") == "unlocked" else "pending"
    job.setdefault("adminState", "unlocked")
    job.setdefault("granularity", periods.DEFAULT_GRANULARITY)
    job.setdefault("reportingPeriod", "na")
    job["creationTime"] = job["lastModifiedTime"] = now_text()


def on_update(previous: dict, job: dict) -> None:
    state = previous.get("executionState")
    if state in ENDED:
        raise TmfError(409, "Job ended", f"the job is {state}; an ended job cannot be changed (create a new one)")
    job["lastModifiedTime"] = now_text()
    locked, was_locked = job.get("adminState") == "locked", previous.get("adminState") == "locked"
    if locked and not was_locked:
        job["executionState"] = "pending"  # suspended: the collector skips it until it is unlocked
    elif was_locked and not locked:
        job["executionState"] = "acknowledged"  # inProgress again at its next measurement


def derived_columns(job: dict) -> dict:
    return {"admin_state": job.get("adminState"), "granularity": job.get("granularity")}


# --- what a job names ----------------------------------------------------------------------------------------

def parse_derivation(spec: dict):
    """The parsed expression of an indicator specification that tmf-oss can compute, or None when it has none
    (derivationMethod other than 'expression'). A malformed expression raises derivation.DerivationError."""
    from tmf_oss.performance import derivation

    if (spec.get("derivationMethod") or "").lower() != EXPRESSION:
        return None
    return derivation.parse(spec.get("derivationAlgorithm") or "")


def _spec_rows(session: Session, refs: list[dict]) -> tuple[dict[str, dict], dict[str, dict]]:
    ids = [str(ref["id"]) for ref in refs if ref.get("id")]
    names = [str(ref["name"]) for ref in refs if not ref.get("id") and ref.get("name")]
    if not ids and not names:
        return {}, {}
    rows = session.execute(select(IndicatorSpecificationRow.id, IndicatorSpecificationRow.doc).where(or_(
        IndicatorSpecificationRow.id.in_(ids or [""]), IndicatorSpecificationRow.name.in_(names or [""])))).all()
    by_id = {ident: {**doc, "id": ident} for ident, doc in rows}
    by_name = {doc.get("name"): {**doc, "id": ident} for ident, doc in rows}
    return by_id, by_name


def _group_members(session: Session, job: dict, problems: list[str]) -> list[dict]:
    refs = []
    groups = job.get("performanceIndicatorGroupSpecification") or []
    stored = {}
    ids = [str(group["id"]) for group in groups if isinstance(group, dict) and group.get("id")]
    if ids:
        stored = dict(session.execute(select(IndicatorGroupSpecificationRow.id, IndicatorGroupSpecificationRow.doc)
                                      .where(IndicatorGroupSpecificationRow.id.in_(ids))).all())
    for position, group in enumerate(groups):
        if not isinstance(group, dict):
            continue
        members = group.get("performanceIndicatorSpecification")
        if group.get("id") and not members:
            if str(group["id"]) not in stored:
                problems.append(f"performanceIndicatorGroupSpecification[{position}]: no group with id "
                                f"'{group['id']}'")
                continue
            members = stored[str(group["id"])].get("performanceIndicatorSpecification")
        refs.extend(member for member in members or () if isinstance(member, dict))
    return refs


def resolve_indicators(session: Session, job: dict, problems: list[str]) -> list[Indicator]:
    """The indicators a job measures (its own and its groups' members, each once), with a problem per reference
    that is unknown or not computable."""
    from tmf_oss.performance import derivation

    refs = [ref for ref in job.get("performanceIndicatorSpecification") or () if isinstance(ref, dict)]
    refs += _group_members(session, job, problems)
    by_id, by_name = _spec_rows(session, refs)
    found: dict[str, Indicator] = {}
    for ref in refs:
        label = ref.get("id") or ref.get("name")
        spec = by_id.get(str(ref["id"])) if ref.get("id") else by_name.get(ref.get("name"))
        if spec is None:
            problems.append(f"unknown performanceIndicatorSpecification '{label}'" if label else
                            "a performanceIndicatorSpecification reference names neither an id nor a name")
            continue
        try:
            expression = parse_derivation(spec)
        except derivation.DerivationError as error:
            problems.append(f"indicator '{label}' has a derivation that cannot be computed: {error}")
            continue
        if expression is None:
            problems.append(f"indicator '{label}' has no derivation tmf-oss can compute (derivationMethod "
                            f"'{EXPRESSION}' with a derivationAlgorithm)")
            continue
        found.setdefault(spec["id"], Indicator(spec["id"], spec.get("name") or spec["id"],
                                               spec.get("indicatorUnit"), expression))
    return list(found.values())


def _schedule(job: dict) -> dict:
    schedule = job.get("scheduleDefinition")
    if isinstance(schedule, list):
        schedule = schedule[0] if schedule else {}
    return schedule if isinstance(schedule, dict) else {}


def schedule_window(job: dict):
    """(start, end) instants of the job's schedule, either None when open."""
    schedule = _schedule(job)
    bounds = []
    for name in ("scheduleDefinitionStartTime", "scheduleDefinitionEndTime"):
        value = schedule.get(name)
        bounds.append(parse_instant(value) if isinstance(value, str) and value else None)
    return tuple(bounds)


def collection_schedule(job: dict) -> CollectionSchedule:
    """Days and hours the job collects on (performance/schedule.py); raises ScheduleError."""
    return CollectionSchedule.of(_schedule(job))


def check_job(session: Session, resources, job: dict, *, creating: bool) -> list[Indicator]:
    """Everything the collector needs, checked before the job is stored; raises InvalidJob listing every problem."""
    problems: list[str] = []
    for problem in (periods.granularity_problem(job.get("granularity")),
                    periods.reporting_problem(job.get("granularity"), job.get("reportingPeriod"))):
        if problem:
            problems.append(problem)
    try:
        start, end = schedule_window(job)
    except ValueError as error:
        problems.append(f"scheduleDefinition: {error}")
        start = end = None
    try:
        collection_schedule(job)
    except ScheduleError as error:
        problems.append(f"scheduleDefinition: {error}")
    if start and end and end <= start:
        problems.append("scheduleDefinition ends before it starts")
    elif creating and end and end <= utcnow():
        problems.append("scheduleDefinition has already ended")
    indicators = resolve_indicators(session, job, problems)
    if not indicators and not problems:
        problems.append("the job names no performanceIndicatorSpecification (directly or through a group)")
    explicit = objects.instance_ids(job)
    criteria = job.get("monitoredClassCriteria") or {}
    if not explicit and not (criteria.get("objectInstanceFilter") or criteria.get("monitoredObjectClass")):
        problems.append("the job names no monitored objects (monitoredInstancesCriteria.monitoredObjectInstances "
                        "or monitoredClassCriteria)")
    if criteria.get("objectInstanceFilter") or criteria.get("monitoredObjectClass"):
        try:
            objects.job_object_ids(session, resources, {"monitoredClassCriteria": criteria})
        except TmfError as error:
            problems.append(f"monitoredClassCriteria.objectInstanceFilter: {error.message}")
    if explicit:
        known = objects.existing(session, explicit)
        usable = objects.measurable(session, explicit)
        scopes = {indicator.scope for indicator in indicators}
        for ident in explicit:
            if ident not in known:
                problems.append(f"unknown monitored object '{ident}' (no such resource in the inventory)")
            elif ident not in usable:
                problems.append(f"monitored object '{ident}' is not a device or interface discovered on a managed "
                                f"device, so it cannot be polled")
            elif indicators and usable[ident].scope not in scopes:
                kind = "an interface" if usable[ident].interface else "a device"
                problems.append(f"monitored object '{ident}' is {kind} and none of the job's indicators measure "
                                f"{usable[ident].scope}s")
    if problems:
        raise InvalidJob(problems)
    return indicators

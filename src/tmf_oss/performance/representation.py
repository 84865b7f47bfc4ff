"""TMF628 v4 and v5 views of the canonical (v5-shaped) documents.

The releases differ little for what we store: a v4 job has one scheduleDefinition where v5 has a list, and a few
schedule members are capitalised differently. v4-only members (searchTask, sourceSystem, reportingSystem) are kept
as they are.
"""
from __future__ import annotations

import copy

from tmf_oss.tmf.versions import VersionView

V5_SEGMENT, V4_SEGMENT = "/performanceManagement/v5/", "/performanceManagement/v4/"
# v4 schedule member -> v5 schedule member
SCHEDULE_MEMBERS = {"weeklyScheduledDefinition": "WeeklyScheduledDefinition",
                    "monthlyScheduleDayOfWeekDefinition": "MonthlyScheduleDayOfWeekDefinition"}


def _renamed(schedule: dict, names: dict[str, str]) -> dict:
    return {names.get(key, key): value for key, value in schedule.items()}


# v5 types every nested object, v4 clients may leave `@type` out: member -> the type filled in on the way in.
NESTED_TYPES = {
    "MeasurementCollectionJob": {
        "scheduleDefinition": "ScheduleDefinition", "monitoredInstancesCriteria": "MonitoredInstancesCriteria",
        "monitoredClassCriteria": "MonitoredClassCriteria", "jobCollectionFilter": "DataFilterMap",
        "searchTaskFilter": "DataFilterMap", "fileTransferData": "FileTransferData",
        "performanceIndicatorSpecification": "PerformanceIndicatorSpecificationRef",
        "performanceIndicatorGroupSpecification": "PerformanceIndicatorGroupSpecification"},
    "PerformanceIndicatorSpecification": {"performanceIndicatorSpecRelationship":
                                          "PerformanceIndicatorSpecRelationship"},
    "PerformanceIndicatorGroupSpecification": {"performanceIndicatorSpecification":
                                               "PerformanceIndicatorSpecificationRef"},
}


def _typed(doc: dict, entity: str) -> dict:
    doc = copy.deepcopy(doc)
    doc.setdefault("@type", entity)
    for name, type_name in NESTED_TYPES.get(entity, {}).items():
        value = doc.get(name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                item.setdefault("@type", type_name)
                if type_name == "PerformanceIndicatorGroupSpecification":
                    for member in item.get("performanceIndicatorSpecification") or ():
                        if isinstance(member, dict):
                            member.setdefault("@type", "PerformanceIndicatorSpecificationRef")
    return doc


def job_from_v4(doc: dict) -> dict:
    doc = _typed(doc, "MeasurementCollectionJob")
    schedule = doc.get("scheduleDefinition")
    if isinstance(schedule, dict):
        doc["scheduleDefinition"] = [_renamed(schedule, SCHEDULE_MEMBERS)]
    return doc


def job_to_v4(doc: dict) -> dict:
    doc = dict(doc)
    if doc.get("dataAccessEndpoint"):
        # The endpoints' hrefs are stored as the v5 API's; a v4 client follows them into v4.
        doc["dataAccessEndpoint"] = [
            {**endpoint, "href": endpoint["href"].replace(V5_SEGMENT, V4_SEGMENT)}
            if isinstance(endpoint, dict) and isinstance(endpoint.get("href"), str) else endpoint
            for endpoint in doc["dataAccessEndpoint"]]
    schedule = doc.get("scheduleDefinition")
    if not isinstance(schedule, list):
        return doc
    if schedule and isinstance(schedule[0], dict):
        doc["scheduleDefinition"] = _renamed(schedule[0], {v: k for k, v in SCHEDULE_MEMBERS.items()})
    else:
        doc.pop("scheduleDefinition")
    return doc


def v4_view(entity: str) -> VersionView:
    return VersionView("v4", lambda doc: _typed(doc, entity))


V5_VIEW = VersionView("v5")
JOB_V4_VIEW = VersionView("v4", job_from_v4, job_to_v4)

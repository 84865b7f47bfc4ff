"""TMF628 v4 and v5 views of the canonical (v5-shaped) documents.

The releases differ little for what we store: a v4 job has one scheduleDefinition where v5 has a list, and a few
schedule members are capitalised differently. v4-only members (searchTask, sourceSystem, reportingSystem) are kept
as they are.
"""
from __future__ import annotations

import copy

from tmf_oss.tmf.versions import VersionView

# v4 schedule member -> v5 schedule member
SCHEDULE_MEMBERS = {"weeklyScheduledDefinition": "WeeklyScheduledDefinition",
                    "monthlyScheduleDayOfWeekDefinition": "MonthlyScheduleDayOfWeekDefinition"}


def _renamed(schedule: dict, names: dict[str, str]) -> dict:
    return {names.get(key, key): value for key, value in schedule.items()}


def job_from_v4(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    schedule = doc.get("scheduleDefinition")
    if isinstance(schedule, dict):
        doc["scheduleDefinition"] = [_renamed(schedule, SCHEDULE_MEMBERS)]
    return doc


def job_to_v4(doc: dict) -> dict:
    schedule = doc.get("scheduleDefinition")
    if not isinstance(schedule, list):
        return doc
    doc = dict(doc)
    if schedule and isinstance(schedule[0], dict):
        doc["scheduleDefinition"] = _renamed(schedule[0], {v: k for k, v in SCHEDULE_MEMBERS.items()})
    else:
        doc.pop("scheduleDefinition")
    return doc


V4_VIEW = VersionView("v4")
V5_VIEW = VersionView("v5")
JOB_V4_VIEW = VersionView("v4", job_from_v4, job_to_v4)

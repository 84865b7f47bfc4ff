"""The alarm life-cycle rules TMF642 implies, shared by the API, the tasks and the fault engine.

- `state` goes raised -> updated* -> cleared; cleared is final (a new occurrence is a new alarm).
- Clearing sets `alarmClearedTime` and `perceivedSeverity=cleared`.
- Acknowledgement (`ackState`) is independent of `state`: a cleared alarm may still be acknowledged.
- Comments are only ever added.
- `alarmChangedTime` moves with every change.
"""
from __future__ import annotations

from tmf_oss.tmf.collection import now_text
from tmf_oss.tmf.errors import TmfError

CLEAR_MEMBERS = ("alarmClearedTime", "clearUserId", "clearSystemId")


class AlarmRuleError(TmfError):
    def __init__(self, message: str):
        super().__init__(409, "Alarm state conflict", message)


def on_create(alarm: dict) -> None:
    now = now_text()
    alarm.setdefault("ackState", "unacknowledged")
    alarm.setdefault("alarmReportingTime", now)
    alarm.setdefault("alarmChangedTime", alarm.get("alarmRaisedTime") or now)
    alarm["occurrenceCount"] = 1
    if alarm.get("state") == "cleared":
        alarm.setdefault("alarmClearedTime", now)
        alarm["perceivedSeverity"] = "cleared"


def on_update(previous: dict, alarm: dict) -> None:
    """A PATCH result checked against the previous alarm, completed with what follows from it."""
    was_cleared = previous.get("state") == "cleared"
    if was_cleared and alarm.get("state") != "cleared":
        raise AlarmRuleError("a cleared alarm stays cleared; a new occurrence of the fault is a new alarm")
    if was_cleared and any(alarm.get(name) != previous.get(name) for name in (*CLEAR_MEMBERS, "perceivedSeverity")):
        raise AlarmRuleError("the alarm is already cleared")
    check_comments_appended(previous, alarm)
    now = now_text()
    if alarm.get("state") == "cleared" and not was_cleared:
        mark_cleared(alarm, now)
    alarm["alarmChangedTime"] = now


def check_comments_appended(previous: dict, alarm: dict) -> None:
    before, after = previous.get("comment") or [], alarm.get("comment") or []
    if after[:len(before)] != before:
        raise AlarmRuleError("comments can only be added, not changed or removed")


def mark_cleared(alarm: dict, now: str, *, user: str | None = None, system: str | None = None) -> None:
    alarm["state"] = "cleared"
    alarm["perceivedSeverity"] = "cleared"
    alarm.setdefault("alarmClearedTime", now)
    if user is not None:
        alarm["clearUserId"] = user
    if system is not None:
        alarm["clearSystemId"] = system
    alarm["alarmChangedTime"] = now

"""What makes two reports the same alarm, and the lookup columns derived from an alarm document.

Deduplication (X.733 / TMF642 practice): while an alarm is active, a report naming the same alarmed object,
alarm type, probable cause and specific problem is a repeat of it, not a new alarm.
"""
from __future__ import annotations

ACTIVE_STATES = frozenset({"raised", "updated"})


def dedup_key(alarmed_object_id: str | None, alarm_type: str | None, probable_cause: str | None,
              specific_problem: str | None) -> str:
    # \x1f (unit separator) cannot occur in any of the parts a device or client sends in practice.
    return f"{alarmed_object_id or ''}\x1f{alarm_type or ''}\x1f{probable_cause or ''}\x1f{specific_problem or ''}"


def key_of(doc: dict) -> str:
    alarmed = doc.get("alarmedObject") if isinstance(doc.get("alarmedObject"), dict) else {}
    return dedup_key(alarmed.get("id"), doc.get("alarmType"), doc.get("probableCause"), doc.get("specificProblem"))


def derived_columns(doc: dict) -> dict:
    alarmed = doc.get("alarmedObject") if isinstance(doc.get("alarmedObject"), dict) else {}
    return {"alarmed_object_id": alarmed.get("id"), "dedup_key": key_of(doc),
            "active": doc.get("state") != "cleared"}

"""Which alarms a TMF642 task selects: alarms named by id, and alarms matching a pattern.

An item of `alarmPattern` (or of a grouping task's `correlatedAlarm`) is an alarm given by reference or by value
(AlarmRefOrValue):

- With `id` it names that alarm. An id no alarm has makes the request invalid (400, nothing changes): the client
  named something that does not exist, which is not the same as a pattern that happens to match nothing. Alarm
  members given beside the id (anything but the reference's own href, name, @type, @baseType, @schemaLocation,
  @referredType) must match as well; an alarm that does not match them is reported as not affected.
- Without `id` it is a pattern: every member it carries must match the alarm's, member by member. Objects match
  recursively, an array when each of its elements matches some element of the alarm's array, scalars by
  equality (instants as instants, whatever their notation). A pattern may match no alarm or many; it must carry at
  least one member, only alarm attributes, and no nulls (400 otherwise).

Patterns are narrowed in SQL by the alarm collection's own filter compiler (typed columns, the GIN index), then
checked exactly on the candidates. On PostgreSQL the selected rows stay locked until the task's transaction ends,
so a concurrent PATCH waits instead of making the task fail.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tmf_oss.tmf.collection import Collection
from tmf_oss.tmf.errors import TmfError, bad_request
from tmf_oss.tmf.query import Condition, parse_instant
from tmf_oss.tmf.sql_filter import compile_conditions

# Members that describe a reference rather than the alarm it points to.
REFERENCE_MEMBERS = frozenset({"id", "href", "name", "@type", "@baseType", "@schemaLocation", "@referredType"})
INVALID_PATTERN = "Invalid alarm pattern"
UNKNOWN_ALARM = "Unknown alarm"


@dataclass
class SelectedAlarm:
    seq: int
    ident: str
    version: int
    doc: dict  # canonical document as stored
    mismatch: str | None = None  # why an alarm named by id does not match the members given with it


def select_alarms(session: Session, alarms: Collection, items, where: str) -> list[SelectedAlarm]:
    """The alarms the items select, each once, in the order the items name them (pattern matches by age)."""
    if not isinstance(items, list) or not items:
        raise bad_request(f"'{where}' must hold at least one alarm, by id or as a pattern", reason=INVALID_PATTERN)
    parsed = [_parse_item(item, f"{where}[{index}]", alarms) for index, item in enumerate(items)]
    named = _rows_by_id(session, alarms, [ident for _, ident, _ in parsed if ident is not None])
    selected: dict[str, SelectedAlarm] = {}
    for label, ident, members in parsed:
        if ident is not None:
            if ident not in named:
                raise bad_request(f"{label}: there is no alarm with id '{ident}'", reason=UNKNOWN_ALARM)
            if ident not in selected:
                alarm = named[ident]
                if members and not matches(members, alarm.doc):
                    alarm.mismatch = f"does not match the members given with its id in {label}"
                selected[ident] = alarm
            continue
        for alarm in _rows_matching(session, alarms, members, label):
            selected.setdefault(alarm.ident, alarm)
    return list(selected.values())


def select_alarm(session: Session, alarms: Collection, item, where: str) -> SelectedAlarm:
    """One alarm named by id (a grouping task's parentAlarm)."""
    ident = item.get("id") if isinstance(item, dict) else None
    if not isinstance(ident, str) or not ident:
        raise bad_request(f"'{where}' must give the id of an alarm", reason=INVALID_PATTERN)
    found = _rows_by_id(session, alarms, [ident])
    if ident not in found:
        raise bad_request(f"{where}: there is no alarm with id '{ident}'", reason=UNKNOWN_ALARM)
    return found[ident]


def matches(pattern, value) -> bool:
    """Does `value` (part of an alarm) have everything `pattern` has?"""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(name in value and matches(member, value[name])
                                               for name, member in pattern.items())
    if isinstance(pattern, list):
        return isinstance(value, list) and all(any(matches(element, candidate) for candidate in value)
                                               for element in pattern)
    if isinstance(pattern, bool) or isinstance(value, bool):
        return isinstance(pattern, bool) and isinstance(value, bool) and pattern == value
    if isinstance(pattern, (int, float)) and isinstance(value, (int, float)):
        return pattern == value
    if isinstance(pattern, str) and isinstance(value, str):
        return pattern == value or _same_instant(pattern, value)
    return False


def _same_instant(first: str, second: str) -> bool:
    if len(first) < 16 or len(second) < 16 or first[10:11] not in "Tt" or second[10:11] not in "Tt":
        return False
    try:
        return parse_instant(first) == parse_instant(second)
    except ValueError:
        return False


# --- parsing ---------------------------------------------------------------------------------------------

def _parse_item(item, label: str, alarms: Collection) -> tuple[str, str | None, dict]:
    if not isinstance(item, dict):
        raise bad_request(f"{label} must be an alarm (an object)", reason=INVALID_PATTERN)
    ident = item.get("id")
    if ident is not None and (not isinstance(ident, str) or not ident):
        raise bad_request(f"{label}: 'id' must be a non-empty string", reason=INVALID_PATTERN)
    members = {name: value for name, value in item.items() if name not in REFERENCE_MEMBERS}
    if ident is None and not members:
        raise bad_request(f"{label} names no alarm: give its 'id', or alarm members to match",
                          reason=INVALID_PATTERN)
    _check_members(members, (), label, alarms)
    return label, ident, members


def _check_members(value, path: tuple[str, ...], label: str, alarms: Collection) -> None:
    if path and alarms.target.catalog.lookup(path) is None:
        raise bad_request(f"{label}: '{'.'.join(path)}' is not an alarm attribute", reason=INVALID_PATTERN)
    if isinstance(value, dict):
        for name, member in value.items():
            _check_members(member, path + (name,), label, alarms)
    elif isinstance(value, list):
        for element in value:
            _check_members(element, path, label, alarms)
    elif value is None:
        raise bad_request(f"{label}: '{'.'.join(path)}' is null; leave a member out to match any value",
                          reason=INVALID_PATTERN)


def _conditions(value, path: tuple[str, ...]) -> list[Condition]:
    """Equality conditions for every scalar of a pattern: a necessary condition, checked exactly afterwards."""
    if isinstance(value, dict):
        return [condition for name, member in value.items() for condition in _conditions(member, path + (name,))]
    if isinstance(value, list):
        return [condition for element in value for condition in _conditions(element, path)]
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return [Condition(path, "eq", (text,))]


# --- reading ---------------------------------------------------------------------------------------------

def _statement(alarms: Collection):
    model = alarms.spec.model
    statement = select(model.seq, model.id, model.version, model.doc)
    if alarms.db.dialect == "postgresql":
        statement = statement.with_for_update()
    return statement


def _rows_by_id(session: Session, alarms: Collection, idents: list[str]) -> dict[str, SelectedAlarm]:
    if not idents:
        return {}
    model = alarms.spec.model
    rows = session.execute(_statement(alarms).where(model.id.in_(set(idents))).order_by(model.seq)).all()
    return {row.id: SelectedAlarm(row.seq, row.id, row.version, row.doc) for row in rows}


def _rows_matching(session: Session, alarms: Collection, pattern: dict, label: str) -> list[SelectedAlarm]:
    model = alarms.spec.model
    try:
        clauses = compile_conditions(_conditions(pattern, ()), alarms.target)
    except TmfError as error:
        raise bad_request(f"{label}: {error.message}", reason=INVALID_PATTERN) from None
    rows = session.execute(_statement(alarms).where(*clauses).order_by(model.seq)).all()
    return [SelectedAlarm(row.seq, row.id, row.version, row.doc) for row in rows if matches(pattern, row.doc)]

"""TMF642 task resources: acknowledge, un-acknowledge, clear, comment, group and ungroup alarms.

A task is created with POST and does its work while it is created: the collection's `on_insert` hook selects the
alarms (`task_selection`), changes them through the alarm collection (`Collection.update_rows`, so every alarm
emits its AlarmAttributeValueChangeEvent / AlarmStateChangeEvent), and completes the task document, in the
transaction that inserts the task and emits its own create event. All or nothing: a task that is refused changes
no alarm. Tasks are read-only afterwards (the standard has no PATCH or DELETE for them). v4 names the collections
in the plural (`ackAlarms`), v5 in the singular (`ackAlarm`); each is served by its own version (`task_model`).

Decisions:

- A request that cannot be carried out as asked is refused with a TMF Error and changes nothing: 400 for an
  alarm id that does not exist, a malformed pattern (no member, unknown attribute, null), an empty selection
  list, a comment without text, a parentAlarm without id, an alarm grouped under itself; 409 for grouping under an
  alarm that is itself grouped under another. So `state` is always the standard's `done`: the task ran, and
  `unaffectedAlarm` (our extension) lists each selected alarm it left as it was, with the reason.
- The alarms changed are listed as references (`{"id", "@type": "AlarmRef"}`) in the member the standard names
  (`ackedAlarm`, `unAckedAlarm`, `clearedAlarm`, `commentedAlarm`, `groupedAlarm`, `unGroupedAlarm`), not as
  copies: a pattern may select thousands of alarms, and the alarms themselves are one GET away.
- The task's time member (`ackTime`, `alarmClearedTime`, `comment.time`, `alarmChangedTime`) is when the change
  happened; `ackTime` and `comment.time` default to now. Each changed alarm's `alarmChangedTime` takes it.
- ack: `ackState=acknowledged` and the task's `ackUserId`/`ackSystemId`; an acknowledged alarm is not affected.
  unAck: `ackState=unacknowledged`, `ackUserId`/`ackSystemId` then name who withdrew it; an alarm that is not
  acknowledged is not affected. Acknowledgement is independent of `state`: cleared alarms can be (un)acked.
- clear: `lifecycle.mark_cleared` with the task's time and ids; a cleared alarm is not cleared again.
- comment: the task's comment is appended to every selected alarm, cleared or not.
- group: each correlated alarm gets `parentAlarm=[parent]` and `isRootCause=false`, the parent `isRootCause=true`
  and the new children appended to its `correlatedAlarm`. Groups are one level deep, as the fault engine builds
  them: an alarm already under this parent, under another parent, or itself the root cause of a group is not
  affected (ungroup it first). unGroup: the link is removed on both sides for each listed alarm that has it, and
  an alarm left without a parent is a root cause again (`isRootCause=true`, the engine's rule, so it is back in
  the console's `?isRootCause=true` list; the parent stays one). Alarms not under that parent are not affected.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Callable

from sqlalchemy.orm import Session

from tmf_oss.alarms import lifecycle
from tmf_oss.alarms.service import ALARM
from tmf_oss.alarms.task_model import TASK_TABLES
from tmf_oss.alarms.task_selection import INVALID_PATTERN, SelectedAlarm, select_alarm, select_alarms
from tmf_oss.platform import EntityDefinition
from tmf_oss.tmf.collection import Collection, EntitySpec, RowUpdate, WriteContext, now_text
from tmf_oss.tmf.errors import bad_request
from tmf_oss.tmf.polymorphism import TypeFamily
from tmf_oss.tmf.versions import VersionView

UNAFFECTED = "unaffectedAlarm"  # tmf-oss extension: [{"id", "reason"}]


def alarm_ref(ident: str) -> dict:
    return {"id": ident, "@type": "AlarmRef"}


def _ref_ids(refs) -> list[str]:
    return [ref.get("id") for ref in refs or () if isinstance(ref, dict)]


@dataclass
class Outcome:
    """What a task did: the alarm rows to write, the alarms it changed, and those it left alone and why."""

    updates: dict[str, RowUpdate] = field(default_factory=dict)
    affected: list[str] = field(default_factory=list)
    unaffected: list[dict] = field(default_factory=list)

    def skip(self, ident: str, reason: str) -> None:
        self.unaffected.append({"id": ident, "reason": reason})

    def write(self, alarm: SelectedAlarm, doc: dict) -> None:
        self.updates[alarm.ident] = RowUpdate(alarm.seq, alarm.ident, alarm.version, alarm.doc, doc)


# --- changes of one alarm: each returns why the alarm is left alone, or None once it has changed it ----------

def _ack(alarm: dict, task: dict, moment: str) -> str | None:
    if alarm.get("ackState") == "acknowledged":
        return "already acknowledged"
    alarm.update(ackState="acknowledged", ackUserId=task["ackUserId"], ackSystemId=task["ackSystemId"],
                 alarmChangedTime=moment)
    return None


def _unack(alarm: dict, task: dict, moment: str) -> str | None:
    if alarm.get("ackState") != "acknowledged":
        return "not acknowledged"
    alarm.update(ackState="unacknowledged", ackUserId=task["ackUserId"], ackSystemId=task["ackSystemId"],
                 alarmChangedTime=moment)
    return None


def _clear(alarm: dict, task: dict, moment: str) -> str | None:
    if alarm.get("state") == "cleared":
        return "already cleared"
    alarm["alarmClearedTime"] = task["alarmClearedTime"]
    lifecycle.mark_cleared(alarm, moment, user=task["clearUserId"], system=task["clearSystemId"])
    return None


def _comment(alarm: dict, task: dict, moment: str) -> str | None:
    alarm["comment"] = [*(alarm.get("comment") or []), dict(task["comment"])]
    alarm["alarmChangedTime"] = moment
    return None


# --- the task kinds --------------------------------------------------------------------------------------

def _by_pattern(change: Callable[[dict, dict, str], str | None]):
    """A task that applies `change` to every alarm its alarmPattern selects."""

    def run(session: Session, alarms: Collection, task: dict, moment: str) -> Outcome:
        outcome = Outcome()
        for alarm in select_alarms(session, alarms, task.get("alarmPattern"), "alarmPattern"):
            if alarm.mismatch:
                outcome.skip(alarm.ident, alarm.mismatch)
                continue
            doc = _copy(alarm.doc)
            reason = change(doc, task, moment)
            if reason:
                outcome.skip(alarm.ident, reason)
            else:
                outcome.write(alarm, doc)
                outcome.affected.append(alarm.ident)
        return outcome

    return run


def _group_members(session: Session, alarms: Collection, task: dict) -> tuple[SelectedAlarm, list[SelectedAlarm]]:
    parent = select_alarm(session, alarms, task.get("parentAlarm"), "parentAlarm")
    named = {item.get("id") for item in task.get("correlatedAlarm") or () if isinstance(item, dict)}
    if parent.ident in named:
        raise bad_request(f"alarm '{parent.ident}' cannot be grouped under itself", reason=INVALID_PATTERN)
    return parent, select_alarms(session, alarms, task.get("correlatedAlarm"), "correlatedAlarm")


def _group(session: Session, alarms: Collection, task: dict, moment: str) -> Outcome:
    outcome = Outcome()
    parent, children = _group_members(session, alarms, task)
    parent_doc = _copy(parent.doc)
    grandparents = _ref_ids(parent_doc.get("parentAlarm"))
    if grandparents:
        raise lifecycle.AlarmRuleError(f"alarm '{parent.ident}' is grouped under alarm '{grandparents[0]}'; "
                                       "a root cause cannot itself be grouped under another alarm")
    correlated = _ref_ids(parent_doc.get("correlatedAlarm"))
    for child in children:
        parents = _ref_ids(child.doc.get("parentAlarm"))
        if child.ident == parent.ident:
            outcome.skip(child.ident, "is the parentAlarm of this task")
        elif child.mismatch:
            outcome.skip(child.ident, child.mismatch)
        elif parent.ident in parents and child.ident in correlated:
            outcome.skip(child.ident, f"already grouped under alarm '{parent.ident}'")
        elif [ident for ident in parents if ident != parent.ident]:
            other = next(ident for ident in parents if ident != parent.ident)
            outcome.skip(child.ident, f"grouped under alarm '{other}'; ungroup it first")
        elif _ref_ids(child.doc.get("correlatedAlarm")):
            outcome.skip(child.ident, "is the root cause of other alarms; ungroup them first")
        else:
            doc = _copy(child.doc)
            doc.update(parentAlarm=[alarm_ref(parent.ident)], isRootCause=False, alarmChangedTime=moment)
            outcome.write(child, doc)
            outcome.affected.append(child.ident)
    if outcome.affected:
        parent_doc["correlatedAlarm"] = [*(parent_doc.get("correlatedAlarm") or []),
                                         *(alarm_ref(ident) for ident in outcome.affected if ident not in correlated)]
        parent_doc.update(isRootCause=True, alarmChangedTime=moment)
        outcome.write(parent, parent_doc)
    return outcome


def _ungroup(session: Session, alarms: Collection, task: dict, moment: str) -> Outcome:
    outcome = Outcome()
    parent, children = _group_members(session, alarms, task)
    parent_doc = _copy(parent.doc)
    for child in children:
        linked = (parent.ident in _ref_ids(child.doc.get("parentAlarm"))
                  or child.ident in _ref_ids(parent_doc.get("correlatedAlarm")))
        if child.ident == parent.ident:
            outcome.skip(child.ident, "is the parentAlarm of this task")
        elif child.mismatch:
            outcome.skip(child.ident, child.mismatch)
        elif not linked:
            outcome.skip(child.ident, f"not grouped under alarm '{parent.ident}'")
        else:
            doc = _copy(child.doc)
            _drop_refs(doc, "parentAlarm", {parent.ident})
            if not doc.get("parentAlarm"):
                doc["isRootCause"] = True
            doc["alarmChangedTime"] = moment
            outcome.write(child, doc)
            outcome.affected.append(child.ident)
    if outcome.affected:
        _drop_refs(parent_doc, "correlatedAlarm", set(outcome.affected))
        parent_doc["alarmChangedTime"] = moment
        outcome.write(parent, parent_doc)
    return outcome


def _drop_refs(doc: dict, member: str, idents: set[str]) -> None:
    kept = [ref for ref in doc.get(member) or () if not (isinstance(ref, dict) and ref.get("id") in idents)]
    if kept:
        doc[member] = kept
    else:
        doc.pop(member, None)


def _copy(doc: dict) -> dict:
    return copy.deepcopy(doc)


# --- when the change happened ----------------------------------------------------------------------------

def _ack_time(task: dict) -> str:
    return task.setdefault("ackTime", now_text())


def _comment_time(task: dict) -> str:
    comment = task.get("comment")
    if not isinstance(comment, dict) or not comment.get("comment"):
        raise bad_request("'comment.comment' must hold the text of the comment", reason="Invalid comment")
    comment.setdefault("@type", "Comment")
    return comment.setdefault("time", now_text())


@dataclass(frozen=True)
class TaskKind:
    v4_name: str  # collection of TMF642 v4, e.g. "ackAlarms"
    v5_name: str  # collection of TMF642 v5, e.g. "ackAlarm"
    affected: str  # member listing the alarms the task changed, e.g. "ackedAlarm"
    moment: Callable[[dict], str]  # when the change happens (completing the task document where needed)
    run: Callable[[Session, Collection, dict, str], Outcome]

    def on_insert(self, platform) -> Callable[[Session, dict, WriteContext], None]:
        def perform(session: Session, task: dict, context: WriteContext) -> None:
            alarms = platform.collection(ALARM.api, ALARM.name)
            outcome = self.run(session, alarms, task, self.moment(task))
            alarms.update_rows(session, list(outcome.updates.values()), base_url=context.base_url,
                               correlation_id=context.correlation_id)
            task[self.affected] = [alarm_ref(ident) for ident in outcome.affected]
            task[UNAFFECTED] = outcome.unaffected
            task["state"] = "done"

        return perform

    def definition(self, version: str) -> EntityDefinition:
        name = self.v4_name if version == "v4" else self.v5_name
        type_name = name[0].upper() + name[1:]
        spec = EntitySpec(
            name=name,
            api=ALARM.api,
            model=TASK_TABLES[name],
            family=TypeFamily(base=type_name, known=frozenset({type_name})),
            event_prefix=type_name,
            columns={"state": "state"},
            state_fields=frozenset({"state"}),
            server_owned=frozenset({"state", self.affected, UNAFFECTED}),
        )
        return EntityDefinition(spec, type_name, {version: VersionView(version)}, (type_name,),
                                canonical_version=version,
                                bind=lambda platform, unbound: replace(unbound, on_insert=self.on_insert(platform)))


def _given(member: str) -> Callable[[dict], str]:
    return lambda task: task[member]


KINDS = (
    TaskKind("ackAlarms", "ackAlarm", "ackedAlarm", _ack_time, _by_pattern(_ack)),
    TaskKind("unAckAlarms", "unAckAlarm", "unAckedAlarm", _ack_time, _by_pattern(_unack)),
    TaskKind("clearAlarms", "clearAlarm", "clearedAlarm", _given("alarmClearedTime"), _by_pattern(_clear)),
    TaskKind("commentAlarms", "commentAlarm", "commentedAlarm", _comment_time, _by_pattern(_comment)),
    TaskKind("groupAlarms", "groupAlarm", "groupedAlarm", _given("alarmChangedTime"), _group),
    TaskKind("unGroupAlarms", "unGroupAlarm", "unGroupedAlarm", _given("alarmChangedTime"), _ungroup),
)

TASK_ENTITIES = tuple(kind.definition(version) for version in ("v4", "v5") for kind in KINDS)

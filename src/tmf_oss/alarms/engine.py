"""The fault engine: fault records in, TMF642 alarms out — normalized, deduplicated, correlated, with events.

It applies batches of stored fault records in the transaction its consumer (consumer.py) opens for each, with the
consumer's progress, so a record takes effect exactly once. Batches are applied one at a time even across
processes (a transaction-scoped advisory lock on PostgreSQL; SQLite serialises writers anyway), which makes "is
there an active alarm like this one?" a question with one answer.

Per record, in arrival order:
- the rules (alarms/rules.py) say which alarm it raises or clears; the object resolver finds the inventory
  resource it concerns (unknown objects are kept, marked `alarmedObjectResolved=false`);
- a raise repeating an active alarm (same alarmed object, type, probable cause, specific problem) updates it:
  `state=updated`, `occurrenceCount`+1, `alarmChangedTime`, the newest severity; otherwise it is a new alarm;
- a clear clears the matching active alarm (`perceivedSeverity=cleared`, `alarmClearedTime`);
- flapping: when the same alarm has been raised `flap_threshold` times within `flap_window`, the new alarm is
  marked `flapping` and its clears are held back until it has stayed clear for `flap_hold` (sweep()), so a bouncing
  link gives one alarm that stays up instead of a flood of raise/clear pairs.
Then correlation, for the batch's new alarms: a new alarm whose object depends on an object with an active root
alarm raised within `correlation_window` (a container: device or card; the port at the other end of its link, or
that port's containers) becomes its child (`parentAlarm`, `isRootCause=false`; the root lists it in
`correlatedAlarm`); a new alarm on an object others depend on adopts their recent root alarms the same way. Every
alarm without a parent is a root cause (`isRootCause=true`), so `?isRootCause=true` is the console's short list.
Repeats of a batch are coalesced: one change (and one event) per alarm per batch.
Service impact, for the batch's new and repeated alarms on known resources: the services (TMF638) supported by the
alarmed resource or by anything it contains (a device's alarm concerns the services on its ports) are listed in
`affectedService`, with `serviceAffecting`; terminated services are not. One lookup per batch, remembered between
batches while no service is written.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select, text, update

from tmf_oss.alarms.identity import dedup_key, key_of
from tmf_oss.alarms.lifecycle import mark_cleared
from tmf_oss.alarms.model import AlarmRow
from tmf_oss.alarms.objects import AlarmedObject, ObjectResolver
from tmf_oss.alarms.rules import CROSSED_THRESHOLD, RESOURCE, Decision, RuleSet, carried_object
from tmf_oss.db.base import as_utc, rfc3339
from tmf_oss.events.outbox import wake_up, write_counts_now
from tmf_oss.services.impact import ServiceImpacts
from tmf_oss.southbound.faults import FaultRecord
from tmf_oss.tmf.collection import Collection, RowUpdate
from tmf_oss.tmf.counts import CollectionCount

log = logging.getLogger("tmf_oss.alarms.engine")

ALARM_ENGINE_LOCK = 642_000_001  # pg_advisory_xact_lock key: one batch at a time across processes
LOOKUP_CHUNK = 500  # keys per IN (...) list
REPORTING_SYSTEM = "tmf-oss"
# What the engine reads of an alarm row (see FaultEngine._loaded).
ALARM_STATE = (AlarmRow.seq, AlarmRow.id, AlarmRow.version, AlarmRow.doc, AlarmRow.dedup_key,
               AlarmRow.alarm_raised_time, AlarmRow.clear_requested_at)


@dataclass(frozen=True)
class EngineSettings:
    correlation_window: timedelta = timedelta(seconds=60)
    flap_window: timedelta = timedelta(seconds=300)
    flap_threshold: int = 3
    flap_hold: timedelta = timedelta(seconds=120)


@dataclass
class BatchResult:
    records: int = 0
    created: int = 0
    repeated: int = 0
    cleared: int = 0
    clears_without_alarm: int = 0
    held: int = 0  # clears of flapping alarms, held back
    correlated: int = 0
    unresolved: int = 0


@dataclass
class _Alarm:
    """An alarm as the batch sees it: read from the database (seq set) or created by this batch."""

    ident: str
    doc: dict
    raised_at: datetime
    seq: int | None = None
    version: int = 0
    previous: dict | None = None
    clear_requested_at: datetime | None = None
    clear_request_changed: bool = False
    key: str | None = None  # its deduplication key (alarms.identity.key_of of its document)

    @property
    def active(self) -> bool:
        return self.doc.get("state") != "cleared"

    @property
    def has_parent(self) -> bool:
        return bool(self.doc.get("parentAlarm"))

    def reference(self) -> dict:
        return {"@type": "AlarmRef", "id": self.ident}

    def working_copy(self) -> "_Alarm":
        return _Alarm(self.ident, dict(self.doc), self.raised_at, seq=self.seq, version=self.version,
                      previous=self.doc, clear_requested_at=self.clear_requested_at, key=self.key)


class ActiveAlarms:
    """What the engine knows of the active alarms between batches: by deduplication key, the alarm as committed,
    and the keys known to have none. It is only trusted while nobody else has written alarms: the alarm
    collection's write generation (moved by every writing transaction, API and tasks included) must be the one
    this engine's own last commit left; otherwise everything is forgotten and read again. A batch that does not
    commit leaves it untrusted."""

    LIMIT = 200_000  # keys remembered at most; beyond, start again

    def __init__(self):
        self.active: dict[str, _Alarm] = {}
        self.absent: set[str] = set()
        self._generation: int | None = None

    def begin(self, session) -> None:
        if self._generation is None or self._generation != _alarm_generation(session) \
                or len(self.active) + len(self.absent) > self.LIMIT:
            self.active.clear()
            self.absent.clear()
        self._generation = None  # until this batch has committed

    def learned(self, found: dict[str, _Alarm], none: list[str]) -> None:
        for key, alarm in found.items():
            self.active[key] = _Alarm(alarm.ident, alarm.previous, alarm.raised_at, seq=alarm.seq,
                                      version=alarm.version, previous=alarm.previous,
                                      clear_requested_at=alarm.clear_requested_at, key=key)
        self.absent.update(none)

    def written(self, session, alarms: list[_Alarm]) -> None:
        """The batch's alarms as they will be once it commits; taken on only if it does."""
        generation = _alarm_generation(session)
        committed = []
        for alarm in alarms:
            changed = alarm.previous is None or alarm.doc != alarm.previous
            version = alarm.version + 1 if alarm.previous is not None and changed else max(alarm.version, 1)
            key = alarm.key or key_of(alarm.doc)
            committed.append((key, _Alarm(alarm.ident, alarm.doc, alarm.raised_at, seq=alarm.seq, version=version,
                                          previous=alarm.doc, clear_requested_at=alarm.clear_requested_at,
                                          key=key)))

        def take(_session) -> None:
            for key, alarm in committed:
                if alarm.active:
                    self.active[key] = alarm
                    self.absent.discard(key)
                else:
                    self.active.pop(key, None)
                    self.absent.add(key)
            self._generation = generation

        sqlalchemy_event.listen(session, "after_commit", take, once=True)


def _crossed_threshold(record: FaultRecord) -> dict | None:
    crossed = record.details.get(CROSSED_THRESHOLD) if isinstance(record.details, dict) else None
    return crossed if isinstance(crossed, dict) else None


def _alarm_generation(session) -> int | None:
    write_counts_now(session)  # the generation this transaction leaves, once it has written
    return session.execute(select(CollectionCount.generation).where(CollectionCount.name == "alarm")).scalar()


class FaultEngine:
    def __init__(self, alarms: Collection, rules: RuleSet, *, base_url: str,
                 settings: EngineSettings = EngineSettings()):
        self.alarms = alarms
        self.rules = rules
        self.base_url = base_url
        self.settings = settings
        self.resolver = ObjectResolver()
        self.dialect = alarms.db.dialect
        self._cache = ActiveAlarms()
        self.services = ServiceImpacts()

    # --- a batch ----------------------------------------------------------------------------------------

    def apply(self, session, faults: list[FaultRecord]) -> BatchResult:
        """Apply a batch of fault records to the alarms, in the caller's transaction."""
        result = BatchResult(records=len(faults))
        if not faults:
            return result
        if self.dialect == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ALARM_ENGINE_LOCK})
        self._cache.begin(session)
        carried = {index: found for index, record in enumerate(faults)
                   if record.details and (found := carried_object(record)) is not None}
        named_objects = self.resolver.resources(session, dict(carried.values())) if carried else {}
        items = []
        decisions: dict[tuple, Decision] = {}  # what the rules say depends on these only (records carrying no alarm)
        for index, record in enumerate(faults):
            if index in carried:
                decision = self.rules.decide(record)
            else:
                rule_key = (record.source, record.kind, record.severity,
                            bool(record.interface) or record.interface_index is not None)
                decision = decisions.get(rule_key)
                if decision is None:
                    decision = decisions[rule_key] = self.rules.decide(record)
            if decision.definition.object == RESOURCE:  # the record names its resource itself
                target = named_objects[carried[index][0]]
            else:
                target = self.resolver.resolve(session, record.device_address, record.interface,
                                               record.interface_index, decision.definition.object)
            definition = decision.definition
            key = dedup_key(target.id, definition.alarm_type, definition.probable_cause, definition.specific_problem)
            items.append((record, decision, target, key))
        active = self._active(session, {key for *_, key in items})
        recent_raises = self._recent_raises(session, {key for _, d, _, key in items if not d.clear} - set(active))
        created: dict[str, _Alarm] = {}
        touched: dict[str, _Alarm] = {}
        repeated: dict[str, _Alarm] = {}
        for record, decision, target, key in items:
            moment = as_utc(record.device_time or record.received_at)
            current = active.get(key)
            if decision.clear:
                if current is None:
                    result.clears_without_alarm += 1
                    continue
                if current.doc.get("flapping"):
                    current.clear_requested_at, current.clear_request_changed = moment, True
                    result.held += 1
                else:
                    mark_cleared(current.doc, rfc3339(moment))
                    del active[key]
                    result.cleared += 1
                touched[current.ident] = current
                continue
            if current is not None:
                self._repeat(current, decision.severity, moment, record)
                touched[current.ident] = repeated[current.ident] = current
                result.repeated += 1
                continue
            raises = recent_raises.get(key, 0) + 1
            recent_raises[key] = raises
            alarm = self._new(record, decision, target, moment, raises, key)
            active[key] = created[alarm.ident] = alarm
            result.created += 1
            result.unresolved += not target.resolved
        self._service_impact(session, [*created.values(), *repeated.values()])
        result.correlated = self._correlate(session, list(created.values()), touched)
        self._write(session, created, touched)
        self._cache.written(session, [*created.values(), *touched.values()])
        return result

    def _repeat(self, alarm: _Alarm, severity: str, moment: datetime, record: FaultRecord) -> None:
        doc = alarm.doc
        doc["occurrenceCount"] = doc.get("occurrenceCount", 1) + 1
        if alarm.seq is not None:  # stored already: from now on an updated alarm (one raised in this batch stays raised)
            doc["state"] = "updated"
        doc["perceivedSeverity"] = severity
        doc["alarmChangedTime"] = rfc3339(moment)
        if record.text and not doc.get("flapping"):  # a flapping alarm's details say that it flaps
            doc["alarmDetails"] = record.text
        crossed = _crossed_threshold(record)
        if crossed is not None:
            doc["crossedThresholdInformation"] = crossed
        if alarm.clear_requested_at is not None:  # raised again while its clear was held: still flapping
            alarm.clear_requested_at, alarm.clear_request_changed = None, True

    def _new(self, record: FaultRecord, decision, target: AlarmedObject, moment: datetime, raises: int,
             key: str) -> _Alarm:
        definition = decision.definition
        now = rfc3339(datetime.now(timezone.utc))
        doc = {
            "@type": "Alarm", "state": "raised", "alarmType": definition.alarm_type,
            "perceivedSeverity": decision.severity, "probableCause": definition.probable_cause,
            "specificProblem": definition.specific_problem, "alarmedObject": target.reference(),
            "alarmedObjectType": target.referred_type or "Resource",
            "sourceSystemId": record.device_address or REPORTING_SYSTEM,  # a record of ours names no device
            "reportingSystemId": REPORTING_SYSTEM, "alarmRaisedTime": rfc3339(moment),
            "alarmReportingTime": now, "alarmChangedTime": rfc3339(moment), "ackState": "unacknowledged",
            "isRootCause": True, "occurrenceCount": 1, "alarmedObjectResolved": target.resolved,
            "serviceAffecting": False,
        }
        crossed = _crossed_threshold(record)
        if crossed is not None:
            doc["crossedThresholdInformation"] = crossed
        details = record.text or record.kind
        if raises >= self.settings.flap_threshold:
            doc["flapping"] = True
            details += (f" (flapping: raised {raises} times within "
                        f"{int(self.settings.flap_window.total_seconds())} s)")
        doc["alarmDetails"] = details
        return _Alarm(str(uuid.uuid4()), doc, moment, key=key)

    # --- what is already there ---------------------------------------------------------------------------

    def _active(self, session, keys: set[str]) -> dict[str, _Alarm]:
        found: dict[str, _Alarm] = {}
        missing = []
        for key in keys:
            known = self._cache.active.get(key)
            if known is not None:
                found[key] = known.working_copy()
            elif key not in self._cache.absent:
                missing.append(key)
        missing.sort()
        for start in range(0, len(missing), LOOKUP_CHUNK):
            chunk = missing[start:start + LOOKUP_CHUNK]
            rows = session.execute(
                select(*ALARM_STATE)
                .where(AlarmRow.dedup_key.in_(chunk), AlarmRow.active.is_(True))
                .order_by(AlarmRow.seq)).all()
            for row in rows:
                found[row.dedup_key] = self._loaded(row)
        self._cache.learned({key: found[key] for key in missing if key in found},
                            [key for key in missing if key not in found])
        return found

    @staticmethod
    def _loaded(row) -> _Alarm:
        # A shallow copy is enough: the engine replaces members, it never changes one in place.
        return _Alarm(row.id, dict(row.doc), as_utc(row.alarm_raised_time), seq=row.seq, version=row.version,
                      previous=row.doc, clear_requested_at=as_utc(row.clear_requested_at), key=row.dedup_key)

    def _recent_raises(self, session, keys: set[str]) -> dict[str, int]:
        """How often each key was raised within the flap window (cleared alarms included)."""
        if not keys or self.settings.flap_threshold <= 1:
            return {}
        since = datetime.now(timezone.utc) - self.settings.flap_window
        counts: dict[str, int] = {}
        ordered = sorted(keys)
        for start in range(0, len(ordered), LOOKUP_CHUNK):
            chunk = ordered[start:start + LOOKUP_CHUNK]
            counts.update(session.execute(
                select(AlarmRow.dedup_key, func.count()).where(AlarmRow.dedup_key.in_(chunk),
                                                               AlarmRow.alarm_raised_time >= since)
                .group_by(AlarmRow.dedup_key)).all())
        return counts

    # --- service impact ----------------------------------------------------------------------------------

    def _service_impact(self, session, alarms: list[_Alarm]) -> None:
        """List the services each alarm's object (or anything inside it) supports: one lookup for the batch."""
        on_resources = [a for a in alarms if a.active and a.doc.get("alarmedObjectResolved")]
        if not on_resources:
            return
        topology = self.resolver.topology(session)
        scopes = {a.ident: topology.within(a.doc["alarmedObject"]["id"]) for a in on_resources}
        impacts = self.services.lookup(session, set().union(*scopes.values()))
        for alarm in on_resources:
            services = {impact.id: impact for object_id in scopes[alarm.ident]
                        for impact in impacts.get(object_id, ())}
            if services:
                references = [services[ident].reference() for ident in sorted(services)]
                if alarm.doc.get("affectedService") != references:
                    alarm.doc["affectedService"] = references
                alarm.doc["serviceAffecting"] = True
            else:
                alarm.doc.pop("affectedService", None)
                alarm.doc["serviceAffecting"] = False

    # --- correlation -------------------------------------------------------------------------------------

    def _correlate(self, session, new_alarms: list[_Alarm], touched: dict[str, _Alarm]) -> int:
        resolved = [a for a in new_alarms if a.doc.get("alarmedObjectResolved") and a.active]
        if not resolved:
            return 0
        topology = self.resolver.topology(session)
        neighbourhoods = {a.ident: topology.neighbourhood(a.doc["alarmedObject"]["id"]) for a in resolved}
        dependents = {a.ident: topology.dependents(a.doc["alarmedObject"]["id"]) for a in resolved}
        wanted = (set().union(*neighbourhoods.values(), *dependents.values())
                  | {a.doc["alarmedObject"]["id"] for a in resolved})
        by_object: dict[str, list[_Alarm]] = {}
        for alarm in self._active_on(session, wanted, touched):
            by_object.setdefault(alarm.doc["alarmedObject"]["id"], []).append(alarm)
        correlated = 0
        window = self.settings.correlation_window
        for alarm in sorted(resolved, key=lambda a: a.raised_at):
            mine = alarm.doc["alarmedObject"]["id"]
            # Is there a recent root cause on something this alarm's object depends on?
            roots = [other for object_id in neighbourhoods[alarm.ident] for other in by_object.get(object_id, ())
                     if other is not alarm and other.active and not other.has_parent
                     and abs(other.raised_at - alarm.raised_at) <= window]
            if roots:
                root = min(roots, key=lambda a: (a.raised_at, a.ident))
                self._adopt(root, alarm, touched)
                correlated += 1
            else:
                # Does something already alarmed depend on this alarm's object? Then this is their root cause.
                for object_id in dependents[alarm.ident] & by_object.keys():
                    for other in by_object[object_id]:
                        if (other is not alarm and other.active and not other.has_parent
                                and abs(other.raised_at - alarm.raised_at) <= window):
                            self._adopt(alarm, other, touched)
                            correlated += 1
            by_object.setdefault(mine, []).append(alarm)
        return correlated

    def _active_on(self, session, object_ids: set[str], touched: dict[str, _Alarm]) -> list[_Alarm]:
        since = datetime.now(timezone.utc) - self.settings.correlation_window * 2
        found: list[_Alarm] = []
        ordered = sorted(object_ids)
        for start in range(0, len(ordered), LOOKUP_CHUNK):
            chunk = ordered[start:start + LOOKUP_CHUNK]
            rows = session.execute(
                select(*ALARM_STATE)
                .where(AlarmRow.alarmed_object_id.in_(chunk), AlarmRow.active.is_(True),
                       AlarmRow.alarm_raised_time >= since)).all()
            for row in rows:
                found.append(touched.get(row.id) or touched.setdefault(row.id, self._loaded(row)))
        return found

    @staticmethod
    def _adopt(root: _Alarm, child: _Alarm, touched: dict[str, _Alarm]) -> None:
        child.doc["parentAlarm"] = [root.reference()]
        child.doc["isRootCause"] = False
        related = root.doc.get("correlatedAlarm") or []
        if all(ref.get("id") != child.ident for ref in related):
            root.doc["correlatedAlarm"] = [*related, child.reference()]
        root.doc["isRootCause"] = True
        for alarm in (root, child):
            if alarm.seq is not None:
                touched[alarm.ident] = alarm

    # --- writing -----------------------------------------------------------------------------------------

    def _write(self, session, created: dict[str, _Alarm], touched: dict[str, _Alarm]) -> None:
        # The engine writes standard attributes (and our declared extensions) only: nothing new to record.
        context = {"base_url": self.base_url, "correlation_id": None, "standard_only": True}
        if created:
            rows = self.alarms.insert(session, [(a.ident, a.doc) for a in created.values()], **context)
            for alarm, row in zip(created.values(), rows):
                alarm.seq = row.seq
        changes = [RowUpdate(a.seq, a.ident, a.version, a.previous, a.doc) for a in touched.values()
                   if a.previous is not None and a.doc != a.previous]
        self.alarms.update_rows(session, changes, **context)
        held = [a for a in (*created.values(), *touched.values()) if a.clear_request_changed]
        for alarm in held:
            session.execute(update(AlarmRow).where(AlarmRow.seq == alarm.seq)
                            .values(clear_requested_at=alarm.clear_requested_at))

    # --- held clears -------------------------------------------------------------------------------------

    def sweep(self) -> int:
        """Clear the flapping alarms that have stayed clear for the hold time; returns how many."""
        due = datetime.now(timezone.utc) - self.settings.flap_hold
        with self.alarms.db.transaction() as session:
            if self.dialect == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ALARM_ENGINE_LOCK})
            rows = session.execute(
                select(*ALARM_STATE)
                .where(AlarmRow.active.is_(True), AlarmRow.clear_requested_at.is_not(None),
                       AlarmRow.clear_requested_at <= due)).all()
            changes = []
            for row in rows:
                alarm = self._loaded(row)
                mark_cleared(alarm.doc, rfc3339(alarm.clear_requested_at))
                changes.append(RowUpdate(alarm.seq, alarm.ident, alarm.version, alarm.previous, alarm.doc))
            self.alarms.update_rows(session, changes, base_url=self.base_url, correlation_id=None,
                                    standard_only=True)
            if changes:
                session.execute(update(AlarmRow).where(AlarmRow.seq.in_([c.seq for c in changes]))
                                .values(clear_requested_at=None))
        if changes:
            wake_up.notify()
        return len(changes)


def fault_engine(platform, settings) -> FaultEngine:
    """The engine as configured (TMF_OSS_ALARM_RULES_FILE, correlation and flapping settings). Raises RuleError
    for a rules file that cannot be used."""
    base_url = settings.public_base_url or f"http://{settings.host}:{settings.port}"
    return FaultEngine(platform.collection("tmf642", "alarm"), RuleSet.load(settings.alarm_rules_file),
                       base_url=base_url, settings=EngineSettings(
                           correlation_window=timedelta(seconds=settings.correlation_window_seconds),
                           flap_window=timedelta(seconds=settings.flap_window_seconds),
                           flap_threshold=settings.flap_threshold,
                           flap_hold=timedelta(seconds=settings.flap_hold_seconds)))

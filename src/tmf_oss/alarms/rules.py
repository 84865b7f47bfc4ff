"""Which fault records become which alarms: rules, as data a user can extend.

A rule matches a fault record by its `kind` (exactly, or by regular expression with `kind_regex`), optionally its
`source` (snmp-trap, syslog, netconf-notification) and its severity, and says either what alarm it raises (X.733
`alarmType`, `probableCause`, `specificProblem`, `perceivedSeverity`, and whether the alarmed object is the
interface or the whole device) or that it clears the alarm another rule raised (`clears: <rule name>`). The
first matching rule wins; the user's rules come before the built-in ones, so a user can override them.

    rules:
      - name: bgp-down
        kind_regex: "^BGP.*(DOWN|Idle)"
        source: syslog
        raise: {alarmType: communicationsAlarm, probableCause: "routingFailure",
                specificProblem: "BGP session down", perceivedSeverity: major, object: device}
      - name: bgp-up
        kind_regex: "^BGP.*(UP|Established)"
        clears: bgp-down

A record no rule matches still becomes an alarm (`indeterminate` unless the record says a severity), so nothing a
device reports is lost; a record whose severity is `cleared` clears the matching alarm of the same kind.

A record may also carry its own alarm, when its producer knows exactly what it means (performance thresholds):
its `details` then hold the definition and the TMF639 resource it is about, and the rules are not asked —

    details["alarm"] = {"alarmType": ..., "probableCause": ..., "specificProblem": ...}
    details["alarmedObject"] = {"id": <TMF639 resource id>, "name": <optional>}
    details["crossedThresholdInformation"] = {...}  # optional, copied into the alarm as it is

The record's severity is the alarm's; `cleared` clears the alarm with the same definition on the same resource.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from tmf_oss.southbound.faults import SEVERITIES, FaultRecord

ALARM_TYPES = frozenset({"communicationsAlarm", "processingErrorAlarm", "environmentalAlarm",
                         "qualityOfServiceAlarm", "equipmentAlarm", "integrityViolation", "operationalViolation",
                         "physicalViolation", "securityService", "mechanismViolation", "timeDomainViolation"})
OBJECTS = frozenset({"interface", "device"})
RESOURCE = "resource"  # the object of a carried alarm: the resource the record names
CARRIED_ALARM = "alarm"
CARRIED_OBJECT = "alarmedObject"
CROSSED_THRESHOLD = "crossedThresholdInformation"
RULE_KEYS = {"name", "kind", "kind_regex", "source", "severity", "raise", "clears"}
RAISE_KEYS = {"alarmType", "probableCause", "specificProblem", "perceivedSeverity", "object"}


class RuleError(ValueError):
    """A rules file that cannot be used; the message says where and why."""


@dataclass(frozen=True)
class AlarmDefinition:
    alarm_type: str
    probable_cause: str
    specific_problem: str
    severity: str | None  # None: the record's own severity
    object: str  # "interface" (when the record names one), "device", or RESOURCE for a carried alarm


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str | None = None
    kind_regex: re.Pattern | None = None
    source: str | None = None
    severity: str | None = None
    raises: AlarmDefinition | None = None
    clears: str | None = None  # name of the rule whose alarm this one clears

    def matches(self, record: FaultRecord) -> bool:
        if self.kind is not None and record.kind != self.kind:
            return False
        if self.kind_regex is not None and not self.kind_regex.search(record.kind):
            return False
        if self.source is not None and record.source != self.source:
            return False
        return self.severity is None or record.severity == self.severity


@dataclass(frozen=True)
class Decision:
    """What one record means for the alarms: raise (or repeat) this alarm, or clear it."""

    definition: AlarmDefinition
    clear: bool
    severity: str  # for a raise: the alarm's perceivedSeverity
    rule: str


def _link(kind: str, up: str, name: str) -> list[Rule]:
    definition = AlarmDefinition("communicationsAlarm", "lossOfSignal", "link down", "major", "interface")
    return [Rule(name=name, kind=kind, raises=definition), Rule(name=f"{name}-clear", kind=up, clears=name)]


BUILT_IN = [
    # IF-MIB linkDown/linkUp (SNMP traps and the syslog lines that say the same), and the NETCONF notifications of
    # the ietf-interfaces world: the same alarm whatever the protocol, so they deduplicate into one.
    *_link("linkDown", "linkUp", "link-down"),
    *_link("link-down", "link-up", "link-down-notification"),
    Rule("cold-start", kind="coldStart", raises=AlarmDefinition(
        "equipmentAlarm", "reinitialized", "device restarted (cold start)", "warning", "device")),
    Rule("warm-start", kind="warmStart", raises=AlarmDefinition(
        "equipmentAlarm", "reinitialized", "device restarted (warm start)", "warning", "device")),
    Rule("authentication-failure", kind="authenticationFailure", raises=AlarmDefinition(
        "securityService", "authenticationFailure", "SNMP request with a wrong community or user", "warning",
        "device")),
    Rule("egp-neighbour-loss", kind="egpNeighborLoss", raises=AlarmDefinition(
        "communicationsAlarm", "routingFailure", "EGP neighbour lost", "major", "device")),
]


class RuleSet:
    def __init__(self, rules: list[Rule]):
        self.rules = rules
        by_name = {rule.name: rule for rule in rules}
        for rule in rules:
            if rule.clears is not None and (by_name.get(rule.clears) is None or by_name[rule.clears].raises is None):
                raise RuleError(f"rule {rule.name!r} clears {rule.clears!r}, which is not a rule that raises")
        self._by_name = by_name

    @classmethod
    def built_in(cls) -> "RuleSet":
        return cls(list(BUILT_IN))

    @classmethod
    def load(cls, path: str | Path | None) -> "RuleSet":
        """The user's rules (if any) ahead of the built-in ones."""
        if not path:
            return cls.built_in()
        try:
            document = yaml.safe_load(Path(path).read_text())
        except OSError as exc:
            raise RuleError(f"cannot read {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise RuleError(f"{path} is not valid YAML: {exc}") from None
        return cls(parse_rules(document, source=str(path)) + list(BUILT_IN))

    def decide(self, record: FaultRecord) -> Decision:
        carried = carried_decision(record)
        if carried is not None:
            return carried
        for rule in self.rules:
            if rule.matches(record):
                if rule.clears is not None:
                    return Decision(self._by_name[rule.clears].raises, True, "cleared", rule.name)
                definition = rule.raises
                severity = definition.severity or _known_severity(record.severity)
                return Decision(definition, severity == "cleared", severity, rule.name)
        # Unmatched: an alarm of its own kind, as severe as the record says (or indeterminate).
        definition = AlarmDefinition("communicationsAlarm" if record.interface or record.interface_index
                                     is not None else "processingErrorAlarm", record.kind, record.kind, None,
                                     "interface")
        severity = _known_severity(record.severity)
        return Decision(definition, severity == "cleared", severity, "unmatched")


def carried_object(record: FaultRecord) -> tuple[str, str | None] | None:
    """(resource id, name) of the resource a record names itself, if it does."""
    named = record.details.get(CARRIED_OBJECT) if isinstance(record.details, dict) else None
    if not isinstance(named, dict) or not isinstance(named.get("id"), str) or not named["id"]:
        return None
    name = named.get("name")
    return named["id"], name if isinstance(name, str) and name else None


def carried_decision(record: FaultRecord) -> Decision | None:
    """The decision a record carrying its own alarm makes; None for any other record (and for a carried
    definition that is not usable: the rules decide then)."""
    if carried_object(record) is None:
        return None
    alarm = record.details.get(CARRIED_ALARM)
    if not isinstance(alarm, dict) or alarm.get("alarmType") not in ALARM_TYPES:
        return None
    cause = alarm.get("probableCause")
    if not isinstance(cause, str) or not cause:
        return None
    problem = alarm.get("specificProblem")
    definition = AlarmDefinition(alarm["alarmType"], cause, problem if isinstance(problem, str) and problem else cause,
                                 None, RESOURCE)
    severity = _known_severity(record.severity)
    return Decision(definition, severity == "cleared", severity, "carried")


def _known_severity(severity: str | None) -> str:
    return severity if severity in SEVERITIES else "indeterminate"


def parse_rules(document, *, source: str = "rules file") -> list[Rule]:
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise RuleError(f"{source}: expected a mapping with a 'rules' list")
    rules = []
    for position, entry in enumerate(document["rules"], start=1):
        where = f"{source}: rule {position}"
        if not isinstance(entry, dict) or not entry.get("name"):
            raise RuleError(f"{where}: every rule needs a 'name'")
        unknown = set(entry) - RULE_KEYS
        if unknown:
            raise RuleError(f"{where}: unknown settings {sorted(unknown)}")
        if ("raise" in entry) == ("clears" in entry):
            raise RuleError(f"{where}: a rule either raises an alarm ('raise') or clears one ('clears')")
        if "kind" not in entry and "kind_regex" not in entry:
            raise RuleError(f"{where}: a rule matches a 'kind' or a 'kind_regex'")
        try:
            pattern = re.compile(entry["kind_regex"]) if "kind_regex" in entry else None
        except re.error as exc:
            raise RuleError(f"{where}: kind_regex is not a regular expression: {exc}") from None
        severity = entry.get("severity")
        if severity is not None and severity not in SEVERITIES:
            raise RuleError(f"{where}: severity must be one of {list(SEVERITIES)}")
        rules.append(Rule(name=str(entry["name"]), kind=entry.get("kind"), kind_regex=pattern,
                          source=entry.get("source"), severity=severity,
                          raises=_definition(entry["raise"], where) if "raise" in entry else None,
                          clears=entry.get("clears")))
    return rules


def _definition(section, where: str) -> AlarmDefinition:
    if not isinstance(section, dict):
        raise RuleError(f"{where}: 'raise' must be a mapping")
    unknown = set(section) - RAISE_KEYS
    if unknown:
        raise RuleError(f"{where}: unknown raise settings {sorted(unknown)}")
    alarm_type = section.get("alarmType")
    if alarm_type not in ALARM_TYPES:
        raise RuleError(f"{where}: alarmType must be one of {sorted(ALARM_TYPES)}")
    if not section.get("probableCause"):
        raise RuleError(f"{where}: raise needs a probableCause")
    severity = section.get("perceivedSeverity")
    if severity is not None and severity not in SEVERITIES:
        raise RuleError(f"{where}: perceivedSeverity must be one of {list(SEVERITIES)}")
    target = section.get("object", "interface")
    if target not in OBJECTS:
        raise RuleError(f"{where}: object must be 'interface' or 'device'")
    return AlarmDefinition(alarm_type, str(section["probableCause"]),
                           str(section.get("specificProblem") or section["probableCause"]), severity, target)

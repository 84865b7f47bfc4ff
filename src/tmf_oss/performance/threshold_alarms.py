"""Threshold crossings as fault records: the alarm pipeline (alarms/engine.py) turns them into TMF642 alarms with
deduplication, correlation and events like any other fault.

Each record carries its own alarm (alarms/rules.py, "carried" alarms): in `details`

    alarm                        {alarmType: qualityOfServiceAlarm, probableCause: thresholdCrossed, specificProblem}
    alarmedObject                {id: TMF639 resource id of the monitored object, name (when known)}
    crossedThresholdInformation  TMF642's: threshold {@type ThresholdRef, id, name, @referredType}, direction
                                 (up | down), granularity, indicatorName, indicatorUnit, observedValue (a string),
                                 thresholdCrossingDescription
    threshold                    {id, name}
    indicatorId, observedValue (a number), observedAt (RFC 3339)
    prediction                   early warnings only: {crossingTime, valueAtHorizon, slopePerSecond, method,
                                 points, horizonSeconds}

The crossing alarm and the early warning differ in their specificProblem, so they deduplicate separately; a clear
names the specificProblem of the alarm it clears (kept in the object's state) with severity `cleared`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from tmf_oss.alarms.rules import CARRIED_ALARM, CARRIED_OBJECT, CROSSED_THRESHOLD
from tmf_oss.db.base import rfc3339
from tmf_oss.inventory.discovery import device_key
from tmf_oss.inventory.model import DiscoveredResource
from tmf_oss.performance.forecast import Prediction
from tmf_oss.performance.threshold import Threshold
from tmf_oss.performance.threshold_model import PROBLEM_LENGTH
from tmf_oss.southbound.faults import FaultRecord

PERFORMANCE = "performance"  # FaultRecord.source
THRESHOLD_CROSSED = "thresholdCrossed"  # FaultRecord.kind of the crossing alarm
CROSSING_PREDICTED = "thresholdCrossingPredicted"  # of the early warning
ALARM_TYPE = "qualityOfServiceAlarm"
PROBABLE_CAUSE = "thresholdCrossed"
THRESHOLD_REFERRED_TYPE = "PerformanceThreshold"
LOOKUP_CHUNK = 500
# TMF628 granularity names of the interval lengths that have one; others are shown as ISO 8601 durations.
GRANULARITIES = {60: "g_1mn", 300: "g_5mn", 900: "g_15mn", 1800: "g_30mn", 3600: "g_1h", 86400: "g_24h"}


@dataclass(frozen=True)
class Observation:
    """One measured value a threshold was evaluated on, with what an alarm about it should say."""

    object_id: str
    object_name: str
    device_address: str  # of the device the object is (on); "" when unknown
    value: float
    at: datetime  # end of the interval
    indicator_id: str
    indicator_name: str
    indicator_unit: str | None
    granularity: str | None

    @property
    def indicator(self) -> str:
        return self.indicator_name or self.indicator_id

    @property
    def subject(self) -> str:
        return f"{self.indicator} on {self.object_name or self.object_id}"


def granularity(seconds: float) -> str | None:
    if seconds <= 0:
        return None
    whole = round(seconds)
    return GRANULARITIES.get(whole) if whole == seconds and whole in GRANULARITIES else f"PT{seconds:g}S"


def alarm_problem(threshold: Threshold, indicator: str) -> str:
    return _problem(f"{indicator} {_side(threshold)} {number(threshold.raise_level)} (threshold {threshold.name})")


def warning_problem(threshold: Threshold, indicator: str) -> str:
    return _problem(f"{indicator} predicted {_side(threshold)} {number(threshold.raise_level)} "
                    f"(threshold {threshold.name})")


def crossing_raised(threshold: Threshold, seen: Observation, problem: str) -> FaultRecord:
    description = (f"{seen.subject} is {number(seen.value)}: {'at or above' if threshold.rising else 'at or below'} "
                   f"the raise level {number(threshold.raise_level)} of threshold '{threshold.name}' (clears "
                   f"{'at or below' if threshold.rising else 'at or above'} {number(threshold.clear_level)})")
    return _record(threshold, seen.object_id, THRESHOLD_CROSSED, threshold.severity, problem, description,
                   seen, description)


def crossing_cleared(threshold: Threshold, object_id: str, problem: str, seen: Observation | None,
                     why: str | None = None) -> FaultRecord:
    """`seen`: the value back within the clear level; None with `why` when the alarm ends for another reason."""
    if seen is not None:
        why = (f"{seen.subject} is back to {number(seen.value)}, "
               f"{'at or below' if threshold.rising else 'at or above'} the clear level "
               f"{number(threshold.clear_level)} of threshold '{threshold.name}'")
    return _record(threshold, object_id, THRESHOLD_CROSSED, "cleared", problem, why or "", seen, None)


def crossing_predicted(threshold: Threshold, seen: Observation, problem: str, prediction: Prediction) -> FaultRecord:
    text = (f"{seen.subject} predicted to reach {number(threshold.raise_level)} at "
            f"{rfc3339(prediction.crossing_time)}: {number(prediction.value_at_horizon)} expected in "
            f"{number(prediction.horizon_seconds)} s (slope {prediction.slope_per_second:.6g} per second, "
            f"{prediction.method} trend over the last {prediction.points} points; threshold '{threshold.name}')")
    record = _record(threshold, seen.object_id, CROSSING_PREDICTED, threshold.forecast.severity, problem, text, seen,
                     f"predicted: {text}")
    record.details["prediction"] = {
        "crossingTime": rfc3339(prediction.crossing_time), "valueAtHorizon": prediction.value_at_horizon,
        "slopePerSecond": prediction.slope_per_second, "method": prediction.method, "points": prediction.points,
        "horizonSeconds": prediction.horizon_seconds}
    return record


def prediction_withdrawn(threshold: Threshold, object_id: str, problem: str, why: str,
                         seen: Observation | None = None) -> FaultRecord:
    return _record(threshold, object_id, CROSSING_PREDICTED, "cleared", problem, why, seen, None)


def device_addresses(session: Session, object_ids: set[str]) -> dict[str, str]:
    """The management address of the device each object is, or is on, as discovery recorded it."""
    found: dict[str, str] = {}
    ordered = sorted(object_ids)
    prefix = device_key("")
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        rows = session.execute(select(DiscoveredResource.resource_id, DiscoveredResource.device_key)
                               .where(DiscoveredResource.resource_id.in_(ordered[start:start + LOOKUP_CHUNK])))
        for resource_id, key in rows:
            if key.startswith(prefix):
                found[resource_id] = key[len(prefix):]
    return found


def number(value: float) -> str:
    """A level or value as people write it: 80, not 80.0 (nor 80.00000000000001 after arithmetic)."""
    return f"{value:.10g}"


def _side(threshold: Threshold) -> str:
    return "above" if threshold.rising else "below"


def _problem(text: str) -> str:
    return text if len(text) <= PROBLEM_LENGTH else text[:PROBLEM_LENGTH - 1] + "…"


def _record(threshold: Threshold, object_id: str, kind: str, severity: str, problem: str, text: str,
            seen: Observation | None, crossing_description: str | None) -> FaultRecord:
    alarmed = {"id": object_id}
    if seen is not None and seen.object_name:
        alarmed["name"] = seen.object_name
    details: dict = {
        CARRIED_ALARM: {"alarmType": ALARM_TYPE, "probableCause": PROBABLE_CAUSE, "specificProblem": problem},
        CARRIED_OBJECT: alarmed,
        "threshold": {"id": threshold.id, "name": threshold.name},
        "indicatorId": threshold.indicator_id,
    }
    if seen is not None:
        details.update(observedValue=seen.value, observedAt=rfc3339(seen.at))
        crossed = {"threshold": {"@type": "ThresholdRef", "id": threshold.id, "name": threshold.name,
                                 "@referredType": THRESHOLD_REFERRED_TYPE},
                   "direction": "up" if threshold.rising else "down", "indicatorName": seen.indicator,
                   "observedValue": number(seen.value)}
        if seen.granularity:
            crossed["granularity"] = seen.granularity
        if seen.indicator_unit:
            crossed["indicatorUnit"] = seen.indicator_unit
        if crossing_description:
            crossed["thresholdCrossingDescription"] = crossing_description
        details[CROSSED_THRESHOLD] = crossed
    return FaultRecord(source=PERFORMANCE, device_address=seen.device_address if seen is not None else "",
                       received_at=datetime.now(timezone.utc), kind=kind, severity=severity, text=text,
                       device_time=seen.at if seen is not None else None, details=details)

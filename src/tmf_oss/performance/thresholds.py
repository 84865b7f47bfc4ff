"""Threshold evaluation: samples in, threshold alarms (as fault records for the alarm pipeline) out.

For every sample whose indicator has thresholds whose scope holds the sample's object, per (threshold, object):
- rising: a value at or above the raise level raises the crossing alarm; it stays raised until a value at or below
  the clear level clears it — values in between change nothing (hysteresis), so a value hovering at the level
  gives one alarm, not a flood. Falling thresholds mirror this.
- early warning (thresholds with a `forecast`): while not crossed, when the trend of the last `window` values
  (performance/forecast.py) reaches the raise level within the horizon, a warning alarm is raised (its own
  specificProblem, the prediction in its alarmDetails); it is cleared when the trend no longer gets there in time
  or when the real crossing alarm is raised, which supersedes it.
- missing values (None) change nothing and do not feed the forecast; a sample no newer than the last one evaluated
  for the pair is a repeat and is skipped, so evaluating the same samples twice (a retry, two processes) raises
  nothing twice.
The states and the fault records of one call are written in one transaction: an alarm is raised exactly when its
state says so, whatever crashes.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy.orm import Session

from tmf_oss.db.base import as_utc
from tmf_oss.db.engine import Database
from tmf_oss.performance.forecast import predict_crossing
from tmf_oss.performance.samples import Sample
from tmf_oss.performance.threshold import Threshold, thresholds_for
from tmf_oss.performance.threshold_alarms import (
    Observation,
    alarm_problem,
    crossing_cleared,
    crossing_predicted,
    crossing_raised,
    device_addresses,
    granularity,
    prediction_withdrawn,
    warning_problem,
)
from tmf_oss.performance.threshold_scope import ScopeMatcher
from tmf_oss.performance.threshold_state import ObjectState, load_states, lock_thresholds, save_states
from tmf_oss.southbound.fault_store import FaultStore
from tmf_oss.southbound.faults import FaultRecord
from tmf_oss.tmf.collection import Collection

log = logging.getLogger("tmf_oss.performance.thresholds")


@dataclass
class EvaluationResult:
    samples: int = 0
    evaluated: int = 0  # (threshold, sample) pairs looked at
    raised: int = 0
    cleared: int = 0
    warned: int = 0
    warnings_cleared: int = 0
    missing: int = 0  # samples without a value: ignored
    repeated: int = 0  # samples no newer than the pair's last: ignored


class ThresholdEvaluator:
    def __init__(self, db: Database, *, resources: Collection | None = None,
                 indicator_unit: Callable[[str], str | None] | None = None,
                 job_granularity: Callable[[str], str | None] | None = None):
        """`resources`: the TMF639 resource collection that `objectFilter`s select from (without it only the
        objects thresholds name are in scope). `indicator_unit(indicator id)` and `job_granularity(job id)`, when
        given, fill in the alarms' indicatorUnit and granularity (TMF628 names, e.g. g_15mn); without them the
        granularity is told from the sample's interval."""
        self.db = db
        self.scopes = ScopeMatcher(resources)
        self.faults = FaultStore(db)
        self.indicator_unit = indicator_unit or (lambda _indicator: None)
        self.job_granularity = job_granularity or (lambda _job: None)

    def evaluate(self, samples: list[Sample]) -> EvaluationResult:
        result = EvaluationResult(samples=len(samples))
        measured = [s for s in samples if s.value is not None and math.isfinite(s.value)]
        result.missing = len(samples) - len(measured)
        indicators = {s.series.indicator_id for s in measured}
        if not indicators:
            return result
        with self.db.transaction() as session:
            if not thresholds_for(session, indicators):
                return result  # the common case: nothing to lock for
            lock_thresholds(session)
            thresholds = thresholds_for(session, indicators)  # again: they may have changed before our turn
            work = self._in_scope(session, measured, thresholds)
            if not work:
                return result
            states = load_states(session, {(t.id, s.series.object_id) for t, s in work})
            touched: dict[tuple[str, str], ObjectState] = {}
            pending: list[tuple[Threshold, Sample, ObjectState, list]] = []
            for threshold, sample in work:
                key = (threshold.id, sample.series.object_id)
                state = states.get(key) or ObjectState(*key)
                states[key] = state
                if state.last_at is not None and as_utc(sample.end) <= state.last_at:
                    result.repeated += 1
                    continue
                result.evaluated += 1
                touched[key] = state
                changes: list = []
                self._step(threshold, sample, state, changes)
                if changes:
                    pending.append((threshold, sample, state, changes))
            records = self._records(session, pending, result)
            save_states(session, list(touched.values()))
            self.faults.record_in(session, records)
        return result

    # --- which thresholds apply -----------------------------------------------------------------------------

    def _in_scope(self, session: Session, samples: list[Sample],
                  thresholds: dict[str, list[Threshold]]) -> list[tuple[Threshold, Sample]]:
        """(threshold, sample) pairs to evaluate, oldest sample first (a call may hold several intervals)."""
        by_indicator: dict[str, list[Sample]] = {}
        for sample in samples:
            if sample.series.indicator_id in thresholds:
                by_indicator.setdefault(sample.series.indicator_id, []).append(sample)
        work = []
        for indicator, found in by_indicator.items():
            objects = {s.series.object_id for s in found}
            for threshold in thresholds[indicator]:
                scope = self.scopes.in_scope(session, threshold, objects)
                work.extend((threshold, s) for s in found if s.series.object_id in scope)
        work.sort(key=lambda pair: pair[1].end)
        return work

    # --- one value --------------------------------------------------------------------------------------------

    @staticmethod
    def _step(threshold: Threshold, sample: Sample, state: ObjectState, changes: list) -> None:
        """Move the state on by one value; `changes` gets what the alarms must hear: ("raise"|"clear"|"warn"|
        "unwarn"[, prediction or reason])."""
        value, moment = sample.value, as_utc(sample.end)
        state.last_value, state.last_at = value, moment
        forecast = threshold.forecast
        if forecast is not None:
            state.points = [*state.points, [moment.timestamp(), value]][-forecast.window:]
        elif state.points:
            state.points = []
        if not state.crossed:
            if threshold.reached(value):
                state.crossed = True
                changes.append(("raise",))
                if state.warned:
                    state.warned = False
                    changes.append(("unwarn", "superseded: the threshold was crossed"))
                return
        elif threshold.recovered(value):
            state.crossed = False
            changes.append(("clear",))
        else:
            return  # crossed, and not yet back within the clear level: nothing changes
        if forecast is None:
            if state.warned:  # the forecast was removed from the threshold since
                state.warned = False
                changes.append(("unwarn", "the threshold no longer forecasts"))
            return
        points = [(_instant(moment), point) for moment, point in state.points]
        prediction = predict_crossing(points, threshold.raise_level, threshold.direction, forecast.horizon_seconds,
                                      forecast.method)
        if prediction is not None and not state.warned:
            state.warned = True
            changes.append(("warn", prediction))
        elif prediction is None and state.warned:
            state.warned = False
            changes.append(("unwarn", "the trend recovered: it no longer reaches the raise level within "
                                      f"{forecast.horizon_seconds:g} s"))

    # --- what the alarms hear -------------------------------------------------------------------------------

    def _records(self, session: Session, pending: list, result: EvaluationResult) -> list[FaultRecord]:
        if not pending:
            return []
        addresses = device_addresses(session, {state.object_id for _, _, state, _ in pending})
        records = []
        for threshold, sample, state, changes in pending:
            seen = self._observation(sample, addresses.get(state.object_id, ""))
            for change in changes:
                kind = change[0]
                if kind == "raise":
                    state.alarm_problem = alarm_problem(threshold, seen.indicator)
                    records.append(crossing_raised(threshold, seen, state.alarm_problem))
                    result.raised += 1
                elif kind == "clear":
                    records.append(crossing_cleared(threshold, state.object_id,
                                                    state.alarm_problem or alarm_problem(threshold, seen.indicator),
                                                    seen))
                    state.alarm_problem = None
                    result.cleared += 1
                elif kind == "warn":
                    state.warning_problem = warning_problem(threshold, seen.indicator)
                    records.append(crossing_predicted(threshold, seen, state.warning_problem, change[1]))
                    result.warned += 1
                else:
                    problem = state.warning_problem or warning_problem(threshold, seen.indicator)
                    records.append(prediction_withdrawn(threshold, state.object_id, problem, change[1], seen))
                    state.warning_problem = None
                    result.warnings_cleared += 1
        return records

    def _observation(self, sample: Sample, device_address: str) -> Observation:
        series = sample.series
        return Observation(
            object_id=series.object_id, object_name=sample.object_name, device_address=device_address,
            value=sample.value, at=sample.end, indicator_id=series.indicator_id,
            indicator_name=sample.indicator_name, indicator_unit=self.indicator_unit(series.indicator_id),
            granularity=self.job_granularity(series.job_id) or granularity((sample.end - sample.start)
                                                                           .total_seconds()))


def threshold_evaluator(platform, **options) -> ThresholdEvaluator:
    """The evaluator of a platform: objectFilters select from its TMF639 resources."""
    return ThresholdEvaluator(platform.db, resources=platform.collection("tmf639", "resource"), **options)


def _instant(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, timezone.utc)

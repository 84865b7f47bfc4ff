"""Early warning: where an indicator's recent values are heading, and whether they reach a level soon.

Two simple methods, chosen to be explained to an operator in one sentence each; both work on the last few
(time, value) points of one series (the threshold's `window`) and give a value now and a slope per second:

- `linear`: the least-squares straight line through the points. Every point weighs the same, so one spike moves
  it little; it is slow to notice a change of direction.
- `holt`: Holt's double exponential smoothing, a level and a trend each updated point by point, newer points
  weighing more. `alpha` (level, default 0.5) is the weight of the newest value against the level carried
  forward; `beta` (trend, default 0.3) the weight of the newest change of level against the trend carried
  forward. Points need not be evenly spaced: the trend is per second and the level is carried forward by the
  trend times the time between points.

The series is then extended in a straight line from the last point's time: the level is predicted to be crossed
when that line reaches it, provided it does so within the horizon.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

LINEAR = "linear"
HOLT = "holt"
METHODS = (LINEAR, HOLT)
RISING = "rising"
FALLING = "falling"
MIN_POINTS = 3  # fewer say nothing about a trend
HOLT_ALPHA = 0.5
HOLT_BETA = 0.3


@dataclass(frozen=True)
class Prediction:
    crossing_time: datetime  # when the level is predicted to be reached (the last point's time if already)
    value_at_horizon: float  # the value predicted `horizon_seconds` after the last point
    slope_per_second: float
    method: str
    points: int  # how many points the prediction rests on
    horizon_seconds: float


@dataclass(frozen=True)
class Trend:
    value: float  # the method's value at the last point's time
    slope_per_second: float


def linear_trend(points: Sequence[tuple[float, float]]) -> Trend | None:
    """Least squares over (seconds, value) points; None when the times do not differ."""
    if not points:
        return None
    now = points[-1][0]
    times = [t - now for t, _ in points]  # relative to the last point: no precision lost on epoch seconds
    values = [v for _, v in points]
    mean_t = sum(times) / len(times)
    mean_v = sum(values) / len(values)
    spread = sum((t - mean_t) ** 2 for t in times)
    if spread == 0:
        return None
    slope = sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values)) / spread
    return Trend(mean_v - slope * mean_t, slope)


def holt_trend(points: Sequence[tuple[float, float]], alpha: float = HOLT_ALPHA,
               beta: float = HOLT_BETA) -> Trend | None:
    """Holt's level and trend after the last point; None without two points at different times."""
    if len(points) < 2:
        return None
    (t0, level), (t1, second) = points[0], points[1]
    if t1 <= t0:
        return None
    trend = (second - level) / (t1 - t0)
    previous_time = t0
    for moment, value in points[1:]:
        elapsed = moment - previous_time
        if elapsed <= 0:
            continue  # a repeated time adds nothing a rate could be drawn from
        carried = level + trend * elapsed
        new_level = alpha * value + (1 - alpha) * carried
        trend = beta * (new_level - level) / elapsed + (1 - beta) * trend
        level, previous_time = new_level, moment
    return Trend(level, trend)


def trend_of(points: Sequence[tuple[float, float]], method: str) -> Trend | None:
    if method == LINEAR:
        return linear_trend(points)
    if method == HOLT:
        return holt_trend(points)
    raise ValueError(f"unknown forecast method {method!r}; one of {', '.join(METHODS)}")


def predict_crossing(points: Sequence[tuple[datetime, float]], level: float, direction: str,
                     horizon_seconds: float, method: str) -> Prediction | None:
    """When the trend of `points` (oldest first) reaches `level` — going up for `rising`, down for `falling` —
    within `horizon_seconds` of the last point; None when it does not, or with fewer than MIN_POINTS points."""
    if len(points) < MIN_POINTS or direction not in (RISING, FALLING):
        return None
    last = points[-1][0]
    trend = trend_of([((moment - last).total_seconds(), value) for moment, value in points], method)
    if trend is None:
        return None
    sign = 1 if direction == RISING else -1
    slope = trend.slope_per_second
    gap = sign * (level - trend.value)  # how far the trend still has to go; <= 0: there already
    if gap <= 0:
        if sign * slope < 0:
            return None  # beyond the level by the model's reckoning but heading back
        seconds = 0.0
    elif sign * slope <= 0:
        return None
    else:
        seconds = gap / (sign * slope)
    if seconds > horizon_seconds:
        return None
    return Prediction(crossing_time=last + timedelta(seconds=seconds),
                      value_at_horizon=trend.value + slope * horizon_seconds, slope_per_second=slope,
                      method=method, points=len(points), horizon_seconds=horizon_seconds)

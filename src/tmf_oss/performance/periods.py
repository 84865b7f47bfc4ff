"""TMF628 granularities and reporting periods as lengths of time.

A job measures once per granularity period, on boundaries aligned to the clock (a 15-minute job measures the
quarter-hours), and reports (files ready, measurements announced) once per reporting period. Month and year
granularities and `na` have no fixed length a poller can keep: they are refused for collection jobs.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

GRANULARITY_SECONDS = {"g_1mn": 60, "g_5mn": 300, "g_15mn": 900, "g_30mn": 1800, "g_1h": 3600, "g_24h": 86400}
REPORTING_SECONDS = {"r_1mn": 60, "r_5mn": 300, "r_15mn": 900, "r_30mn": 1800, "r_1h": 3600, "r_24h": 86400}
NOT_POLLABLE = {"g_1m": "a month", "g_1y": "a year", "na": "no period"}
DEFAULT_GRANULARITY = "g_15mn"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def granularity_problem(granularity: str | None) -> str | None:
    if granularity is None or granularity in GRANULARITY_SECONDS:
        return None
    if granularity in NOT_POLLABLE:
        return (f"granularity '{granularity}' ({NOT_POLLABLE[granularity]}) cannot be collected by polling: "
                f"use one of {', '.join(GRANULARITY_SECONDS)}")
    return f"granularity '{granularity}' is not one of {', '.join(GRANULARITY_SECONDS)}"


def reporting_problem(granularity: str | None, reporting: str | None) -> str | None:
    if reporting in (None, "na"):
        return None
    if reporting not in REPORTING_SECONDS:
        return f"reportingPeriod '{reporting}' is not one of {', '.join(REPORTING_SECONDS)} or na"
    step = GRANULARITY_SECONDS.get(granularity or DEFAULT_GRANULARITY)
    if step is None:
        return None
    period = REPORTING_SECONDS[reporting]
    if period < step:
        return f"reportingPeriod '{reporting}' is shorter than the granularity '{granularity}': nothing to report"
    if period % step:
        return f"reportingPeriod '{reporting}' is not a whole number of '{granularity}' periods"
    return None


class Clock:
    """Granularity periods in real seconds. `seconds_per_minute` below 60 compresses time for a lab or a demo
    (TMF_OSS_PM_SECONDS_PER_MINUTE=2 measures a 1-minute job every 2 s); production keeps 60."""

    def __init__(self, seconds_per_minute: float = 60.0):
        if seconds_per_minute <= 0:
            raise ValueError("seconds_per_minute must be positive")
        self.scale = seconds_per_minute / 60.0

    def step(self, granularity: str | None) -> float:
        return GRANULARITY_SECONDS[granularity or DEFAULT_GRANULARITY] * self.scale

    def reporting_step(self, granularity: str | None, reporting: str | None) -> float:
        if reporting in (None, "na"):
            return self.step(granularity)
        return REPORTING_SECONDS[reporting] * self.scale

    def interval_start(self, moment: datetime, step: float) -> datetime:
        """The start of the aligned period `moment` falls in."""
        elapsed = (moment - EPOCH).total_seconds()
        return EPOCH + timedelta(seconds=elapsed - elapsed % step)

    def boundary_at_or_after(self, moment: datetime, step: float) -> datetime:
        start = self.interval_start(moment, step)
        return start if start == moment else start + timedelta(seconds=step)

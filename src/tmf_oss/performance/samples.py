"""What collection produces and everything downstream consumes: one indicator's value for one monitored object
over one interval. Storage, thresholds, /metrics and the TMF628 performanceMeasurement view all speak this."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SeriesKey:
    """A measured series: which job measured which indicator on which monitored object (TMF639 resource id)."""

    job_id: str
    object_id: str
    indicator_id: str


@dataclass(frozen=True)
class Sample:
    """One interval's value. `value` None means the measurement is missing (device unreachable, counter reset,
    division by zero...) and `missing_reason` says why: missing is never stored or shown as zero."""

    series: SeriesKey
    start: datetime  # interval start, UTC
    end: datetime  # interval end, UTC
    value: float | None
    missing_reason: str | None = None
    indicator_name: str = ""  # for labels (metrics, alarms); the id is what identifies
    object_name: str = ""

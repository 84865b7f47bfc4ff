"""A performance threshold as evaluation sees it: which indicator on which objects, the levels and their
hysteresis, and the optional early warning."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from tmf_oss.performance.forecast import RISING
from tmf_oss.performance.threshold_model import ThresholdRow

DIRECTIONS = ("rising", "falling")
SEVERITIES = ("critical", "major", "minor", "warning")


@dataclass(frozen=True)
class Forecast:
    method: str  # forecast.METHODS
    window: int  # points the prediction rests on
    horizon_seconds: float
    severity: str  # of the warning alarm


@dataclass(frozen=True)
class Threshold:
    id: str
    name: str
    indicator_id: str
    object_ids: tuple[str, ...]
    object_filter: str | None
    direction: str  # rising: alarm at or above raise_level, cleared at or below clear_level; falling: mirrored
    raise_level: float
    clear_level: float
    severity: str
    forecast: Forecast | None = None

    @property
    def rising(self) -> bool:
        return self.direction == RISING

    def reached(self, value: float) -> bool:
        return value >= self.raise_level if self.rising else value <= self.raise_level

    def recovered(self, value: float) -> bool:
        return value <= self.clear_level if self.rising else value >= self.clear_level

    def columns(self) -> dict:
        """Its ThresholdRow column values (besides id, times and document)."""
        forecast = self.forecast
        return {"name": self.name, "indicator_id": self.indicator_id, "object_ids": list(self.object_ids),
                "object_filter": self.object_filter, "direction": self.direction, "raise_level": self.raise_level,
                "clear_level": self.clear_level, "severity": self.severity,
                "forecast": None if forecast is None else {
                    "method": forecast.method, "window": forecast.window,
                    "horizon_seconds": forecast.horizon_seconds, "severity": forecast.severity}}

    @classmethod
    def from_row(cls, row) -> "Threshold":
        forecast = row.forecast
        return cls(id=row.id, name=row.name, indicator_id=row.indicator_id, object_ids=tuple(row.object_ids or ()),
                   object_filter=row.object_filter, direction=row.direction, raise_level=row.raise_level,
                   clear_level=row.clear_level, severity=row.severity,
                   forecast=None if not forecast else Forecast(forecast["method"], int(forecast["window"]),
                                                               float(forecast["horizon_seconds"]),
                                                               forecast["severity"]))


THRESHOLD_COLUMNS = (ThresholdRow.id, ThresholdRow.name, ThresholdRow.indicator_id, ThresholdRow.object_ids,
                     ThresholdRow.object_filter, ThresholdRow.direction, ThresholdRow.raise_level,
                     ThresholdRow.clear_level, ThresholdRow.severity, ThresholdRow.forecast)


def thresholds_for(session: Session, indicator_ids: Iterable[str]) -> dict[str, list[Threshold]]:
    """The thresholds on these indicators, by indicator id: one query."""
    wanted = sorted(set(indicator_ids))
    if not wanted:
        return {}
    found: dict[str, list[Threshold]] = {}
    rows = session.execute(select(*THRESHOLD_COLUMNS).where(ThresholdRow.indicator_id.in_(wanted))
                           .order_by(ThresholdRow.id)).all()
    for row in rows:
        found.setdefault(row.indicator_id, []).append(Threshold.from_row(row))
    return found

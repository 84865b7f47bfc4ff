"""The tables of performance thresholds: each threshold as an operator defined it, and per monitored object
where its crossing stands, so that hysteresis and forecasts survive restarts and are shared by processes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tmf_oss.db.base import Base, JsonDocument, UtcDateTime, utcnow

ID_LENGTH = 128
PROBLEM_LENGTH = 512


class ThresholdRow(Base):
    """One threshold. The typed columns are what evaluation reads; `doc` is the document the API shows."""

    __tablename__ = "pm_threshold"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    indicator_id: Mapped[str] = mapped_column(String(256), index=True)
    object_ids: Mapped[list] = mapped_column(JsonDocument)  # explicit monitored objects (TMF639 resource ids)
    object_filter: Mapped[str | None] = mapped_column(Text)  # a TMF639 resource query, e.g. name.regex=ge
    direction: Mapped[str] = mapped_column(String(16))  # rising | falling
    raise_level: Mapped[float] = mapped_column(Float)
    clear_level: Mapped[float] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(16))
    forecast: Mapped[dict | None] = mapped_column(JsonDocument)  # {method, window, horizon_seconds, severity}
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    doc: Mapped[dict] = mapped_column(JsonDocument)


class ThresholdStateRow(Base):
    """Where one threshold stands for one monitored object. The specific problems of the alarms it raised are
    kept so that their clears match them whatever happens to the threshold meanwhile."""

    __tablename__ = "pm_threshold_state"

    threshold_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("pm_threshold.id", ondelete="CASCADE"),
                                              primary_key=True)
    object_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    crossed: Mapped[bool] = mapped_column(Boolean, default=False)
    warned: Mapped[bool] = mapped_column(Boolean, default=False)
    alarm_problem: Mapped[str | None] = mapped_column(String(PROBLEM_LENGTH))  # of the raised crossing alarm
    warning_problem: Mapped[str | None] = mapped_column(String(PROBLEM_LENGTH))  # of the raised warning
    last_value: Mapped[float | None] = mapped_column(Float)
    last_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # end of the last interval evaluated
    points: Mapped[list] = mapped_column(JsonDocument)  # [[epoch seconds, value], ...] oldest first, <= window
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

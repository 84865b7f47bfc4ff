"""The performance time-series tables: one row per measured series, one narrow row per interval value, and
roll-ups of completed 15-minute and hourly buckets.

On PostgreSQL pm_value is partitioned by range of `start`, one partition per UTC day plus a DEFAULT partition
(created by the migration; performance/partitions.py manages the day partitions). On SQLite it is a plain table.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Double, Index, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tmf_oss.db.base import Base, UtcDateTime

ID_LENGTH = 128
NAME_LENGTH = 256
MISSING_REASON_LENGTH = 64  # longer reasons are shortened: the value row stays narrow
ROLLUP_PERIODS = (900, 3600)


class PmSeries(Base):
    """A measured series: the TMF628 job, the monitored object (TMF639 resource id) and the indicator."""

    __tablename__ = "pm_series"

    # 32-bit: the id is repeated in every value row, and two billion series is far beyond any deployment.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    object_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    indicator_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    indicator_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    object_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    period_seconds: Mapped[int] = mapped_column(Integer)  # the job's granularity
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("job_id", "object_id", "indicator_id"),
        Index("ix_pm_series_object_id", "object_id"),
        # No separate job_id index: the unique constraint's index starts with job_id.
    )


class PmValue(Base):
    """One interval's value of one series. `value` NULL is a missing measurement, `missing_reason` says why."""

    __tablename__ = "pm_value"

    series_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    start: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)  # interval start
    value: Mapped[float | None] = mapped_column(Double)
    missing_reason: Mapped[str | None] = mapped_column(String(MISSING_REASON_LENGTH))

    __table_args__ = (
        # Time-range scans (roll-ups, exports, retention on SQLite). BRIN on PostgreSQL: rows arrive in time
        # order, so a summary per block range is nearly free to maintain where a B-tree would cost every write.
        Index("ix_pm_value_start", "start", postgresql_using="brin"),
        {"postgresql_partition_by": "RANGE (start)"},
    )


class PmRollup(Base):
    """Aggregate of one series over one completed bucket of `period_seconds` (900 or 3600) starting at `start`."""

    __tablename__ = "pm_rollup"

    series_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    period_seconds: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    start: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    interval_count: Mapped[int] = mapped_column(Integer)  # intervals stored in the bucket, missing ones included
    missing_count: Mapped[int] = mapped_column(Integer)
    value_sum: Mapped[float | None] = mapped_column(Double)  # NULL when every interval is missing
    value_min: Mapped[float | None] = mapped_column(Double)
    value_max: Mapped[float | None] = mapped_column(Double)
    value_last: Mapped[float | None] = mapped_column(Double)  # the latest value present

    __table_args__ = (
        # Which buckets are rolled up already, and roll-up retention, go by period and time.
        Index("ix_pm_rollup_period_start", "period_seconds", "start"),
    )

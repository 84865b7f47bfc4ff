"""TMF628 tables: indicator specifications and groups, measurement collection jobs, and what the server records
about them (tracking records, data access endpoints). The measured values themselves live in the time-series
tables (timeseries_model.py), which are built for volume rather than as TMF documents."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tmf_oss.db.base import Base, JsonDocument, SurrogateKey, UtcDateTime, utcnow


class _Entity:
    """The columns every TMF entity table has: the shared collection machinery reads and writes these."""

    seq: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(128), unique=True)
    type: Mapped[str] = mapped_column("at_type", String(128))
    base_type: Mapped[str | None] = mapped_column("at_base_type", String(128))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    doc: Mapped[dict] = mapped_column(JsonDocument)


class IndicatorSpecificationRow(_Entity, Base):
    __tablename__ = "performance_indicator_specification"

    name: Mapped[str | None] = mapped_column(String(256), index=True)
    indicator_category: Mapped[str | None] = mapped_column(String(128), index=True)
    collection_type: Mapped[str | None] = mapped_column(String(32))
    body: Mapped[str | None] = mapped_column(Text)  # the v5 representation (without id/href), rendered on write


class IndicatorGroupSpecificationRow(_Entity, Base):
    __tablename__ = "performance_indicator_group_specification"

    name: Mapped[str | None] = mapped_column(String(256), index=True)
    group_category: Mapped[str | None] = mapped_column(String(128), index=True)


class CollectionJobRow(_Entity, Base):
    __tablename__ = "measurement_collection_job"

    execution_state: Mapped[str | None] = mapped_column(String(32), index=True)
    admin_state: Mapped[str | None] = mapped_column(String(32))
    granularity: Mapped[str | None] = mapped_column(String(16))
    # Not TMF attributes: when the collector next measures the job, and the lease of the worker measuring it
    # (several workers never poll one job's devices for the same interval).
    next_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_measurement_collection_job_due", "next_run_at"),
    )


class TrackingRecordRow(_Entity, Base):
    __tablename__ = "tracking_record"

    job_id: Mapped[str | None] = mapped_column(String(128), index=True)  # the job the record is about
    time: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)


class DataAccessEndpointRow(_Entity, Base):
    __tablename__ = "data_access_endpoint"

    job_id: Mapped[str | None] = mapped_column(String(128), index=True)
    name: Mapped[str | None] = mapped_column(String(256))

"""TMF642 table: one row per alarm, typed columns for what the console and the fault engine look up."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tmf_oss.db.base import Base, JsonDocument, SurrogateKey, UtcDateTime, utcnow


class AlarmRow(Base):
    __tablename__ = "alarm"

    seq: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(128), unique=True)
    type: Mapped[str] = mapped_column("at_type", String(128))
    base_type: Mapped[str | None] = mapped_column("at_base_type", String(128))
    state: Mapped[str | None] = mapped_column(String(16), index=True)
    perceived_severity: Mapped[str | None] = mapped_column(String(16), index=True)
    alarm_type: Mapped[str | None] = mapped_column(String(64))
    probable_cause: Mapped[str | None] = mapped_column(String(256))
    ack_state: Mapped[str | None] = mapped_column(String(16))
    is_root_cause: Mapped[bool | None] = mapped_column(Boolean)
    alarm_raised_time: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # Not TMF attributes: what deduplication and correlation look alarms up by (alarms.identity).
    alarmed_object_id: Mapped[str | None] = mapped_column(String(256))
    dedup_key: Mapped[str | None] = mapped_column(String(1024))
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # state is not cleared
    # A flapping alarm's clear is held back: when it was asked for (alarms.engine clears it after the hold time).
    clear_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    doc: Mapped[dict] = mapped_column(JsonDocument)
    # The representation (without id/href) as JSON text, rendered on write: v4 and v5 alarms look the same.
    body: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_alarm_dedup_key_active", "dedup_key", "active"),
        Index("ix_alarm_object_active", "alarmed_object_id", "active"),
        # No GIN index on doc: the fault engine rewrites an alarm's document on every repeat, and the index's
        # entries with it, which cost more than half of PostgreSQL's time per fault record. The filters a NOC
        # uses are served by the columns above (state, severity, raised time, alarmedObject.id); other nested
        # attributes are filtered by reading the documents.
    )

"""Hub subscriptions and the transactional outbox shared by every API."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tmf_oss.db.base import Base, JsonDocument, SurrogateKey, UtcDateTime, utcnow


class HubSubscription(Base):
    __tablename__ = "hub_subscription"

    seq: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    api: Mapped[str] = mapped_column(String(32), index=True)  # e.g. "tmf639"
    api_version: Mapped[str] = mapped_column(String(8))  # envelope shape: "v4" or "v5"
    callback: Mapped[str] = mapped_column(Text)
    query: Mapped[str | None] = mapped_column(Text)
    # Highest outbox seq this subscription has dealt with (delivered or skipped): in-order delivery.
    delivered_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class OutboxEvent(Base):
    """An event written in the same transaction as the change it describes."""

    __tablename__ = "outbox_event"

    seq: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    api: Mapped[str] = mapped_column(String(32))
    event_type: Mapped[str] = mapped_column(String(96))
    entity_name: Mapped[str] = mapped_column(String(64))  # payload key, e.g. "resource"
    entity_id: Mapped[str] = mapped_column(String(128))
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    base_url: Mapped[str] = mapped_column(Text)  # hrefs in the event are built from the URL the change came in on
    entity: Mapped[dict] = mapped_column(JsonDocument)  # canonical representation at the time of the change
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (Index("ix_outbox_event_api_seq", "api", "seq"),)

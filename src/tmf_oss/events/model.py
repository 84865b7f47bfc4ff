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
    # Highest outbox seq this subscription has dealt with (delivered, parked or not matching its query):
    # everything after it is pending, and it only moves forward, so delivery stays in commit order.
    delivered_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # Failed attempts at the event right after the cursor, and when the first of them happened.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Which dispatcher serves the subscription, until when: one at a time, taken over when it lapses.
    lease_owner: Mapped[str | None] = mapped_column(String(96))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Running totals for the delivery state (metrics, `tmf-oss events status`).
    delivered_count: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


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


PARKED = "parked"  # given up on after the retry policy; waits for an operator
REPLAY = "replay"  # an operator asked for another attempt; the dispatcher picks it up
REPLAYED = "replayed"  # delivered on replay; kept as a record


class ParkedDelivery(Base):
    """An event a subscription's callback did not accept within the retry policy (the dead-letter list)."""

    __tablename__ = "parked_delivery"

    seq: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(String(64))
    api: Mapped[str] = mapped_column(String(32))
    event_seq: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(96))
    state: Mapped[str] = mapped_column(String(16), default=PARKED)
    attempts: Mapped[int] = mapped_column(Integer)
    first_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    parked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    replayed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_parked_delivery_subscription_state", "subscription_id", "state", "event_seq"),
        Index("ix_parked_delivery_event_seq", "event_seq"),
    )

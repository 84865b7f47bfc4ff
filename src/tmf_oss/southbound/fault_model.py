"""The table received faults are kept in: one row per FaultRecord, in the order they were written."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tmf_oss.db.base import Base, JsonDocument, SurrogateKey, UtcDateTime

# Longest values the bounded columns take; the store shortens anything longer rather than lose the record.
SOURCE_LENGTH = 32
DEVICE_ADDRESS_LENGTH = 64  # an IPv6 address with a zone index fits
KIND_LENGTH = 128
SEVERITY_LENGTH = 16
INTERFACE_LENGTH = 128


class FaultRow(Base):
    __tablename__ = "fault_record"

    seq: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(SOURCE_LENGTH))
    device_address: Mapped[str] = mapped_column(String(DEVICE_ADDRESS_LENGTH))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    device_time: Mapped[datetime | None] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))
    severity: Mapped[str] = mapped_column(String(SEVERITY_LENGTH))
    interface: Mapped[str | None] = mapped_column(String(INTERFACE_LENGTH))
    interface_index: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JsonDocument)

    # Every listing is newest first; seq ends each index so rows received in the same instant keep a stable
    # order and the index alone serves the ORDER BY.
    __table_args__ = (
        Index("ix_fault_record_received_at", "received_at", "seq"),
        Index("ix_fault_record_device_received_at", "device_address", "received_at", "seq"),
        Index("ix_fault_record_kind_received_at", "kind", "received_at", "seq"),
    )


class FaultProgress(Base):
    """How far a consumer of the fault records (the fault engine) has got: the last seq it applied."""

    __tablename__ = "fault_progress"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)

"""TMF641 tables: service orders, cancellation tasks, and the orchestrator's journal of what it changed.

The journal (device changes with how to undo them, inventory effects of each item) is what lets a failed item be
rolled back, a cancelled order be undone, and an order whose worker died be resumed by another one: everything a
worker did on a device is written down before it does it.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tmf_oss.db.base import Base, JsonDocument, SurrogateKey, UtcDateTime, utcnow


class ServiceOrderRow(Base):
    __tablename__ = "service_order"

    seq: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(128), unique=True)
    type: Mapped[str] = mapped_column("at_type", String(128))
    base_type: Mapped[str | None] = mapped_column("at_base_type", String(128))
    state: Mapped[str | None] = mapped_column(String(32), index=True)
    external_id: Mapped[str | None] = mapped_column(String(256), index=True)
    priority: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[str | None] = mapped_column(String(256))
    order_date: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # Not TMF attributes: when the orchestrator may start the order (requestedStartDate or creation), and the
    # lease of the worker processing it (several workers never hold one order at once).
    ready_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    doc: Mapped[dict] = mapped_column(JsonDocument)
    body: Mapped[str | None] = mapped_column(Text)  # the v4 representation (without id/href), rendered on write

    __table_args__ = (
        Index("ix_service_order_work", "state", "ready_at"),
        Index("ix_service_order_doc_gin", "doc", postgresql_using="gin",
              postgresql_ops={"doc": "jsonb_path_ops"}).ddl_if(dialect="postgresql"),
    )


class CancelServiceOrderRow(Base):
    __tablename__ = "cancel_service_order"

    seq: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(128), unique=True)
    type: Mapped[str] = mapped_column("at_type", String(128))
    base_type: Mapped[str | None] = mapped_column("at_base_type", String(128))
    state: Mapped[str | None] = mapped_column(String(32), index=True)
    order_id: Mapped[str | None] = mapped_column(String(128), index=True)  # serviceOrder.id
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    doc: Mapped[dict] = mapped_column(JsonDocument)


class OrderDeviceChange(Base):
    """One configuration change an order item makes on one device, written before the change is sent."""

    __tablename__ = "order_device_change"

    seq: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(128), index=True)
    item_id: Mapped[str] = mapped_column(String(128))
    device: Mapped[str] = mapped_column(String(256))  # management address
    # sent: written before the change went to the device (which may or may not have it now); undone: rolled back
    status: Mapped[str] = mapped_column(String(16))
    undo: Mapped[list] = mapped_column(JsonDocument)  # edit-config contents that restore what was there before
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class OrderItemResult(Base):
    """What a completed item changed in the inventory, so a cancellation can take it back."""

    __tablename__ = "order_item_result"

    seq: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(128), index=True)
    item_id: Mapped[str] = mapped_column(String(128))
    effects: Mapped[dict] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

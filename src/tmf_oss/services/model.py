"""TMF638 tables: the service inventory, and which resources each service is built on."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tmf_oss.db.base import Base, JsonDocument, SurrogateKey, UtcDateTime, utcnow


class ServiceRow(Base):
    """One service instance. Typed columns hold what people filter and sort on; `doc` holds the rest of the
    canonical (v5) representation, without id/href which are derived."""

    __tablename__ = "service"

    seq: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(128), unique=True)
    type: Mapped[str] = mapped_column("at_type", String(128), index=True)
    base_type: Mapped[str | None] = mapped_column("at_base_type", String(128))
    name: Mapped[str | None] = mapped_column(String(512), index=True)
    state: Mapped[str | None] = mapped_column(String(32), index=True)
    operating_status: Mapped[str | None] = mapped_column(String(32), index=True)
    category: Mapped[str | None] = mapped_column(String(256), index=True)
    service_type: Mapped[str | None] = mapped_column(String(256), index=True)
    start_date: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    doc: Mapped[dict] = mapped_column(JsonDocument)
    # The v5 representation (without id/href) as JSON text, rendered on write: reads send it as is.
    body: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_service_doc_gin", "doc", postgresql_using="gin",
              postgresql_ops={"doc": "jsonb_path_ops"}).ddl_if(dialect="postgresql"),
    )


class ServiceResourceRow(Base):
    """A supportingResource entry as a real edge: which services a resource carries, in one indexed lookup."""

    __tablename__ = "service_resource"

    service_seq: Mapped[int] = mapped_column(ForeignKey("service.seq", ondelete="CASCADE"), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(128), primary_key=True)

    __table_args__ = (
        Index("ix_service_resource_resource_id", "resource_id", "service_seq"),
    )

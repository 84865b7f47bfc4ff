"""TMF633 table: one row per service specification, typed columns for what people filter on."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tmf_oss.db.base import Base, JsonDocument, SurrogateKey, UtcDateTime, utcnow


class ServiceSpecificationRow(Base):
    __tablename__ = "service_specification"

    seq: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(128), unique=True)
    type: Mapped[str] = mapped_column("at_type", String(128))
    base_type: Mapped[str | None] = mapped_column("at_base_type", String(128))
    name: Mapped[str | None] = mapped_column(String(256), index=True)
    lifecycle_status: Mapped[str | None] = mapped_column(String(64), index=True)
    # The specification's own `version` attribute; `version` below is the row's (the ETag).
    spec_version: Mapped[str | None] = mapped_column(String(64))
    is_bundle: Mapped[bool | None] = mapped_column(Boolean)
    # Digest of the catalog file entry this row was last loaded from (catalog.seed); None when written by a client
    # only. The loader rewrites a row only when its file entry changes, so clients' later edits survive restarts.
    seed_digest: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    doc: Mapped[dict] = mapped_column(JsonDocument)
    # The v4 representation (without id/href) as JSON text, rendered on write.
    body: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_service_specification_doc_gin", "doc", postgresql_using="gin",
              postgresql_ops={"doc": "jsonb_path_ops"}).ddl_if(dialect="postgresql"),
    )

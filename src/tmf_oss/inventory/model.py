"""TMF639 tables: resources and the topology links between them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from tmf_oss.db.base import Base, JsonDocument, SurrogateKey, UtcDateTime, utcnow


class ResourceRow(Base):
    """One inventory resource. Typed columns hold what people filter and sort on; `doc` holds the rest of
    the canonical (v5-shaped) representation, without id/href which are derived."""

    __tablename__ = "resource"

    seq: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(128), unique=True)
    type: Mapped[str] = mapped_column("at_type", String(128), index=True)
    base_type: Mapped[str | None] = mapped_column("at_base_type", String(128))
    name: Mapped[str | None] = mapped_column(String(512), index=True)
    category: Mapped[str | None] = mapped_column(String(256), index=True)
    administrative_state: Mapped[str | None] = mapped_column(String(32), index=True)
    operational_state: Mapped[str | None] = mapped_column(String(32), index=True)
    usage_state: Mapped[str | None] = mapped_column(String(32), index=True)
    lifecycle_state: Mapped[str | None] = mapped_column(String(32), index=True)
    resource_status: Mapped[str | None] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    doc: Mapped[dict] = mapped_column(JsonDocument)
    # Each API version's representation (without id/href) as JSON text, rendered on write: reads send it as is.
    body_v4: Mapped[str | None] = mapped_column(Text)
    body_v5: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(
            "ix_resource_doc_gin",
            "doc",
            postgresql_using="gin",
            postgresql_ops={"doc": "jsonb_path_ops"},
        ).ddl_if(dialect="postgresql"),
    )


# Nested attribute paths (canonical, dotted) whose leaf values resource_value holds: what people filter resources on
# by equality. The trigger that fills resource_value is generated from this list by a migration (0016): changing it
# takes a new migration that recreates resource_value_leaves() from the new list and refills the table.
RESOURCE_VALUE_PATHS = (
    "resourceCharacteristic.name",
    "resourceCharacteristic.value",
    "relatedParty.partyOrPartyRole.id",
)


class ResourceValueRow(Base):
    """The scalar values (strings, numbers, booleans) found at each of RESOURCE_VALUE_PATHS in a resource's document,
    one row per distinct value, so `resourceCharacteristic.value=2042` is a short walk of the (path, value, seq) key
    in seq order rather than a GIN bitmap scan that rechecks and sorts every match.

    PostgreSQL only fills and reads it: an AFTER INSERT / UPDATE trigger on resource keeps it exact for every writer
    (API, orchestrator, COPY loaders), deletes cascade. The walk is the one a lax jsonpath equality filter makes
    (`$."resourceCharacteristic"."value" ? (@ == x)`: arrays unwrapped at every member step, then two more array
    levels), and `value` is jsonb, whose equality is the jsonpath `==` (numbers numerically, strings exactly, never
    across types). Values too large for a B-tree entry are left out; a filter on one keeps the jsonpath test.
    The table exists on SQLite too, empty, so both databases have the same tables."""

    __tablename__ = "resource_value"

    path: Mapped[str] = mapped_column(String(256), primary_key=True)
    value: Mapped[object] = mapped_column(JsonDocument, primary_key=True)
    # Its own index as well: deleting a resource finds its rows by seq.
    seq: Mapped[int] = mapped_column(ForeignKey("resource.seq", ondelete="CASCADE"), primary_key=True, index=True)


class ResourceLinkRow(Base):
    """A resourceRelationship entry as a real edge, so topology can be walked in SQL."""

    __tablename__ = "resource_link"

    seq: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    source_seq: Mapped[int] = mapped_column(ForeignKey("resource.seq", ondelete="CASCADE"), index=True)
    target_id: Mapped[str] = mapped_column(String(128), index=True)
    relationship_type: Mapped[str] = mapped_column(String(64), index=True, server_default=text("''"))
    position: Mapped[int] = mapped_column(Integer, default=0)


class DiscoveredResource(Base):
    """Which inventory resource stands for a thing discovery found (a device, one of its interfaces)."""

    __tablename__ = "discovered_resource"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)  # e.g. device:192.0.2.1/interface:ge-0/0/1
    device_key: Mapped[str] = mapped_column(String(256), index=True)
    resource_id: Mapped[str] = mapped_column(String(128))
    present: Mapped[bool] = mapped_column(Boolean, default=True)  # seen by the latest discovery of its device
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

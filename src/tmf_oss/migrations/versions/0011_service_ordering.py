"""service ordering (TMF641): orders, cancellation tasks, the orchestrator's journal

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
INSTANT = sa.DateTime(timezone=True)
KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "service_order",
        sa.Column("seq", KEY, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("at_type", sa.String(length=128), nullable=False),
        sa.Column("at_base_type", sa.String(length=128), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=True),
        sa.Column("external_id", sa.String(length=256), nullable=True),
        sa.Column("priority", sa.String(length=32), nullable=True),
        sa.Column("category", sa.String(length=256), nullable=True),
        sa.Column("order_date", INSTANT, nullable=False),
        sa.Column("ready_at", INSTANT, nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", INSTANT, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.Column("doc", JSON_DOCUMENT, nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_service_order")),
        sa.UniqueConstraint("id", name=op.f("uq_service_order_id")),
    )
    op.create_index("ix_service_order_state", "service_order", ["state"])
    op.create_index("ix_service_order_external_id", "service_order", ["external_id"])
    op.create_index("ix_service_order_order_date", "service_order", ["order_date"])
    op.create_index("ix_service_order_work", "service_order", ["state", "ready_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_service_order_doc_gin", "service_order", ["doc"], postgresql_using="gin",
                        postgresql_ops={"doc": "jsonb_path_ops"})
    op.create_table(
        "cancel_service_order",
        sa.Column("seq", KEY, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("at_type", sa.String(length=128), nullable=False),
        sa.Column("at_base_type", sa.String(length=128), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=True),
        sa.Column("order_id", sa.String(length=128), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.Column("doc", JSON_DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_cancel_service_order")),
        sa.UniqueConstraint("id", name=op.f("uq_cancel_service_order_id")),
    )
    op.create_index("ix_cancel_service_order_state", "cancel_service_order", ["state"])
    op.create_index("ix_cancel_service_order_order_id", "cancel_service_order", ["order_id"])
    op.create_table(
        "order_device_change",
        sa.Column("seq", KEY, autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("item_id", sa.String(length=128), nullable=False),
        sa.Column("device", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("undo", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_order_device_change")),
    )
    op.create_index("ix_order_device_change_order_id", "order_device_change", ["order_id"])
    op.create_table(
        "order_item_result",
        sa.Column("seq", KEY, autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("item_id", sa.String(length=128), nullable=False),
        sa.Column("effects", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_order_item_result")),
    )
    op.create_index("ix_order_item_result_order_id", "order_item_result", ["order_id"])


def downgrade() -> None:
    for table in ("order_item_result", "order_device_change", "cancel_service_order", "service_order"):
        op.drop_table(table)

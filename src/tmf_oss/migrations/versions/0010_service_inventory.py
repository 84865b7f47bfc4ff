"""service inventory (TMF638): services and the resources that support them

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
INSTANT = sa.DateTime(timezone=True)
KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "service",
        sa.Column("seq", KEY, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("at_type", sa.String(length=128), nullable=False),
        sa.Column("at_base_type", sa.String(length=128), nullable=True),
        sa.Column("name", sa.String(length=512), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=True),
        sa.Column("operating_status", sa.String(length=32), nullable=True),
        sa.Column("category", sa.String(length=256), nullable=True),
        sa.Column("service_type", sa.String(length=256), nullable=True),
        sa.Column("start_date", INSTANT, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.Column("doc", JSON_DOCUMENT, nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_service")),
        sa.UniqueConstraint("id", name=op.f("uq_service_id")),
    )
    for column in ("at_type", "name", "state", "operating_status", "category", "service_type", "start_date",
                   "created_at", "updated_at"):
        op.create_index(f"ix_service_{column}", "service", [column])
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_service_doc_gin", "service", ["doc"], postgresql_using="gin",
                        postgresql_ops={"doc": "jsonb_path_ops"})
    op.create_table(
        "service_resource",
        sa.Column("service_seq", KEY, nullable=False),
        sa.Column("resource_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["service_seq"], ["service.seq"],
                                name=op.f("fk_service_resource_service_seq_service"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("service_seq", "resource_id", name=op.f("pk_service_resource")),
    )
    op.create_index("ix_service_resource_resource_id", "service_resource", ["resource_id", "service_seq"])


def downgrade() -> None:
    op.drop_table("service_resource")
    op.drop_table("service")

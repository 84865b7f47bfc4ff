"""service catalog (TMF633 service specifications)

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "service_specification",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("at_type", sa.String(length=128), nullable=False),
        sa.Column("at_base_type", sa.String(length=128), nullable=True),
        sa.Column("name", sa.String(length=256), nullable=True),
        sa.Column("lifecycle_status", sa.String(length=64), nullable=True),
        sa.Column("spec_version", sa.String(length=64), nullable=True),
        sa.Column("is_bundle", sa.Boolean(), nullable=True),
        sa.Column("seed_digest", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.Column("doc", JSON_DOCUMENT, nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_service_specification")),
        sa.UniqueConstraint("id", name=op.f("uq_service_specification_id")),
    )
    op.create_index("ix_service_specification_name", "service_specification", ["name"])
    op.create_index("ix_service_specification_lifecycle_status", "service_specification", ["lifecycle_status"])
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_service_specification_doc_gin", "service_specification", ["doc"],
                        postgresql_using="gin", postgresql_ops={"doc": "jsonb_path_ops"})


def downgrade() -> None:
    op.drop_table("service_specification")

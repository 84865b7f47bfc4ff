"""alarms (TMF642)

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alarm",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("at_type", sa.String(length=128), nullable=False),
        sa.Column("at_base_type", sa.String(length=128), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column("perceived_severity", sa.String(length=16), nullable=True),
        sa.Column("alarm_type", sa.String(length=64), nullable=True),
        sa.Column("probable_cause", sa.String(length=256), nullable=True),
        sa.Column("ack_state", sa.String(length=16), nullable=True),
        sa.Column("is_root_cause", sa.Boolean(), nullable=True),
        sa.Column("alarm_raised_time", INSTANT, nullable=False),
        sa.Column("alarmed_object_id", sa.String(length=256), nullable=True),
        sa.Column("dedup_key", sa.String(length=1024), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("clear_requested_at", INSTANT, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.Column("doc", JSON_DOCUMENT, nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_alarm")),
        sa.UniqueConstraint("id", name=op.f("uq_alarm_id")),
    )
    op.create_index("ix_alarm_state", "alarm", ["state"])
    op.create_index("ix_alarm_perceived_severity", "alarm", ["perceived_severity"])
    op.create_index("ix_alarm_alarm_raised_time", "alarm", ["alarm_raised_time"])
    op.create_index("ix_alarm_dedup_key_active", "alarm", ["dedup_key", "active"])
    op.create_index("ix_alarm_object_active", "alarm", ["alarmed_object_id", "active"])
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_alarm_doc_gin", "alarm", ["doc"], postgresql_using="gin",
                        postgresql_ops={"doc": "jsonb_path_ops"})


def downgrade() -> None:
    op.drop_table("alarm")

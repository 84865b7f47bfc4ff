"""performance thresholds and their per-object crossing state

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pm_threshold",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("indicator_id", sa.String(length=256), nullable=False),
        sa.Column("object_ids", JSON_DOCUMENT, nullable=False),
        sa.Column("object_filter", sa.Text(), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("raise_level", sa.Float(), nullable=False),
        sa.Column("clear_level", sa.Float(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("forecast", JSON_DOCUMENT, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.Column("doc", JSON_DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pm_threshold")),
    )
    op.create_index("ix_pm_threshold_indicator_id", "pm_threshold", ["indicator_id"])
    op.create_table(
        "pm_threshold_state",
        sa.Column("threshold_id", sa.String(length=128), nullable=False),
        sa.Column("object_id", sa.String(length=128), nullable=False),
        sa.Column("crossed", sa.Boolean(), nullable=False),
        sa.Column("warned", sa.Boolean(), nullable=False),
        sa.Column("alarm_problem", sa.String(length=512), nullable=True),
        sa.Column("warning_problem", sa.String(length=512), nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("last_at", INSTANT, nullable=True),
        sa.Column("points", JSON_DOCUMENT, nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.ForeignKeyConstraint(["threshold_id"], ["pm_threshold.id"], ondelete="CASCADE",
                                name=op.f("fk_pm_threshold_state_threshold_id_pm_threshold")),
        sa.PrimaryKeyConstraint("threshold_id", "object_id", name=op.f("pk_pm_threshold_state")),
    )


def downgrade() -> None:
    op.drop_table("pm_threshold_state")
    op.drop_table("pm_threshold")

"""performance measurements: the time-series tables (series, values partitioned by time on PostgreSQL, roll-ups)

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "pm_series",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=128), nullable=False),
        sa.Column("object_id", sa.String(length=128), nullable=False),
        sa.Column("indicator_id", sa.String(length=128), nullable=False),
        sa.Column("indicator_name", sa.String(length=256), nullable=False),
        sa.Column("object_name", sa.String(length=256), nullable=False),
        sa.Column("period_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pm_series")),
        sa.UniqueConstraint("job_id", "object_id", "indicator_id",
                            name=op.f("uq_pm_series_job_id_object_id_indicator_id")),
    )
    op.create_index("ix_pm_series_object_id", "pm_series", ["object_id"])
    op.create_table(
        "pm_value",
        sa.Column("series_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("start", INSTANT, nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("missing_reason", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("series_id", "start", name=op.f("pk_pm_value")),
        postgresql_partition_by="RANGE (start)",
    )
    op.create_index("ix_pm_value_start", "pm_value", ["start"], postgresql_using="brin")
    if postgresql:
        # Day partitions are created ahead by maintenance (performance/partitions.py); whatever falls outside
        # them lands here, so a write never fails for want of a partition.
        op.execute("CREATE TABLE pm_value_default PARTITION OF pm_value DEFAULT")
    op.create_table(
        "pm_rollup",
        sa.Column("series_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("period_seconds", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("start", INSTANT, nullable=False),
        sa.Column("interval_count", sa.Integer(), nullable=False),
        sa.Column("missing_count", sa.Integer(), nullable=False),
        sa.Column("value_sum", sa.Double(), nullable=True),
        sa.Column("value_min", sa.Double(), nullable=True),
        sa.Column("value_max", sa.Double(), nullable=True),
        sa.Column("value_last", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("series_id", "period_seconds", "start", name=op.f("pk_pm_rollup")),
    )
    op.create_index("ix_pm_rollup_period_start", "pm_rollup", ["period_seconds", "start"])


def downgrade() -> None:
    op.drop_table("pm_rollup")
    op.drop_table("pm_value")  # its partitions go with it
    op.drop_table("pm_series")

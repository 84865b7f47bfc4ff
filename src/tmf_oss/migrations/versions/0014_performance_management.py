"""performance management (TMF628): indicator specifications, groups, collection jobs, tracking records, data access endpoints

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
INSTANT = sa.DateTime(timezone=True)
KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _entity_table(name: str, *columns: sa.Column, indexed: tuple[str, ...]) -> None:
    op.create_table(
        name,
        sa.Column("seq", KEY, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("at_type", sa.String(length=128), nullable=False),
        sa.Column("at_base_type", sa.String(length=128), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.Column("doc", JSON_DOCUMENT, nullable=False),
        *columns,
        sa.PrimaryKeyConstraint("seq", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("id", name=op.f(f"uq_{name}_id")),
    )
    for column in indexed:
        op.create_index(f"ix_{name}_{column}", name, [column])


def upgrade() -> None:
    _entity_table("performance_indicator_specification",
                  sa.Column("name", sa.String(length=256), nullable=True),
                  sa.Column("indicator_category", sa.String(length=128), nullable=True),
                  sa.Column("collection_type", sa.String(length=32), nullable=True),
                  sa.Column("body", sa.Text(), nullable=True),
                  indexed=("name", "indicator_category"))
    _entity_table("performance_indicator_group_specification",
                  sa.Column("name", sa.String(length=256), nullable=True),
                  sa.Column("group_category", sa.String(length=128), nullable=True),
                  indexed=("name", "group_category"))
    _entity_table("measurement_collection_job",
                  sa.Column("execution_state", sa.String(length=32), nullable=True),
                  sa.Column("admin_state", sa.String(length=32), nullable=True),
                  sa.Column("granularity", sa.String(length=16), nullable=True),
                  sa.Column("next_run_at", INSTANT, nullable=True),
                  sa.Column("lease_owner", sa.String(length=128), nullable=True),
                  sa.Column("lease_until", INSTANT, nullable=True),
                  indexed=("execution_state",))
    op.create_index("ix_measurement_collection_job_due", "measurement_collection_job", ["next_run_at"])
    _entity_table("tracking_record",
                  sa.Column("job_id", sa.String(length=128), nullable=True),
                  sa.Column("time", INSTANT, nullable=True),
                  indexed=("job_id", "time"))
    _entity_table("data_access_endpoint",
                  sa.Column("job_id", sa.String(length=128), nullable=True),
                  sa.Column("name", sa.String(length=256), nullable=True),
                  indexed=("job_id",))


def downgrade() -> None:
    for name in ("data_access_endpoint", "tracking_record", "measurement_collection_job",
                 "performance_indicator_group_specification", "performance_indicator_specification"):
        op.drop_table(name)

"""durable delivery: leases, retry bookkeeping, counters and the parked (dead-letter) list

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Moment = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("hub_subscription") as batch:
        batch.add_column(sa.Column("first_failure_at", Moment, nullable=True))
        batch.add_column(sa.Column("lease_owner", sa.String(length=96), nullable=True))
        batch.add_column(sa.Column("lease_until", Moment, nullable=True))
        batch.add_column(sa.Column("delivered_count", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("failed_count", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_delivered_at", Moment, nullable=True))
    op.create_table(
        "parked_delivery",
        sa.Column("seq", Key, autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("api", sa.String(length=32), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=96), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_attempt_at", Moment, nullable=True),
        sa.Column("parked_at", Moment, nullable=False),
        sa.Column("replayed_at", Moment, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_parked_delivery")),
    )
    op.create_index("ix_parked_delivery_subscription_state", "parked_delivery",
                    ["subscription_id", "state", "event_seq"])
    op.create_index("ix_parked_delivery_event_seq", "parked_delivery", ["event_seq"])


def downgrade() -> None:
    op.drop_table("parked_delivery")
    with op.batch_alter_table("hub_subscription") as batch:
        for name in ("last_delivered_at", "failed_count", "delivered_count", "lease_until", "lease_owner",
                     "first_failure_at"):
            batch.drop_column(name)

"""received faults: every FaultRecord the trap, syslog and NETCONF receivers produce

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Moment = sa.DateTime(timezone=True)
Document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "fault_record",
        sa.Column("seq", Key, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("device_address", sa.String(length=64), nullable=False),
        sa.Column("received_at", Moment, nullable=False),
        sa.Column("device_time", Moment, nullable=True),
        sa.Column("kind", sa.String(length=128), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("interface", sa.String(length=128), nullable=True),
        sa.Column("interface_index", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("details", Document, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_fault_record")),
    )
    op.create_index("ix_fault_record_received_at", "fault_record", ["received_at", "seq"])
    op.create_index("ix_fault_record_device_received_at", "fault_record", ["device_address", "received_at", "seq"])
    op.create_index("ix_fault_record_kind_received_at", "fault_record", ["kind", "received_at", "seq"])


def downgrade() -> None:
    op.drop_table("fault_record")

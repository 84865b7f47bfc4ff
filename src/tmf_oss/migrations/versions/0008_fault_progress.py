"""fault engine progress: how far the fault records have been turned into alarms

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fault_progress",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_fault_progress")),
    )


def downgrade() -> None:
    op.drop_table("fault_progress")

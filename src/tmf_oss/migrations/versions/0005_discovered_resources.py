"""discovery: which resource stands for which discovered device or interface

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "discovered_resource",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("device_key", sa.String(length=256), nullable=False),
        sa.Column("resource_id", sa.String(length=128), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_discovered_resource")),
    )
    op.create_index("ix_discovered_resource_device_key", "discovered_resource", ["device_key"])


def downgrade() -> None:
    op.drop_table("discovered_resource")

"""attributes clients add beyond the standard, per collection

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "extension_attribute",
        sa.Column("collection", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("arrays", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("collection", "path", name=op.f("pk_extension_attribute")),
    )


def downgrade() -> None:
    op.drop_table("extension_attribute")

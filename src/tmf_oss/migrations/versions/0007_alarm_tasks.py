"""alarm tasks (TMF642): one table per task collection, v4 plural and v5 singular

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
INSTANT = sa.DateTime(timezone=True)

# Named after the collections: v4 ackAlarms -> ack_alarms, v5 ackAlarm -> ack_alarm, ...
TABLES = tuple(f"{kind}_alarm{plural}" for plural in ("s", "")
               for kind in ("ack", "un_ack", "clear", "comment", "group", "un_group"))


def upgrade() -> None:
    for table in TABLES:
        op.create_table(
            table,
            sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                      nullable=False),
            sa.Column("id", sa.String(length=128), nullable=False),
            sa.Column("at_type", sa.String(length=128), nullable=False),
            sa.Column("at_base_type", sa.String(length=128), nullable=True),
            sa.Column("state", sa.String(length=32), nullable=True),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("created_at", INSTANT, nullable=False),
            sa.Column("updated_at", INSTANT, nullable=False),
            sa.Column("doc", JSON_DOCUMENT, nullable=False),
            sa.PrimaryKeyConstraint("seq", name=op.f(f"pk_{table}")),
            sa.UniqueConstraint("id", name=op.f(f"uq_{table}_id")),
        )
        op.create_index(f"ix_{table}_state", table, ["state"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)

"""alarm: no GIN index on the document; alarmedObject.id filters use the alarmed_object_id column

The fault engine rewrites an alarm's document on every repeat of its fault, and a GIN index on the document had
every one of its entries rewritten with it: more than half of PostgreSQL's time per fault record.

Revision ID: 0015
Revises: 0014
"""
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_alarm_doc_gin", table_name="alarm")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_alarm_doc_gin", "alarm", ["doc"], postgresql_using="gin",
                        postgresql_ops={"doc": "jsonb_path_ops"})

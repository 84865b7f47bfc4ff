"""resource inventory, hub subscriptions and outbox

Revision ID: 0001
Revises: 
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('collection_count',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('generation', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_collection_count'))
    )
    op.create_table('hub_subscription',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('api', sa.String(length=32), nullable=False),
    sa.Column('api_version', sa.String(length=8), nullable=False),
    sa.Column('callback', sa.Text(), nullable=False),
    sa.Column('query', sa.Text(), nullable=True),
    sa.Column('delivered_seq', sa.BigInteger(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_hub_subscription')),
    sa.UniqueConstraint('id', name=op.f('uq_hub_subscription_id'))
    )
    with op.batch_alter_table('hub_subscription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hub_subscription_api'), ['api'], unique=False)

    op.create_table('outbox_event',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('api', sa.String(length=32), nullable=False),
    sa.Column('event_type', sa.String(length=96), nullable=False),
    sa.Column('entity_name', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.String(length=128), nullable=False),
    sa.Column('correlation_id', sa.String(length=64), nullable=True),
    sa.Column('base_url', sa.Text(), nullable=False),
    sa.Column('entity', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_outbox_event')),
    sa.UniqueConstraint('event_id', name=op.f('uq_outbox_event_event_id'))
    )
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_event_api_seq', ['api', 'seq'], unique=False)

    op.create_table('resource',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('at_type', sa.String(length=128), nullable=False),
    sa.Column('at_base_type', sa.String(length=128), nullable=True),
    sa.Column('name', sa.String(length=512), nullable=True),
    sa.Column('category', sa.String(length=256), nullable=True),
    sa.Column('administrative_state', sa.String(length=32), nullable=True),
    sa.Column('operational_state', sa.String(length=32), nullable=True),
    sa.Column('usage_state', sa.String(length=32), nullable=True),
    sa.Column('lifecycle_state', sa.String(length=32), nullable=True),
    sa.Column('resource_status', sa.String(length=32), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('doc', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('body_v4', sa.Text(), nullable=True),
    sa.Column('body_v5', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_resource')),
    sa.UniqueConstraint('id', name=op.f('uq_resource_id'))
    )
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resource_administrative_state'), ['administrative_state'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_at_type'), ['at_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_lifecycle_state'), ['lifecycle_state'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_operational_state'), ['operational_state'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_resource_status'), ['resource_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_updated_at'), ['updated_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_usage_state'), ['usage_state'], unique=False)

    op.create_table('resource_link',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('target_id', sa.String(length=128), nullable=False),
    sa.Column('relationship_type', sa.String(length=64), server_default=sa.text("('')"), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['source_seq'], ['resource.seq'], name=op.f('fk_resource_link_source_seq_resource'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_resource_link'))
    )
    with op.batch_alter_table('resource_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resource_link_relationship_type'), ['relationship_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_link_source_seq'), ['source_seq'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_link_target_id'), ['target_id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        # Keep rows up to a full page inline and uncompressed: a resource row carries its document and two
        # rendered representations (2-4 KB), and compressing them moves every read through decompression.
        op.execute("ALTER TABLE resource SET (toast_tuple_target = 8160)")
        # Answers jsonpath filters (doc @? '$.a.b ? (@ == "x")') on nested attributes without a table scan.
        op.create_index("ix_resource_doc_gin", "resource", ["doc"], postgresql_using="gin",
                        postgresql_ops={"doc": "jsonb_path_ops"})
    op.bulk_insert(sa.table("collection_count", sa.column("name", sa.String), sa.column("total", sa.BigInteger)),
                   [{"name": "resource", "total": 0}])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_resource_doc_gin", table_name="resource")
    with op.batch_alter_table('resource_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resource_link_target_id'))
        batch_op.drop_index(batch_op.f('ix_resource_link_source_seq'))
        batch_op.drop_index(batch_op.f('ix_resource_link_relationship_type'))

    op.drop_table('resource_link')
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resource_usage_state'))
        batch_op.drop_index(batch_op.f('ix_resource_updated_at'))
        batch_op.drop_index(batch_op.f('ix_resource_resource_status'))
        batch_op.drop_index(batch_op.f('ix_resource_operational_state'))
        batch_op.drop_index(batch_op.f('ix_resource_name'))
        batch_op.drop_index(batch_op.f('ix_resource_lifecycle_state'))
        batch_op.drop_index(batch_op.f('ix_resource_created_at'))
        batch_op.drop_index(batch_op.f('ix_resource_category'))
        batch_op.drop_index(batch_op.f('ix_resource_at_type'))
        batch_op.drop_index(batch_op.f('ix_resource_administrative_state'))

    op.drop_table('resource')
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_event_api_seq')

    op.drop_table('outbox_event')
    with op.batch_alter_table('hub_subscription', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hub_subscription_api'))

    op.drop_table('hub_subscription')
    op.drop_table('collection_count')

"""resource_value: the leaf values of the nested paths resources are filtered on, kept by a trigger

An equality filter on resourceCharacteristic.value (or .name, or relatedParty.partyOrPartyRole.id) was a GIN bitmap
scan that rechecked every matching row and sorted them all for one page. resource_value holds those values keyed by
(path, value, seq): a page is a short index walk in seq order, a count an index-only count.

On PostgreSQL a statement-level trigger fills it from resource_value_leaves(doc), generated here from PATHS (the copy
of inventory/model.py RESOURCE_VALUE_PATHS as of this revision); the upgrade fills it for the existing resources.
SQLite gets the table, empty: its filters keep walking the document.

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

PATHS = (
    "resourceCharacteristic.name",
    "resourceCharacteristic.value",
    "relatedParty.partyOrPartyRole.id",
)
# Bytes of a stored jsonb value beyond which it is left out: a B-tree entry must stay under about 2.7 kB.
LARGEST_VALUE = 2000


def _jsonpath(path: str) -> str:
    # Lax mode unwraps arrays at each member step; the two [*] unwrap the two array levels an equality filter
    # (`? (@ == x)`) still unwraps at the end (the filter's, then the comparison's). [*] leaves a non-array as is.
    return "$" + "".join('."' + part.replace("\\", "\\\\").replace('"', '\\"') + '"' for part in path.split(".")) \
        + "[*][*]"


def _leaves_function(paths) -> str:
    walks = ",\n        ".join(f"('{path}', jsonpath '{_jsonpath(path)}')" for path in paths)
    return f"""
CREATE OR REPLACE FUNCTION resource_value_leaves(doc jsonb) RETURNS TABLE (path text, value jsonb)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT DISTINCT walk.path, leaf.value
    FROM (VALUES
        {walks}
    ) AS walk(path, expression)
    CROSS JOIN LATERAL jsonb_path_query(doc, walk.expression) AS leaf(value)
    -- Objects, arrays and nulls never equal the scalar a filter compares with.
    WHERE jsonb_typeof(leaf.value) IN ('string', 'number', 'boolean')
      AND pg_column_size(leaf.value) <= {LARGEST_VALUE}
$$"""


# Statement-level with transition tables: a bulk INSERT or COPY fills the table with one set-based INSERT.
REFRESH_FUNCTION = """
CREATE OR REPLACE FUNCTION resource_value_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO resource_value (path, value, seq)
        SELECT leaf.path, leaf.value, new_rows.seq
        FROM new_rows CROSS JOIN LATERAL resource_value_leaves(new_rows.doc) AS leaf;
    ELSE
        -- Only rows whose document changed: an UPDATE of other columns leaves their values as they are.
        DELETE FROM resource_value
        USING new_rows JOIN old_rows ON old_rows.seq = new_rows.seq
        WHERE resource_value.seq = new_rows.seq AND new_rows.doc IS DISTINCT FROM old_rows.doc;
        INSERT INTO resource_value (path, value, seq)
        SELECT leaf.path, leaf.value, new_rows.seq
        FROM new_rows JOIN old_rows ON old_rows.seq = new_rows.seq
        CROSS JOIN LATERAL resource_value_leaves(new_rows.doc) AS leaf
        WHERE new_rows.doc IS DISTINCT FROM old_rows.doc;
    END IF;
    RETURN NULL;
END
$$"""


def upgrade() -> None:
    op.create_table(
        "resource_value",
        sa.Column("path", sa.String(length=256), nullable=False),
        sa.Column("value", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                  nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(["seq"], ["resource.seq"], name=op.f("fk_resource_value_seq_resource"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("path", "value", "seq", name=op.f("pk_resource_value")),
    )
    op.create_index(op.f("ix_resource_value_seq"), "resource_value", ["seq"])
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_leaves_function(PATHS))
    op.execute(REFRESH_FUNCTION)
    op.execute("CREATE TRIGGER resource_value_on_insert AFTER INSERT ON resource REFERENCING NEW TABLE AS new_rows "
               "FOR EACH STATEMENT EXECUTE FUNCTION resource_value_refresh()")
    op.execute("CREATE TRIGGER resource_value_on_update AFTER UPDATE ON resource "
               "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
               "FOR EACH STATEMENT EXECUTE FUNCTION resource_value_refresh()")
    op.execute("INSERT INTO resource_value (path, value, seq) "
               "SELECT leaf.path, leaf.value, resource.seq "
               "FROM resource CROSS JOIN LATERAL resource_value_leaves(resource.doc) AS leaf")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER resource_value_on_update ON resource")
        op.execute("DROP TRIGGER resource_value_on_insert ON resource")
        op.execute("DROP FUNCTION resource_value_refresh()")
        op.execute("DROP FUNCTION resource_value_leaves(jsonb)")
    op.drop_table("resource_value")

"""The migrations build exactly what the models describe, on both databases: autogenerate finds nothing to do."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from tmf_oss.db.migrate import include_object_for
from tmf_oss.models import metadata


def test_autogenerate_finds_no_difference(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_object": include_object_for(connection.dialect.name)})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()

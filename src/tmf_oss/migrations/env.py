"""Alembic environment: the database URL comes from the caller (tmf-oss db upgrade) or TMF_OSS_DATABASE_URL."""
from __future__ import annotations

from alembic import context
from sqlalchemy import make_url

from tmf_oss.config import Settings
from tmf_oss.db.engine import make_engine
from tmf_oss.db.migrate import include_object_for
from tmf_oss.models import metadata

config = context.config


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url


def run_offline() -> None:
    url = _url()
    context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True,
                      include_object=include_object_for(make_url(url).get_backend_name()))
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    # render_as_batch lets later migrations alter tables on SQLite too.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      include_object=include_object_for(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

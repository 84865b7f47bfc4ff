"""Apply alembic migrations programmatically (tmf-oss db upgrade, serve at start-up, tests)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def include_object_for(dialect: str):
    """What autogenerate (and the models-match-migrations test) compares: not the day partitions of pm_value that
    the performance store's maintenance creates and drops at run time (no model describes them, and a migration
    must never drop them), and not indexes declared for PostgreSQL only (GIN, BRIN) on other databases."""
    def include(obj, name, type_, reflected, compare_to) -> bool:
        if type_ == "table" and reflected and compare_to is None and (name or "").startswith("pm_value_"):
            return False
        if type_ == "index" and not reflected and dialect != "postgresql" \
                and obj.dialect_options["postgresql"].get("using"):
            return False
        return True

    return include


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def current(database_url: str) -> None:
    command.current(alembic_config(database_url), verbose=True)

"""Shared fixtures: every database-backed test runs once on SQLite and once on PostgreSQL."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tmf_oss.config import Settings
from tmf_oss.db.migrate import upgrade
from tmf_oss.models import metadata

REPO_ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("TMF_OSS_TEST_POSTGRES_URL",
                              "postgresql+psycopg2://postgres@127.0.0.1:5432/tmf_oss_test")
# Which databases to run on; CI runs both. Set TMF_OSS_TEST_DATABASES=sqlite for a quick local run.
DATABASES = [name.strip() for name in os.environ.get("TMF_OSS_TEST_DATABASES", "sqlite,postgresql").split(",")]


def official_dir() -> Path:
    return Path(os.environ.get("TMF_OFFICIAL_DIR", REPO_ROOT.parent / "shared" / "tmf-official"))


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # pragma: no cover - depends on the machine
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session", params=DATABASES)
def database_url(request, tmp_path_factory) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'tmf-oss-test.db'}"
    else:
        problem = _postgres_reachable()
        if problem:
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL is required in CI and is not reachable: {problem}")
            pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}")
        url = POSTGRES_URL
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(url)
    return url


def truncate_all(url: str) -> None:
    engine = create_engine(url)
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(text("INSERT INTO collection_count (name, total) VALUES ('resource', 0)"))
    engine.dispose()


@pytest.fixture(scope="session")
def settings(database_url) -> Settings:
    return Settings(database_url=database_url, validate_responses=True, run_dispatcher=False,
                    public_base_url="", swagger_ui=True)


@pytest.fixture(scope="session")
def shared_app(settings):
    """Building the app parses and validates every spec document: once per database, not per test."""
    from tmf_oss.app import create_app

    application = create_app(settings)
    yield application
    application.platform.close()


@pytest.fixture
def app(shared_app, database_url):
    truncate_all(database_url)
    return shared_app


@pytest.fixture
def client(app):
    with app.test_client(base_url="http://testserver") as test_client:
        yield test_client

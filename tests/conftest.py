"""Shared fixtures: every database-backed test runs once on SQLite and once on PostgreSQL."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

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


def scratch_postgres_database(purpose: str):
    """A new, empty PostgreSQL database for this test session (dropped at the end), so concurrent runs on one
    server never share tables. Returns (url, drop)."""
    problem = _postgres_reachable()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}")
    admin_url = make_url(POSTGRES_URL)
    name = f"{admin_url.database}_{purpose}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return admin_url.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session", params=DATABASES)
def database_url(request, tmp_path_factory):
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'tmf-oss-test.db'}"
    else:
        url, drop = scratch_postgres_database("api")
    upgrade(url)
    yield url
    if drop is not None:
        drop()


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


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """The device lab (tests/lab), one per test session, shared by the southbound and alarm tests."""
    from tests.lab import start_lab

    lab = start_lab(tmp_path_factory.mktemp("lab"))
    yield lab
    lab.run("down")

"""Engine and session factory: one per process, tuned per dialect."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import orjson
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker


def _dumps(value) -> str:
    return orjson.dumps(value).decode()


def make_engine(database_url: str, *, pool_size: int = 10, autocommit: bool = False) -> Engine:
    kwargs: dict = {"json_serializer": _dumps, "json_deserializer": orjson.loads, "future": True}
    if autocommit:
        kwargs["isolation_level"] = "AUTOCOMMIT"
    if database_url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        # No pre-ping: it costs a round trip per checkout (a fifth of a simple read). Stale connections are
        # recycled by age, and a request that meets a dropped connection fails once and the pool refills.
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    engine = create_engine(database_url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers proceed while one writer commits; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """The engine plus a session factory; handed to every domain service."""

    def __init__(self, database_url: str, *, pool_size: int = 10):
        self.url = database_url
        self.engine = make_engine(database_url, pool_size=pool_size)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, future=True)
        self.held_connections: dict = {}  # thread id -> connection kept by db.fast_read
        # Reads use their own pool in autocommit: switching a pooled connection's isolation level per request
        # costs as much as the query. SQLite has no server round trips to save.
        if self.engine.dialect.name == "sqlite":
            self._autocommit = self.engine
        else:
            self._autocommit = make_engine(database_url, pool_size=pool_size, autocommit=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception."""
        session = self.sessions()
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    @property
    def read_engine(self) -> Engine:
        return self._autocommit

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for plain reads, in autocommit: no BEGIN/ROLLBACK round trips around one SELECT."""
        with self._autocommit.connect() as connection:
            yield connection

    @contextmanager
    def reading(self) -> Iterator[Session]:
        session = self.sessions()
        try:
            yield session
        finally:
            session.close()  # ends the read transaction; loaded objects stay usable, detached

    def dispose(self) -> None:
        from tmf_oss.db.fast_read import release_all

        release_all(self)
        self.engine.dispose()
        if self._autocommit is not self.engine:
            self._autocommit.dispose()

"""Fixed SELECTs on the hottest read paths, run on the driver connection directly.

Going through SQLAlchemy's execution and result layers costs more CPU than the query itself for a primary-key
lookup (measured: ~200 µs against ~90 µs per call). These statements are built with SQLAlchemy once, compiled
once, and on PostgreSQL also PREPAREd once per connection, which spares the server from planning them again.
Only plain columns (text, numbers) may be selected: no result type processing happens here.
"""
from __future__ import annotations

import itertools
import re
import threading

from sqlalchemy.sql import Select

_PYFORMAT = re.compile(r"%\((\w+)\)s")
_names = itertools.count(1)


class FastRead:
    def __init__(self, db, statement: Select):
        self.db = db
        engine = db.read_engine
        compiled = statement.compile(dialect=engine.dialect)
        self.defaults = dict(compiled.params)
        self.postgresql = engine.dialect.name == "postgresql"
        self._dbapi = engine.dialect.loaded_dbapi
        if self.postgresql:
            order: list[str] = []

            def number(match: re.Match) -> str:
                if match.group(1) not in order:
                    order.append(match.group(1))
                return f"${order.index(match.group(1)) + 1}"

            body = _PYFORMAT.sub(number, compiled.string)
            self.order = order
            self.name = f"tmf_oss_read_{next(_names)}"
            self.prepare = f"PREPARE {self.name} AS {body}"
            self.sql = f"EXECUTE {self.name}({', '.join(['%s'] * len(order))})" if order else f"EXECUTE {self.name}"
        else:
            self.order = list(compiled.positiontup or ())
            self.sql = compiled.string

    def rows(self, **values) -> list[tuple]:
        params = {**self.defaults, **values}
        arguments = tuple(params[name] for name in self.order)
        for attempt in (1, 2):
            connection = _held.connection(self.db)
            try:
                if self.postgresql and self.name not in connection.prepared:
                    with connection.dbapi.cursor() as cursor:
                        cursor.execute(self.prepare)
                    connection.prepared.add(self.name)
                cursor = connection.dbapi.cursor()
                try:
                    cursor.execute(self.sql, arguments)
                    return cursor.fetchall()
                finally:
                    cursor.close()
            except self._dbapi.Error:
                # The connection broke (server restart, idle timeout, closed): one retry on a fresh one. A
                # plain SELECT is safe to repeat, and a real error simply happens again.
                _held.drop(self.db)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class _HeldConnection:
    def __init__(self, pooled):
        self.pooled = pooled  # keeps the pool's bookkeeping (closing returns it)
        self.dbapi = pooled.dbapi_connection
        self.prepared: set[str] = set()


class _PerThread:
    """One read connection per thread and database, kept between requests: these reads are single statements
    in autocommit, so nothing carries over from one to the next, and checking a connection out of the pool
    and back for every request costs as much as the query itself."""

    def connection(self, db) -> _HeldConnection:
        held = db.held_connections
        key = threading.get_ident()
        found = held.get(key)
        if found is None:
            found = held[key] = _HeldConnection(db.read_engine.raw_connection())
        return found

    def drop(self, db) -> None:
        found = db.held_connections.pop(threading.get_ident(), None)
        if found is not None:
            try:
                found.pooled.invalidate()
            except Exception:  # already broken; nothing more to release
                pass


def release_all(db) -> None:
    """Return every held connection of this database to its pool (at shutdown)."""
    for held in list(db.held_connections.values()):
        try:
            held.pooled.close()
        except Exception:
            pass
    db.held_connections.clear()


_held = _PerThread()


class DynamicReads:
    """Ad-hoc SELECTs (filtered pages, counts) on PostgreSQL, run on the held driver connection.

    SQLAlchemy builds and compiles them (compiled forms are cached by statement shape, as SQLAlchemy itself
    does); only its execution and result layers are skipped, which cost more than the query on short reads.
    Values go to psycopg2 as they are; JSON columns come back decoded by the driver. Other databases, whose
    drivers need SQLAlchemy's value conversions, use the ordinary path.
    """

    def __init__(self, db, size: int = 512):
        self.db = db
        self.direct = db.read_engine.dialect.name == "postgresql"
        self._dialect = db.read_engine.dialect
        self._compiled: dict = {}
        self._size = size
        self._dbapi = db.read_engine.dialect.loaded_dbapi

    def rows(self, statement) -> list[tuple]:
        if not self.direct:
            with self.db.read() as connection:
                return [tuple(row) for row in connection.execute(statement).all()]
        if len(self._compiled) >= self._size:
            self._compiled.clear()
        # SQLAlchemy's own compile-with-cache: the compiled form is shared by statements of one shape and
        # this call's values come back separately.
        compiled, extracted, _, _ = statement._compile_w_cache(
            self._dialect, compiled_cache=self._compiled, column_keys=[])
        params = compiled.construct_params(extracted_parameters=extracted)
        sql = compiled.string
        if compiled.post_compile_params or compiled.literal_execute_params:
            expanded = compiled._process_parameters_for_postcompile(params)  # IN lists
            sql, params = expanded.statement, expanded.parameters
        for attempt in (1, 2):
            connection = _held.connection(self.db)
            try:
                cursor = connection.dbapi.cursor()
                try:
                    cursor.execute(sql, params)
                    return cursor.fetchall()
                finally:
                    cursor.close()
            except self._dbapi.Error:
                _held.drop(self.db)  # see FastRead.rows
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

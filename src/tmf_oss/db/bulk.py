"""Many rows in few statements, on both databases: what the high-volume writers use (fault records, outbox
events, the fault engine's alarm updates).

On PostgreSQL, psycopg2 sends an executemany as one statement per row, and SQLAlchemy's multi-row INSERT spends
tens of microseconds of Python per row. Here inserts go through COPY, and updates as `VALUES (...), (...)` lists
built by psycopg2 itself with casts to the column types, both after each column type's own bind processing (JSON
serialisation, ...). On SQLite
an executemany of one prepared statement is already the fast way, so that is what runs there.
"""
from __future__ import annotations

import io
from datetime import datetime
from typing import Sequence

from sqlalchemy import Table, bindparam, update
from sqlalchemy.engine import Connection

CHUNK = 1000  # rows per statement


class _ValuesList:
    """How to send rows of these columns as a psycopg2 VALUES list."""

    def __init__(self, connection: Connection, table: Table, columns: Sequence[str], extra: Sequence[tuple] = ()):
        dialect = connection.dialect
        # (name in the row dicts, SQL type) for each position; `extra` adds positions that are not table columns
        self.names = list(columns) + [name for name, _ in extra]
        types = [table.c[name].type for name in columns] + [type_ for _, type_ in extra]
        self.processors = [type_.bind_processor(dialect) for type_ in types]
        self.template = "(" + ", ".join(f"%s::{type_.compile(dialect=dialect)}" for type_ in types) + ")"

    def tuples(self, rows: Sequence[dict]) -> list[tuple]:
        names, processors = self.names, self.processors
        return [tuple(row[name] if processor is None else processor(row[name])
                      for name, processor in zip(names, processors)) for row in rows]


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict]) -> None:
    """INSERT every row (dicts keyed by column name, all with the same keys), in order."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), list(rows))
        return
    # COPY: PostgreSQL's bulk path; rows are read in order, so serial keys follow the order given.
    columns = list(rows[0])
    dialect = connection.dialect
    processors = [table.c[name].type.bind_processor(dialect) for name in columns]
    lines = []
    for row in rows:
        fields = []
        for name, processor in zip(columns, processors):
            value = row[name]
            if processor is not None:
                value = processor(value)
            fields.append(_copy_text(value))
        lines.append("\t".join(fields))
    lines.append("")
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.copy_expert(f'COPY "{table.name}" (' + ", ".join(f'"{name}"' for name in columns)
                           + ") FROM STDIN", io.StringIO("\n".join(lines)))
    finally:
        cursor.close()


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value) -> str:
    """One field of COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        value = value.decode()
    return str(value).translate(_COPY_ESCAPES)


def update_rows_where_version(connection: Connection, table: Table, rows: Sequence[dict], *, key: str = "seq",
                              version: str = "version") -> int:
    """UPDATE each row found by `key` whose `version` column still holds the row's `expected_version`; the row
    dicts hold the new column values (keyed by column name) plus `expected_version`. Returns how many rows were
    updated (fewer than given: someone else changed one)."""
    if not rows:
        return 0
    columns = [name for name in rows[0] if name != "expected_version"]
    if connection.dialect.name != "postgresql":
        statement = (update(table).where(table.c[key] == bindparam("b_key"),
                                         table.c[version] == bindparam("expected_version"))
                     .values({table.c[name]: bindparam(f"v_{name}") for name in columns}))
        return connection.execute(statement, [{"b_key": row[key], "expected_version": row["expected_version"],
                                               **{f"v_{name}": row[name] for name in columns}}
                                              for row in rows]).rowcount
    from psycopg2.extras import execute_values

    values = _ValuesList(connection, table, columns, extra=[("expected_version", table.c[version].type)])
    assignments = ", ".join(f'"{name}" = v."{name}"' for name in columns if name != key)
    statement = (f'UPDATE "{table.name}" AS t SET {assignments} FROM (VALUES %s) AS v('
                 + ", ".join(f'"{name}"' for name in values.names)
                 + f') WHERE t."{key}" = v."{key}" AND t."{version}" = v."expected_version"')
    return _run(connection, statement, values, rows, execute_values)


def _run(connection: Connection, statement: str, values: _ValuesList, rows: Sequence[dict], execute_values) -> int:
    cursor = connection.connection.dbapi_connection.cursor()
    affected = 0
    try:
        for start in range(0, len(rows), CHUNK):
            chunk = values.tuples(rows[start:start + CHUNK])
            execute_values(cursor, statement, chunk, template=values.template, page_size=len(chunk))
            affected += cursor.rowcount
    finally:
        cursor.close()
    return affected

"""Many rows in few statements, on both databases: what the high-volume writers use (fault records, outbox
events, the fault engine's alarm updates).

On PostgreSQL, psycopg2 sends an executemany as one statement per row, and SQLAlchemy's multi-row INSERT spends
tens of microseconds of Python per row. Here rows go through COPY (after each column type's own bind processing:
JSON serialisation, ...): straight into the table for inserts, into a scratch table joined by one UPDATE for
updates. On SQLite an executemany of one prepared statement is already the fast way, so that is what runs there.
"""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import Table, bindparam, update
from sqlalchemy.engine import Connection


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict]) -> None:
    """INSERT every row (dicts keyed by column name, all with the same keys), in order."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), list(rows))
        return
    # COPY: PostgreSQL's bulk path; rows are read in order, so serial keys follow the order given.
    _copy(connection, table.name, table, list(rows[0]), rows)


COPY_CHUNK_ROWS = 256  # rows formatted per read of the COPY stream


def _copy(connection: Connection, target: str, table: Table, columns: list[str], rows: Sequence[dict],
          types: dict | None = None) -> None:
    dialect = connection.dialect
    types = types or {}
    fields = [(name, (types.get(name) or table.c[name].type).bind_processor(dialect)) for name in columns]
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.copy_expert(f'COPY "{target}" (' + ", ".join(f'"{name}"' for name in columns) + ") FROM STDIN",
                           _CopyStream(rows, fields))
    finally:
        cursor.close()


class _CopyStream:
    """The rows in COPY's text format, formatted a chunk at a time as the driver reads them: PostgreSQL parses
    and stores the first rows (on the other core) while the next ones are formatted, instead of waiting for all
    of them."""

    def __init__(self, rows: Sequence[dict], fields: list[tuple[str, object]]):
        self._rows = rows
        self._fields = fields
        self._next = 0

    def read(self, _size: int = -1) -> str:
        start = self._next
        if start >= len(self._rows):
            return ""
        self._next = end = start + COPY_CHUNK_ROWS
        fields = self._fields
        lines = []
        for row in self._rows[start:end]:
            line = []
            for name, processor in fields:
                value = row[name]
                line.append(_copy_text(value if processor is None else processor(value)))
            lines.append("\t".join(line))
        lines.append("")
        return "\n".join(lines)

    readline = read


_COPY_SPECIALS = (("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))  # backslash first, separately


def _copy_text(value) -> str:
    """One field of COPY's text format."""
    kind = type(value)  # the common types by identity first: this runs for every field of every row
    if kind is str:
        return _escaped(value)
    if value is None:
        return "\\N"
    if kind is bool:
        return "t" if value else "f"
    if kind is int or kind is float:
        return str(value)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        value = value.decode()
    return _escaped(str(value))


def _escaped(value: str) -> str:
    # str.replace runs at memory speed where translate looks every character up: escape only what is there.
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    for special, escaped in _COPY_SPECIALS:
        if special in value:
            value = value.replace(special, escaped)
    return value


COPY_UPDATE_MIN_ROWS = 32


def update_rows_where_version(connection: Connection, table: Table, rows: Sequence[dict], *, key: str = "seq",
                              version: str = "version") -> int:
    """UPDATE each row found by `key` whose `version` column still holds the row's `expected_version`; the row
    dicts hold the new column values (keyed by column name) plus `expected_version`. Returns how many rows were
    updated (fewer than given: someone else changed one)."""
    if not rows:
        return 0
    columns = [name for name in rows[0] if name != "expected_version"]
    # A few rows (an order's progress, a task's alarms) go as plain UPDATEs: the scratch table's creation and
    # its truncation at commit cost more than they save below some dozens of rows.
    if connection.dialect.name != "postgresql" or len(rows) < COPY_UPDATE_MIN_ROWS:
        statement = (update(table).where(table.c[key] == bindparam("b_key"),
                                         table.c[version] == bindparam("expected_version"))
                     .values({table.c[name]: bindparam(f"v_{name}") for name in columns}))
        return connection.execute(statement, [{"b_key": row[key], "expected_version": row["expected_version"],
                                               **{f"v_{name}": row[name] for name in columns}}
                                              for row in rows]).rowcount
    # COPY into a transaction-scoped scratch table shaped like the target, then one UPDATE joining it.
    scratch = f"bulk_update_{table.name}"
    names = ", ".join(f'"{name}"' for name in columns)
    connection.exec_driver_sql(
        f'CREATE TEMP TABLE IF NOT EXISTS "{scratch}" ON COMMIT DELETE ROWS AS SELECT {names}, '
        f'"{version}" AS expected_version FROM "{table.name}" WITH NO DATA')
    _copy(connection, scratch, table, [*columns, "expected_version"], rows,
          types={"expected_version": table.c[version].type})
    assignments = ", ".join(f'"{name}" = v."{name}"' for name in columns if name != key)
    return connection.exec_driver_sql(
        f'UPDATE "{table.name}" AS t SET {assignments} FROM "{scratch}" AS v '
        f'WHERE t."{key}" = v."{key}" AND t."{version}" = v.expected_version').rowcount

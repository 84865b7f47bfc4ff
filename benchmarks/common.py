"""Helpers every benchmark script shares: scratch databases and loopback ports."""
from __future__ import annotations

import os
import socket
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _admin_engine(database_url: str) -> Engine:
    # The maintenance database of the same server; CREATE/DROP DATABASE cannot run in a transaction.
    return create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT",
                         poolclass=NullPool)


def _remove_sqlite_files(database_url: str) -> None:
    path = Path(make_url(database_url).database)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def recreate_database(database_url: str) -> None:
    """An empty benchmark database: a PostgreSQL database whose name says 'bench', or a SQLite file."""
    if database_url.startswith("sqlite"):
        _remove_sqlite_files(database_url)
        return
    name = make_url(database_url).database
    if "bench" not in name:
        raise SystemExit(f"refusing to recreate '{name}': a benchmark database name must contain 'bench'")
    engine = _admin_engine(database_url)
    quoted = engine.dialect.identifier_preparer.quote(name)
    with engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {quoted}"))
    engine.dispose()


def drop_database(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        _remove_sqlite_files(database_url)
        return
    engine = _admin_engine(database_url)
    quoted = engine.dialect.identifier_preparer.quote(make_url(database_url).database)
    with engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
    engine.dispose()


def backend_cpu(db) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving `db`'s database and by the server's WAL writer,
    checkpointer and background writer, which write what they commit (from /proc: same machine; 0 for SQLite)."""
    if db.dialect != "postgresql":
        return 0.0
    with db.read() as connection:
        pids = connection.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "OR backend_type IN ('walwriter', 'checkpointer', 'background writer')")).scalars().all()
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, every core counted, from /proc/stat."""
    with open("/proc/stat") as stat:
        user, nice, system, idle, iowait, irq, softirq, steal = map(int, stat.readline().split()[1:9])
    busy = user + nice + system + irq + softirq
    ticks = os.sysconf("SC_CLK_TCK")
    return busy / ticks, (busy + idle + iowait + steal) / ticks

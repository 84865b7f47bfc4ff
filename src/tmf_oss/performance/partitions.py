"""Day partitions of pm_value on PostgreSQL: created ahead of the data, dropped when their day has expired.

We use PostgreSQL's native declarative partitioning, managed by this small module, rather than pg_partman:
pg_partman is an extension that a superuser must install on the database server, which a managed or otherwise
locked-down production PostgreSQL may not allow, whereas creating and dropping partitions of our own table needs
nothing beyond owning it. What it takes is simple: maintenance creates the partitions of the next days ahead of
time and drops whole days once they are older than the raw retention (dropping a partition costs nothing, where
deleting rows costs a write per row and leaves the table to vacuum). The DEFAULT partition created by the migration
catches anything outside the created days (maintenance not run yet, a device clock far off), so a write never fails
for want of a partition; rows found there are moved into a day's partition when that day is created.

Partitions are named pm_value_pYYYYMMDD and cover one UTC day. Both functions are idempotent and may run in
several processes at once: they take turns on a transaction-level advisory lock and look at the catalog after
taking it. On SQLite pm_value is one plain table: there is nothing to create, and expiry deletes rows.
"""
from __future__ import annotations

import logging
import re
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tmf_oss.db.base import as_utc
from tmf_oss.db.engine import Database
from tmf_oss.performance.timeseries_model import PmValue

log = logging.getLogger("tmf_oss.performance.partitions")
VALUES = PmValue.__table__

PARENT = "pm_value"
DEFAULT_PARTITION = "pm_value_default"
START_INDEX = "ix_pm_value_start"
_NAME = re.compile(r"^pm_value_p(\d{8})$")
_PARTITIONS_LOCK = 628_000_001  # pg_advisory_xact_lock key: partition maintenance, one process at a time
# Detaching a partition needs an exclusive lock on pm_value for an instant; waiting behind a long read (an export)
# would queue every writer behind us, so we give up after this long and try again at the next maintenance.
DROP_LOCK_TIMEOUT = "5s"


def partition_name(day: date) -> str:
    return f"{PARENT}_p{day:%Y%m%d}"


def day_of(moment: datetime) -> date:
    return as_utc(moment).astimezone(timezone.utc).date()


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def existing_days(session: Session) -> list[date]:
    """The days that have a partition, oldest first."""
    names = session.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST(:parent AS regclass)"), {"parent": PARENT}).scalars()
    return sorted(datetime.strptime(match.group(1), "%Y%m%d").date()
                  for match in map(_NAME.match, names) if match)


def ensure_partitions(db: Database, now: datetime, days_ahead: int = 2) -> list[date]:
    """Create the partitions of today (UTC) and of the next `days_ahead` days that do not exist yet; returns the
    days created. Rows the DEFAULT partition holds for such a day are moved into its new partition."""
    if db.dialect != "postgresql":
        return []
    today = day_of(now)
    wanted = [today + timedelta(days=offset) for offset in range(days_ahead + 1)]
    with db.transaction() as session:
        _take_turn(session)
        present = set(existing_days(session))
        created = [day for day in wanted if day not in present]
        for day in created:
            _create(session, day)
    if created:
        log.info("created pm_value partitions for %s", ", ".join(map(str, created)))
    return created


def _create(session: Session, day: date) -> None:
    # Created apart and then attached: ATTACH takes a SHARE UPDATE EXCLUSIVE lock on pm_value, which lets writers
    # and readers go on, where CREATE TABLE ... PARTITION OF would lock them all out until we commit.
    name = partition_name(day)
    lower, upper = day_start(day), day_start(day + timedelta(days=1))
    bounds = {"lower": lower, "upper": upper}
    session.execute(text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    # ATTACH locks the DEFAULT partition anyway, to check it holds nothing of the new day; locked first, no
    # writer can put a row of that day there between our move and the attach.
    session.execute(text(f"LOCK TABLE {DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE"))
    session.execute(text(
        f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE start >= :lower AND start < :upper RETURNING *) "
        f"INSERT INTO {name} SELECT * FROM moved"), bounds)
    session.execute(text(
        f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ('{lower.isoformat()}') "
        f"TO ('{upper.isoformat()}')"))


def drop_expired(db: Database, now: datetime, retention_days: int) -> list[date]:
    """Remove every value older than the start of the UTC day `retention_days` days before `now` (a day goes
    whole, once all of it is that old). On PostgreSQL those days' partitions are dropped (and returned) and such
    rows in the DEFAULT partition deleted; on SQLite the rows are deleted and nothing is returned."""
    cutoff = day_start(day_of(now - timedelta(days=retention_days)))
    if db.dialect != "postgresql":
        with db.transaction() as session:
            session.execute(VALUES.delete().where(VALUES.c.start < cutoff))  # the column's type writes the time
        return []
    with db.transaction() as session:
        _take_turn(session)
        expired = [day for day in existing_days(session) if day_start(day + timedelta(days=1)) <= cutoff]
        session.execute(text(f"DELETE FROM {DEFAULT_PARTITION} WHERE start < :cutoff"), {"cutoff": cutoff})
    dropped = [day for day in expired if _drop(db, day)]
    if dropped:
        log.info("dropped expired pm_value partitions for %s", ", ".join(map(str, dropped)))
    return dropped


def _drop(db: Database, day: date) -> bool:
    """Detach and drop one day's partition, in a transaction of its own; False if pm_value was too busy."""
    name = partition_name(day)
    try:
        with db.transaction() as session:
            _take_turn(session)
            if day not in existing_days(session):
                return False  # another process dropped it meanwhile
            session.execute(text(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'"))
            session.execute(text(f"ALTER TABLE {PARENT} DETACH PARTITION {name}"))
            session.execute(text(f"DROP TABLE {name}"))
    except OperationalError as error:
        if getattr(error.orig, "pgcode", None) != "55P03":  # lock_not_available
            raise
        log.warning("pm_value partition %s not dropped: the table stayed busy for %s; next maintenance retries",
                    name, DROP_LOCK_TIMEOUT)
        return False
    return True


def summarize(db: Database) -> None:
    """Bring the BRIN summaries of pm_value.start up to date with the rows written since the last time.

    A block range written after its summary was made is not summarized, and a time-range scan (roll-ups, exports)
    has to read it whole. Autovacuum summarizes new ranges when it runs; maintenance does it as well, so the
    index works also where autovacuum is off or late. Only the new ranges are read."""
    if db.dialect != "postgresql":
        return
    with db.transaction() as session:
        indexes = session.execute(text(
            "SELECT CAST(inhrelid AS regclass)::text FROM pg_inherits WHERE inhparent = CAST(:index AS regclass)"),
            {"index": START_INDEX}).scalars().all()
        for index in indexes:
            session.execute(text("SELECT brin_summarize_new_values(CAST(:index AS regclass))"), {"index": index})


def _take_turn(session: Session) -> None:
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PARTITIONS_LOCK})

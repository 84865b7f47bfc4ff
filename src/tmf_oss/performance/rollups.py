"""Roll-ups: each series' values aggregated over completed 15-minute and hourly buckets (count, missing, sum, min,
max, last value), kept long after the raw values expire so that long-range views stay cheap.

Maintenance rolls up the buckets completed since the newest one already rolled up: quarters from the values,
hours from the quarters; an hour of data per statement and transaction (a first run over days of history never becomes one huge statement). A bucket waits
`grace` after its end for late values; one rolled up again (`since`) is overwritten, so running twice, or in two
processes at once, is harmless. Buckets are aligned on the Unix epoch, in UTC.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import NamedTuple, Sequence

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from tmf_oss.db.base import as_utc
from tmf_oss.db.engine import Database
from tmf_oss.performance.timeseries_model import ROLLUP_PERIODS, PmRollup, PmValue

ROLLUPS = PmRollup.__table__
GRACE = timedelta(minutes=5)
_WINDOW = timedelta(hours=1)  # values rolled up per statement, at most
_ROLLUP_LOCK = 628_000_002  # pg_advisory_xact_lock key: one roll-up at a time across processes


class Rollup(NamedTuple):
    series_id: int
    period_seconds: int
    start: datetime
    interval_count: int  # intervals stored, missing ones included
    missing_count: int
    value_sum: float | None  # None when every interval of the bucket is missing
    value_min: float | None
    value_max: float | None
    value_last: float | None  # the latest value present in the bucket


def roll_up(db: Database, now: datetime, *, since: datetime | None = None, grace: timedelta = GRACE,
            backfill: timedelta = timedelta(days=7)) -> int:
    """Roll up every bucket that ended at least `grace` before `now` and comes after the newest bucket already
    rolled up of its period (the first time: within `backfill` of now); from `since` on instead when given (values
    written or corrected later than `grace`). Returns how many roll-up rows were written."""
    now = _utc(now)
    postgresql = db.dialect == "postgresql"
    to_text = _sqlite_time_text(db) if not postgresql else None
    written = 0
    # The first period from the values, each next one from the roll-ups of the one before (an hour is four
    # quarters rather than sixty values): those cover it, as they are done first and end no earlier.
    for source, period in zip((None, *ROLLUP_PERIODS), ROLLUP_PERIODS):
        end = floor(now - grace, period)
        if since is not None:
            begin = floor(_utc(since), period)
        else:
            with db.reading() as session:
                done = session.execute(select(func.max(ROLLUPS.c.start))
                                       .where(ROLLUPS.c.period_seconds == period)).scalar()
            begin = floor(now - backfill, period)
            if done is not None:
                begin = max(begin, _utc(done) + timedelta(seconds=period))
        window = max(_WINDOW, timedelta(seconds=period))
        while begin < end:
            until = min(begin + window, end)
            with db.transaction() as session:
                parameters = {"period": period, "source": source, "begin": begin, "end": until}
                if postgresql:
                    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ROLLUP_LOCK})
                    # An hour of 10,000 series sorts in memory with this; the default 4 MB spills to disk.
                    session.execute(text("SET LOCAL work_mem = '64MB'"))
                    sql = _POSTGRESQL if source is None else _POSTGRESQL_FROM_ROLLUPS
                else:
                    parameters.update(begin=to_text(begin), end=to_text(until))
                    sql = _SQLITE if source is None else _SQLITE_FROM_ROLLUPS
                written += session.execute(text(sql), parameters).rowcount
            begin = until
    return written


def read(session: Session, series_ids: Sequence[int], period_seconds: int, *, start_from: datetime | None = None,
         start_before: datetime | None = None) -> list[Rollup]:
    """The roll-ups of the given series and period, by series then bucket start."""
    statement = select(ROLLUPS).where(ROLLUPS.c.series_id.in_(list(series_ids)),
                                      ROLLUPS.c.period_seconds == period_seconds)
    if start_from is not None:
        statement = statement.where(ROLLUPS.c.start >= _utc(start_from))
    if start_before is not None:
        statement = statement.where(ROLLUPS.c.start < _utc(start_before))
    rows = session.execute(statement.order_by(ROLLUPS.c.series_id, ROLLUPS.c.start))
    return [Rollup(row.series_id, row.period_seconds, _utc(row.start), *row[3:]) for row in rows]


def expire(db: Database, now: datetime, retention_days: int) -> int:
    """Delete the roll-ups of buckets that started more than `retention_days` days before `now`; returns how many."""
    with db.transaction() as session:
        return session.execute(ROLLUPS.delete().where(
            ROLLUPS.c.start < _utc(now) - timedelta(days=retention_days))).rowcount


def floor(moment: datetime, seconds: int) -> datetime:
    """The start of the `seconds`-long bucket, aligned on the Unix epoch, holding `moment`."""
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, timezone.utc)


def _utc(moment: datetime) -> datetime:
    return as_utc(moment).astimezone(timezone.utc)


def _sqlite_time_text(db: Database):
    """How SQLAlchemy writes a timestamp into SQLite (text, UTC): bounds must compare as the stored values do."""
    dialect = db.engine.dialect
    processor = PmValue.__table__.c.start.type.dialect_impl(dialect).bind_processor(dialect)
    return lambda moment: processor(_utc(moment))


# date_bin (PostgreSQL 14 and later) costs a fraction of epoch arithmetic, which goes through numeric.
_POSTGRESQL = """
INSERT INTO pm_rollup (series_id, period_seconds, start, interval_count, missing_count, value_sum, value_min,
                       value_max, value_last)
SELECT series_id, :period,
       date_bin(make_interval(secs => :period), start, timestamptz '1970-01-01 00:00:00+00') AS bucket,
       count(*), count(*) - count(value), sum(value), min(value), max(value),
       (array_agg(value ORDER BY start DESC) FILTER (WHERE value IS NOT NULL))[1]
FROM pm_value
WHERE start >= :begin AND start < :end
GROUP BY series_id, bucket
ON CONFLICT (series_id, period_seconds, start) DO UPDATE SET
    interval_count = excluded.interval_count, missing_count = excluded.missing_count,
    value_sum = excluded.value_sum, value_min = excluded.value_min, value_max = excluded.value_max,
    value_last = excluded.value_last
"""

_POSTGRESQL_FROM_ROLLUPS = """
INSERT INTO pm_rollup (series_id, period_seconds, start, interval_count, missing_count, value_sum, value_min,
                       value_max, value_last)
SELECT series_id, :period,
       date_bin(make_interval(secs => :period), start, timestamptz '1970-01-01 00:00:00+00') AS bucket,
       sum(interval_count), sum(missing_count), sum(value_sum), min(value_min), max(value_max),
       (array_agg(value_last ORDER BY start DESC) FILTER (WHERE value_last IS NOT NULL))[1]
FROM pm_rollup
WHERE period_seconds = :source AND start >= :begin AND start < :end
GROUP BY series_id, bucket
ON CONFLICT (series_id, period_seconds, start) DO UPDATE SET
    interval_count = excluded.interval_count, missing_count = excluded.missing_count,
    value_sum = excluded.value_sum, value_min = excluded.value_min, value_max = excluded.value_max,
    value_last = excluded.value_last
"""

# SQLite keeps timestamps as text in SQLAlchemy's format ('YYYY-MM-DD HH:MM:SS.ffffff', UTC): buckets are
# written the same way, so they compare and read back like any other timestamp.
_SQLITE = """
INSERT INTO pm_rollup (series_id, period_seconds, start, interval_count, missing_count, value_sum, value_min,
                       value_max, value_last)
SELECT series_id, :period, strftime('%Y-%m-%d %H:%M:%S.000000', bucket, 'unixepoch'),
       count(*), count(*) - count(value), sum(value), min(value), max(value),
       (SELECT latest.value FROM pm_value AS latest
        WHERE latest.series_id = bucketed.series_id AND latest.value IS NOT NULL
          AND latest.start >= strftime('%Y-%m-%d %H:%M:%S.000000', bucket, 'unixepoch')
          AND latest.start < strftime('%Y-%m-%d %H:%M:%S.000000', bucket + :period, 'unixepoch')
        ORDER BY latest.start DESC LIMIT 1)
FROM (SELECT series_id, value, CAST(strftime('%s', start) AS INTEGER) / :period * :period AS bucket
      FROM pm_value WHERE start >= :begin AND start < :end) AS bucketed
WHERE true  -- SQLite needs a WHERE before an upsert's ON CONFLICT, so ON is not read as a join's
GROUP BY series_id, bucket
ON CONFLICT (series_id, period_seconds, start) DO UPDATE SET
    interval_count = excluded.interval_count, missing_count = excluded.missing_count,
    value_sum = excluded.value_sum, value_min = excluded.value_min, value_max = excluded.value_max,
    value_last = excluded.value_last
"""

_SQLITE_FROM_ROLLUPS = """
INSERT INTO pm_rollup (series_id, period_seconds, start, interval_count, missing_count, value_sum, value_min,
                       value_max, value_last)
SELECT series_id, :period, strftime('%Y-%m-%d %H:%M:%S.000000', bucket, 'unixepoch'),
       sum(interval_count), sum(missing_count), sum(value_sum), min(value_min), max(value_max),
       (SELECT latest.value_last FROM pm_rollup AS latest
        WHERE latest.series_id = bucketed.series_id AND latest.period_seconds = :source
          AND latest.value_last IS NOT NULL
          AND latest.start >= strftime('%Y-%m-%d %H:%M:%S.000000', bucket, 'unixepoch')
          AND latest.start < strftime('%Y-%m-%d %H:%M:%S.000000', bucket + :period, 'unixepoch')
        ORDER BY latest.start DESC LIMIT 1)
FROM (SELECT series_id, interval_count, missing_count, value_sum, value_min, value_max,
             CAST(strftime('%s', start) AS INTEGER) / :period * :period AS bucket
      FROM pm_rollup WHERE period_seconds = :source AND start >= :begin AND start < :end) AS bucketed
WHERE true  -- as above
GROUP BY series_id, bucket
ON CONFLICT (series_id, period_seconds, start) DO UPDATE SET
    interval_count = excluded.interval_count, missing_count = excluded.missing_count,
    value_sum = excluded.value_sum, value_min = excluded.value_min, value_max = excluded.value_max,
    value_last = excluded.value_last
"""

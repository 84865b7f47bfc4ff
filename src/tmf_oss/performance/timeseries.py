"""Stores the collectors' samples and reads them back: the TMF628 performanceMeasurement list, the newest value of
each series (/metrics), streamed exports; roll-ups and retention through maintain().

Writes are built for volume. A series (job, object, indicator) is a row of pm_series, named once and then known by
its integer id (cached in memory); each sample becomes one narrow pm_value row (series id, interval start, value,
reason if missing). On PostgreSQL a batch goes through COPY straight into pm_value, formatted a slice at a time
while the server stores the previous slice. A (series, start) written again (a collector's retry, a recomputed
interval) replaces the earlier value: the COPY then fails on the primary key, is rolled back to a savepoint, and
the batch goes through a scratch table and INSERT ... ON CONFLICT DO UPDATE instead. Plain COPY comes first
because retries are rare and the upsert costs 1.5 to 1.8 times as much per round (benchmarks/pm_store.py
measures both). On SQLite one prepared INSERT ... ON CONFLICT DO UPDATE runs per row.

latest() is computed when asked, one descent of the primary key per series, rather than kept by every write:
keeping each series' newest value in a row of its own costs an UPDATE per series per round, as much as the round's
COPY itself (measured), for a read that /metrics makes a few times a minute.

A query first finds its series in pm_series, then reads their values by id: one bitmap scan visits each heap page
once for all of them (the values of one interval share pages), where a join would scan series by series.
"""
from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import NamedTuple

from sqlalchemy import and_, bindparam, func, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tmf_oss.db.base import as_utc, utcnow
from tmf_oss.db.engine import Database
from tmf_oss.performance import partitions
from tmf_oss.performance import rollups as buckets  # not "rollups": the store has a method of that name
from tmf_oss.performance.rollups import Rollup
from tmf_oss.performance.samples import Sample, SeriesKey
from tmf_oss.performance.timeseries_model import (
    MISSING_REASON_LENGTH, NAME_LENGTH, PmSeries, PmValue,
)

SERIES = PmSeries.__table__
VALUES = PmValue.__table__

RAW_RETENTION_DAYS = 7
ROLLUP_RETENTION_DAYS = 400
NOT_A_NUMBER = "not a number"  # the reason given to a NaN value: stored as missing, SQLite could not keep it anyway
_SERIES_CHUNK = 1000  # object or series ids per SELECT when looking series up
_MANY_SERIES = 5000  # a query for more series than this joins pm_series rather than list their ids
_EXPORT_CHUNK_ROWS = 100_000  # an export reads this many values per query, about: each query's sort fits in memory

# A series as the collector describes it: key, indicator name, object name, the job's granularity in seconds.
SeriesInfo = tuple[SeriesKey, str, str, int]


class MeasuredValue(NamedTuple):
    """One stored interval value with its series: a TMF628 performanceMeasurement."""

    series_id: int
    job_id: str
    object_id: str
    indicator_id: str
    indicator_name: str
    object_name: str
    period_seconds: int
    start: datetime
    value: float | None
    missing_reason: str | None

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.period_seconds)

    @property
    def measurement_id(self) -> str:
        return measurement_id(self.series_id, self.start)


@dataclass
class MaintenanceReport:
    partitions_created: list[date] = field(default_factory=list)
    partitions_dropped: list[date] = field(default_factory=list)
    rollups_written: int = 0
    rollups_deleted: int = 0


def measurement_id(series_id: int, start: datetime) -> str:
    """The TMF628 performanceMeasurement id of a value: its series id and its start in Unix seconds."""
    return f"{series_id}-{int(_utc(start).timestamp())}"


def parse_measurement_id(text_id: str) -> tuple[int, datetime]:
    """(series id, interval start) of a measurement id; ValueError if it is not one."""
    series_text, separator, seconds_text = text_id.partition("-")
    if not separator or not series_text.isdigit() or not seconds_text.isdigit():
        raise ValueError(f"not a performance measurement id: {text_id!r}")
    return int(series_text), datetime.fromtimestamp(int(seconds_text), timezone.utc)


class TimeSeriesStore:
    def __init__(self, db: Database):
        self.db = db
        self.postgresql = db.dialect == "postgresql"
        # (job, object, indicator) -> (id, indicator name, object name, period): what pm_series holds, so a renamed
        # object is noticed. Keyed by plain tuples: hashing one costs a fraction of a SeriesKey's (a Python call).
        self._series: dict[tuple[str, str, str], tuple[int, str, str, int]] = {}
        dialect = db.engine.dialect
        # How SQLAlchemy writes a timestamp as SQLite text: what write() sends must compare with what it reads.
        self._sqlite_time = VALUES.c.start.type.dialect_impl(dialect).bind_processor(dialect)

    # --- series ------------------------------------------------------------------------------------------------

    def series_ids(self, keys: Iterable[SeriesInfo]) -> dict[SeriesKey, int]:
        """The id of each series, created if new. Names and the period are updated when they changed (an empty
        name leaves the stored one). Safe when several processes create the same series at once."""
        found: dict[SeriesKey, int] = {}
        unknown: dict[SeriesKey, tuple[str, str, int]] = {}
        for key, indicator_name, object_name, period_seconds in keys:
            cached = self._series.get((key.job_id, key.object_id, key.indicator_id))
            if cached is not None and _same(cached, indicator_name, object_name, period_seconds):
                found[key] = cached[0]
            else:
                unknown[key] = (indicator_name, object_name, period_seconds)
        if unknown:
            found.update(self._resolve(unknown))
        return found

    def _resolve(self, wanted: dict[SeriesKey, tuple[str, str, int]]) -> dict[SeriesKey, int]:
        with self.db.transaction() as session:
            stored = self._select_series(session, wanted)
            new = [key for key in wanted if key not in stored]
            if new:
                now = utcnow()
                rows = [{"job_id": key.job_id, "object_id": key.object_id, "indicator_id": key.indicator_id,
                         "indicator_name": _bounded(wanted[key][0], NAME_LENGTH),
                         "object_name": _bounded(wanted[key][1], NAME_LENGTH),
                         "period_seconds": wanted[key][2], "created_at": now} for key in new]
                insert = pg_insert(SERIES) if self.postgresql else sqlite_insert(SERIES)
                # Another process may create the same series meanwhile: its row wins, ours is skipped.
                session.execute(insert.on_conflict_do_nothing(
                    index_elements=["job_id", "object_id", "indicator_id"]), rows)
                stored.update(self._select_series(session, {key: wanted[key] for key in new}))
            changed = []
            for key, (indicator_name, object_name, period_seconds) in wanted.items():
                series_id, stored_indicator, stored_object, stored_period = stored[key]
                renamed = (_bounded(indicator_name, NAME_LENGTH) or stored_indicator,
                           _bounded(object_name, NAME_LENGTH) or stored_object, period_seconds)
                if renamed != (stored_indicator, stored_object, stored_period):
                    changed.append({"b_id": series_id, "indicator_name": renamed[0], "object_name": renamed[1],
                                    "period_seconds": renamed[2]})
                    stored[key] = (series_id, *renamed)
            if changed:
                session.execute(update(SERIES).where(SERIES.c.id == bindparam("b_id")), changed)
        self._series.update(((key.job_id, key.object_id, key.indicator_id), ids) for key, ids in stored.items())
        return {key: stored[key][0] for key in wanted}

    def _select_series(self, session: Session, keys: Iterable[SeriesKey]) -> dict[SeriesKey, tuple]:
        # By job and object: the unique index (job_id, object_id, indicator_id) answers each chunk.
        objects_by_job: dict[str, set[str]] = {}
        for key in keys:
            objects_by_job.setdefault(key.job_id, set()).add(key.object_id)
        wanted = set(keys)
        stored = {}
        for job_id, object_ids in objects_by_job.items():
            ordered = sorted(object_ids)
            for offset in range(0, len(ordered), _SERIES_CHUNK):
                rows = session.execute(
                    select(SERIES.c.id, SERIES.c.job_id, SERIES.c.object_id, SERIES.c.indicator_id,
                           SERIES.c.indicator_name, SERIES.c.object_name, SERIES.c.period_seconds)
                    .where(SERIES.c.job_id == job_id,
                           SERIES.c.object_id.in_(ordered[offset:offset + _SERIES_CHUNK])))
                for row in rows:
                    key = SeriesKey(row.job_id, row.object_id, row.indicator_id)
                    if key in wanted:
                        stored[key] = (row.id, row.indicator_name, row.object_name, row.period_seconds)
        return stored

    # --- writing -----------------------------------------------------------------------------------------------

    def write(self, samples: Sequence[Sample], period_seconds: int) -> int:
        """Store one collection round (or any batch) of samples of a job of granularity `period_seconds`; returns
        how many values were stored. A value already stored for the same series and start is replaced; so is an
        earlier sample of the same series and start in the batch."""
        if not samples:
            return 0
        if not self.postgresql:
            rows = self._value_rows(samples, period_seconds)
            with self.db.transaction() as session:
                session.connection().exec_driver_sql(
                    "INSERT INTO pm_value (series_id, start, value, missing_reason) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (series_id, start) DO UPDATE SET value = excluded.value, "
                    "missing_reason = excluded.missing_reason", rows)
            return len(rows)
        with self.db.transaction() as session:
            cursor = session.connection().connection.dbapi_connection.cursor()
            try:
                cursor.execute("SAVEPOINT pm_value_copy")  # a failed COPY rolls back to here, the transaction goes on
                source = _CopySource(samples, lambda part: self._value_rows(part, period_seconds))
                try:
                    cursor.copy_expert(_COPY_VALUES.format(table="pm_value"), source)
                except Exception as error:
                    if getattr(error, "pgcode", None) != _UNIQUE_VIOLATION:
                        raise
                    # Stored already (a retry), or twice in the batch: the slower way, which replaces.
                    cursor.execute("ROLLBACK TO SAVEPOINT pm_value_copy")
                    rows = self._value_rows(samples, period_seconds)
                    _upsert(cursor, _copy_text(rows))
                    return len(rows)
                cursor.execute("RELEASE SAVEPOINT pm_value_copy")
            finally:
                cursor.close()
        return source.rows

    def _value_rows(self, samples: Sequence[Sample], period_seconds: int) -> list[tuple]:
        """The pm_value rows of the samples: (series id, start as the database's text, value, missing reason);
        of two samples of the same series and start, the later only."""
        ids = self._ids_of(samples, period_seconds)
        time_text = _postgresql_time if self.postgresql else self._sqlite_time_text
        rows = []
        texts: dict[datetime, str] = {}
        last_start = last_text = None
        for series_id, sample in zip(ids, samples):
            start = sample.start
            if start is not last_start:  # a round shares one start (object): one conversion
                last_text = texts.get(start)
                if last_text is None:
                    last_text = texts[start] = time_text(start)
                last_start = start
            value = sample.value
            if value is not None and value == value:
                rows.append((series_id, last_text, float(value), None))
            else:
                rows.append((series_id, last_text, None, _reason(sample)))
        if len(set(ids)) < len(ids):  # a series twice: maybe the same start twice, which one statement refuses
            rows = list({(row[0], row[1]): row for row in rows}.values())
        return rows

    def _ids_of(self, samples: Sequence[Sample], period_seconds: int) -> list[int]:
        """Each sample's series id: from memory, unless the series is new to this process or was renamed."""
        cache = self._series
        ids: list = []
        unknown: dict[SeriesKey, SeriesInfo] = {}
        for sample in samples:
            key = sample.series
            cached = cache.get((key.job_id, key.object_id, key.indicator_id))
            if (cached is not None and cached[3] == period_seconds
                    and (cached[1] == sample.indicator_name or not sample.indicator_name)
                    and (cached[2] == sample.object_name or not sample.object_name)):
                ids.append(cached[0])
            else:
                ids.append(None)
                unknown[sample.series] = (sample.series, sample.indicator_name, sample.object_name, period_seconds)
        if unknown:
            resolved = self.series_ids(unknown.values())
            ids = [resolved[sample.series] if series_id is None else series_id
                   for series_id, sample in zip(ids, samples)]
        return ids

    def _sqlite_time_text(self, moment: datetime) -> str:
        return self._sqlite_time(_utc(moment))

    # --- reading -----------------------------------------------------------------------------------------------

    def query(self, session: Session, *, job_id: str | None = None, object_ids: Sequence[str] | None = None,
              indicator_ids: Sequence[str] | None = None, series_ids: Sequence[int] | None = None,
              start_from: datetime | None = None, start_before: datetime | None = None, order: str = "start",
              offset: int = 0, limit: int | None = 100,
              with_total: bool = True) -> tuple[list[MeasuredValue], int | None]:
        """One page of values matching every filter given, in interval start order ("start") or newest first
        ("-start"), series id breaking ties; with the number of values matching when `with_total`.
        `start_from` is inclusive, `start_before` exclusive; `limit` None returns every value from `offset` on."""
        if order not in ("start", "-start"):
            raise ValueError(f"order is 'start' or '-start', not {order!r}")
        conditions = _time_conditions(start_from, start_before)
        series: dict[int, tuple] | None = None
        series_conditions = _series_conditions(job_id, object_ids, indicator_ids)
        if series_conditions:
            if series_ids is not None:
                series_conditions.append(SERIES.c.id.in_(list(series_ids)))
            chosen = session.execute(select(*_SERIES_COLUMNS).where(*series_conditions))
            series = {row[0]: tuple(row) for row in chosen}
            if not series:
                return [], 0 if with_total else None
            if len(series) <= _MANY_SERIES:
                # The ids themselves: one bitmap scan visits each heap page once for all the series, where a join
                # scans each series apart, and the rows of one interval share pages.
                conditions.append(VALUES.c.series_id.in_(list(series)))
            else:
                conditions.append(VALUES.c.series_id.in_(select(SERIES.c.id).where(*series_conditions)))
        elif series_ids is not None:
            conditions.append(VALUES.c.series_id.in_(list(series_ids)))
        start = VALUES.c.start.desc() if order == "-start" else VALUES.c.start
        statement = (select(VALUES.c.series_id, VALUES.c.start, VALUES.c.value, VALUES.c.missing_reason)
                     .where(*conditions).order_by(start, VALUES.c.series_id).offset(offset))
        if limit is not None:
            statement = statement.limit(limit)
        values = session.execute(statement).all()
        if series is None:
            series = self._series_rows(session, {value[0] for value in values})
        make = MeasuredValue._make
        utc = timezone.utc
        # Thousands of rows for a day: tuples joined in C; the driver's UTC timestamps kept as they are.
        rows = [make(series[series_id] + (moment if moment.tzinfo is utc else _utc(moment), value, reason))
                for series_id, moment, value, reason in values if series_id in series]
        total = None
        if with_total:
            if (limit is None or len(rows) < limit) and (rows or offset == 0):
                total = offset + len(rows)  # the page reaches the last value: no need to count
            else:
                total = session.execute(select(func.count()).select_from(VALUES).where(*conditions)).scalar_one()
        return rows, total

    @staticmethod
    def _series_rows(session: Session, ids: set[int]) -> dict[int, tuple]:
        found = {}
        ordered = sorted(ids)
        for offset in range(0, len(ordered), _SERIES_CHUNK):
            rows = session.execute(select(*_SERIES_COLUMNS).where(
                SERIES.c.id.in_(ordered[offset:offset + _SERIES_CHUNK])))
            found.update((row[0], tuple(row)) for row in rows)
        return found

    def get(self, session: Session, measurement: str) -> MeasuredValue | None:
        """The value a measurement id names; None if there is none (or the id is not one of ours)."""
        try:
            series_id, start = parse_measurement_id(measurement)
        except ValueError:
            return None
        # Ids carry whole seconds: an interval starting within that second is the one meant.
        row = session.execute(_measured().where(
            VALUES.c.series_id == series_id, VALUES.c.start >= start,
            VALUES.c.start < start + timedelta(seconds=1)).order_by(VALUES.c.start).limit(1)).first()
        return None if row is None else _measured_value(row)

    def latest(self, session: Session, series_ids: Sequence[int] | None = None, *,
               since: datetime | None = None) -> list[MeasuredValue]:
        """The newest value of each series (of those given, else of every series), in series id order. `since`
        ignores values older than that: series no longer collected drop out, and on PostgreSQL only the
        partitions from then on are read."""
        # Per series, one descent of the primary key (series_id, start) from its far end: a cost set by the
        # number of series, not of values.
        if self.postgresql:
            newest = select(VALUES.c.start, VALUES.c.value, VALUES.c.missing_reason).where(
                VALUES.c.series_id == SERIES.c.id)
            if since is not None:
                newest = newest.where(VALUES.c.start >= _utc(since))
            newest = newest.order_by(VALUES.c.start.desc()).limit(1).lateral("newest")
            statement = (select(*_SERIES_COLUMNS, newest.c.start, newest.c.value, newest.c.missing_reason)
                         .select_from(SERIES).join(newest, true()))
        else:  # no LATERAL: the newest start found by a correlated subquery, then its row by the primary key
            other = VALUES.alias("other")
            newest = select(func.max(other.c.start)).where(other.c.series_id == SERIES.c.id)
            if since is not None:
                newest = newest.where(other.c.start >= _utc(since))
            statement = (select(*_SERIES_COLUMNS, VALUES.c.start, VALUES.c.value, VALUES.c.missing_reason)
                         .select_from(SERIES).join(VALUES, and_(VALUES.c.series_id == SERIES.c.id,
                                                                VALUES.c.start == newest.scalar_subquery())))
        if series_ids is not None:
            statement = statement.where(SERIES.c.id.in_(list(series_ids)))
        return [_measured_value(row) for row in session.execute(statement.order_by(SERIES.c.id))]

    def rollups(self, session: Session, series_ids: Sequence[int], period_seconds: int, *,
                start_from: datetime | None = None, start_before: datetime | None = None) -> list[Rollup]:
        """The roll-ups of the given series and period (900 or 3600 s), by series then bucket start."""
        return buckets.read(session, series_ids, period_seconds, start_from=start_from, start_before=start_before)

    def export_rows(self, session: Session, job_id: str, start_from: datetime,
                    start_before: datetime) -> Iterator[MeasuredValue]:
        """Every value of the job's series in [start_from, start_before), by start, object id, indicator id,
        streamed: a time slice of about _EXPORT_CHUNK_ROWS values per query, so memory stays bounded whatever
        the range."""
        start_from, start_before = _utc(start_from), _utc(start_before)
        series = {row[0]: tuple(row) for row in session.execute(
            select(*_SERIES_COLUMNS).where(SERIES.c.job_id == job_id))}
        if not series:
            return
        # Each series' place in (object id, indicator id) order: slices are sorted here, by start then that.
        rank = {series_id: place for place, series_id in
                enumerate(sorted(series, key=lambda series_id: (series[series_id][2], series[series_id][3])))}
        chosen = (VALUES.c.series_id.in_(list(series)) if len(series) <= _MANY_SERIES
                  else VALUES.c.series_id.in_(select(SERIES.c.id).where(SERIES.c.job_id == job_id)))
        period = min(row[6] for row in series.values())
        step = timedelta(seconds=max(period, 1) * max(1, _EXPORT_CHUNK_ROWS // len(series)))
        make = MeasuredValue._make
        slice_start = start_from
        while slice_start < start_before:
            slice_end = min(slice_start + step, start_before)
            values = session.execute(select(VALUES.c.series_id, VALUES.c.start, VALUES.c.value,
                                            VALUES.c.missing_reason)
                                     .where(chosen, VALUES.c.start >= slice_start, VALUES.c.start < slice_end)).all()
            values.sort(key=lambda value: (value[1], rank[value[0]]))
            for series_id, moment, value, reason in values:
                yield make(series[series_id] + (_utc(moment), value, reason))
            slice_start = slice_end

    # --- maintenance -------------------------------------------------------------------------------------------

    def rollup(self, now: datetime, *, since: datetime | None = None, grace: timedelta = buckets.GRACE,
               backfill: timedelta = timedelta(days=RAW_RETENTION_DAYS)) -> int:
        """Roll up the 15-minute and hourly buckets completed (`grace` ago) since the last roll-up; from `since`
        on when given. Returns how many roll-up rows were written. See rollups.py."""
        return buckets.roll_up(self.db, now, since=since, grace=grace, backfill=backfill)

    def maintain(self, now: datetime, raw_retention_days: int = RAW_RETENTION_DAYS,
                 rollup_retention_days: int = ROLLUP_RETENTION_DAYS) -> MaintenanceReport:
        """What runs periodically (every few minutes) and at start-up: partitions for the coming days, roll-ups of
        the buckets just completed, then expiry of raw values and of roll-ups."""
        report = MaintenanceReport()
        report.partitions_created = partitions.ensure_partitions(self.db, now)
        partitions.summarize(self.db)  # the roll-up reads the newest values by time
        report.rollups_written = self.rollup(now, backfill=timedelta(days=raw_retention_days))
        report.partitions_dropped = partitions.drop_expired(self.db, now, raw_retention_days)
        report.rollups_deleted = buckets.expire(self.db, now, rollup_retention_days)
        return report


def _postgresql_time(moment: datetime) -> str:
    return _utc(moment).isoformat()


def _copy_text(rows: list[tuple]) -> str:
    """Value rows in COPY's text format."""
    lines = [f"{series_id}\t{start}\t{value!r}\t\\N" if value is not None
             else f"{series_id}\t{start}\t\\N\t{_copy_escaped(reason)}"
             for series_id, start, value, reason in rows]
    lines.append("")
    return "\n".join(lines)


class _CopySource:
    """The file COPY reads pm_value rows from, formatted a slice of samples at a time as PostgreSQL asks for more:
    Python formats the next slice while the server stores the previous one, on the other core."""

    SLICE = 2000

    def __init__(self, samples: Sequence[Sample], rows_of):
        self.samples = samples
        self.rows_of = rows_of
        self.position = 0
        self.rows = 0  # sent so far

    def read(self, _size: int = -1) -> str:
        if self.position >= len(self.samples):
            return ""
        part = self.samples[self.position:self.position + self.SLICE]
        self.position += self.SLICE
        rows = self.rows_of(part)
        self.rows += len(rows)
        return _copy_text(rows)


def _upsert(cursor, copy_text: str) -> None:
    """Insert the rows, replacing those already stored: through a scratch table, as INSERT ... ON CONFLICT needs
    a statement, not COPY."""
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_INCOMING} (LIKE pm_value) ON COMMIT DELETE ROWS")
    cursor.copy_expert(_COPY_VALUES.format(table=_INCOMING), io.StringIO(copy_text))
    cursor.execute(
        f"INSERT INTO pm_value (series_id, start, value, missing_reason) "
        f"SELECT series_id, start, value, missing_reason FROM {_INCOMING} "
        f"ON CONFLICT (series_id, start) DO UPDATE SET value = excluded.value, "
        f"missing_reason = excluded.missing_reason")


_COPY_VALUES = "COPY {table} (series_id, start, value, missing_reason) FROM STDIN"
_INCOMING = "pm_value_incoming"
_UNIQUE_VIOLATION = "23505"


_SERIES_COLUMNS = (SERIES.c.id, SERIES.c.job_id, SERIES.c.object_id, SERIES.c.indicator_id, SERIES.c.indicator_name,
                   SERIES.c.object_name, SERIES.c.period_seconds)


def _measured():
    """Values joined to their series, in MeasuredValue's column order."""
    return (select(*_SERIES_COLUMNS, VALUES.c.start, VALUES.c.value, VALUES.c.missing_reason)
            .select_from(VALUES).join(SERIES, SERIES.c.id == VALUES.c.series_id))


def _measured_value(row) -> MeasuredValue:
    """A row of _measured()'s columns as a MeasuredValue (built in C: thousands of them make a /metrics page)."""
    start = row[7]
    if start.tzinfo is not timezone.utc:
        start = _utc(start)
    return MeasuredValue._make((*row[:7], start, row[8], row[9]))


def _series_conditions(job_id, object_ids, indicator_ids) -> list:
    conditions = []
    if job_id is not None:
        conditions.append(SERIES.c.job_id == job_id)
    if object_ids is not None:
        conditions.append(SERIES.c.object_id.in_(list(object_ids)))
    if indicator_ids is not None:
        conditions.append(SERIES.c.indicator_id.in_(list(indicator_ids)))
    return conditions


def _time_conditions(start_from, start_before) -> list:
    conditions = []
    if start_from is not None:
        conditions.append(VALUES.c.start >= _utc(start_from))
    if start_before is not None:
        conditions.append(VALUES.c.start < _utc(start_before))
    return conditions


def _same(cached: tuple[int, str, str, int], indicator_name: str, object_name: str, period_seconds: int) -> bool:
    """Whether the stored series already says what the collector says (an empty name says nothing)."""
    return ((not indicator_name or indicator_name == cached[1]) and (not object_name or object_name == cached[2])
            and period_seconds == cached[3])


def _reason(sample: Sample) -> str | None:
    """Why a value is missing, as stored: short, without NUL (PostgreSQL refuses it in text)."""
    if sample.value is not None:  # NaN: computed, but not a number
        return NOT_A_NUMBER if sample.missing_reason is None else _bounded(sample.missing_reason,
                                                                           MISSING_REASON_LENGTH)
    if sample.missing_reason is None:
        return None
    return _bounded(sample.missing_reason, MISSING_REASON_LENGTH)


def _bounded(value: str, length: int) -> str:
    return value.replace("\x00", "")[:length]


def _copy_escaped(value: str | None) -> str:
    """A text field of COPY's text format."""
    if value is None:
        return "\\N"
    return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite keeps the wall-clock time and drops the zone: every timestamp goes in (and comes out) as UTC.
    moment = as_utc(moment)
    return None if moment is None else moment.astimezone(timezone.utc)

"""The time-series store on both databases: values in and out, missing values, rewrites, the TMF628 query, latest
values, roll-ups, day partitions and retention."""
from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from tests.conftest import truncate_all
from tmf_oss.db.engine import Database
from tmf_oss.performance import partitions, timeseries
from tmf_oss.performance.samples import Sample, SeriesKey
from tmf_oss.performance.timeseries import (
    TimeSeriesStore,
    measurement_id,
    parse_measurement_id,
)

DAY = datetime(2026, 3, 10, tzinfo=timezone.utc)
T0 = DAY + timedelta(hours=10)  # a round hour
MINUTE = timedelta(minutes=1)
PARIS = timezone(timedelta(hours=1))


@pytest.fixture
def db(database_url):
    truncate_all(database_url)
    database = Database(database_url)
    yield database
    # Day partitions are tables: drop every one a test created, so the next starts with the default only.
    partitions.drop_expired(database, datetime(2100, 1, 1, tzinfo=timezone.utc), 0)
    database.dispose()


@pytest.fixture
def store(db):
    return TimeSeriesStore(db)


def key(obj: str = "eth0", indicator: str = "inOctets", job: str = "job-1") -> SeriesKey:
    return SeriesKey(job, obj, indicator)


def sample(series: SeriesKey, start: datetime, value: float | None, reason: str | None = None) -> Sample:
    return Sample(series, start, start + MINUTE, value, reason, indicator_name=f"{series.indicator_id} name",
                  object_name=f"{series.object_id} name")


def rows_of(store, db, **criteria):
    with db.reading() as session:
        rows, total = store.query(session, limit=None, **criteria)
    return rows, total


def raw_values(db) -> list[tuple]:
    with db.read() as connection:
        return [tuple(row) for row in connection.execute(text(
            "SELECT series_id, value, missing_reason FROM pm_value ORDER BY series_id, start"))]


def test_values_written_are_read_back_with_their_series(store, db):
    samples = [sample(key(obj, indicator), T0 + minute * MINUTE, 100.0 * minute + position)
               for position, (obj, indicator) in enumerate([("eth0", "inOctets"), ("eth0", "outOctets"),
                                                            ("eth1", "inOctets")])
               for minute in range(3)]
    assert store.write(samples, 60) == 9

    rows, total = rows_of(store, db)
    assert total == 9 and len(rows) == 9
    first = rows[0]
    assert (first.job_id, first.object_id, first.indicator_id) == ("job-1", "eth0", "inOctets")
    assert (first.indicator_name, first.object_name, first.period_seconds) == ("inOctets name", "eth0 name", 60)
    assert first.start == T0 and first.start.tzinfo is not None and first.end == T0 + MINUTE
    assert (first.value, first.missing_reason) == (0.0, None)
    assert sorted((row.object_id, row.indicator_id, row.start, row.value) for row in rows) == sorted(
        (s.series.object_id, s.series.indicator_id, s.start, s.value) for s in samples)


def test_times_in_other_zones_are_stored_and_returned_in_utc(store, db):
    store.write([sample(key(), T0.astimezone(PARIS), 5.0)], 60)
    rows, _ = rows_of(store, db, start_from=T0.astimezone(PARIS), start_before=(T0 + MINUTE).astimezone(PARIS))
    assert [(row.start, row.start.utcoffset()) for row in rows] == [(T0, timedelta(0))]


def test_missing_values_are_kept_as_null_with_their_reason_never_as_zero(store, db):
    store.write([sample(key(), T0, None, "device unreachable"), sample(key(), T0 + MINUTE, 7.5),
                 sample(key(), T0 + 2 * MINUTE, float("nan")), sample(key(), T0 + 3 * MINUTE, None),
                 sample(key(), T0 + 4 * MINUTE, None, "x" * 300)], 60)

    rows, _ = rows_of(store, db)
    assert [(row.value, row.missing_reason) for row in rows] == [
        (None, "device unreachable"), (7.5, None), (None, timeseries.NOT_A_NUMBER), (None, None),
        (None, "x" * 64)]
    assert [value for _, value, _ in raw_values(db)] == [None, 7.5, None, None, None]


def test_reasons_with_copy_special_characters_come_back_unchanged(store, db):
    reason = "tab\there\nnew line \\ back\\slash \\N"
    store.write([sample(key(), T0, None, reason)], 60)
    rows, _ = rows_of(store, db)
    assert rows[0].missing_reason == reason


def test_a_value_written_again_replaces_the_stored_one(store, db):
    store.write([sample(key(), T0, None, "timeout"), sample(key(), T0 + MINUTE, 2.0)], 60)
    # A collector's retry: the same round again, one value now known, plus a new interval.
    assert store.write([sample(key(), T0, 1.0), sample(key(), T0 + MINUTE, 2.5),
                        sample(key(), T0 + 2 * MINUTE, 3.0)], 60) == 3
    rows, total = rows_of(store, db)
    assert total == 3
    assert [(row.start, row.value, row.missing_reason) for row in rows] == [
        (T0, 1.0, None), (T0 + MINUTE, 2.5, None), (T0 + 2 * MINUTE, 3.0, None)]


def test_the_same_interval_twice_in_one_batch_keeps_the_later(store, db):
    assert store.write([sample(key(), T0, 1.0), sample(key("eth1"), T0, 5.0), sample(key(), T0, 2.0)], 60) == 2
    rows, _ = rows_of(store, db)
    assert [(row.object_id, row.value) for row in rows] == [("eth0", 2.0), ("eth1", 5.0)]
    store.write([sample(key(), T0, 3.0), sample(key(), T0, None, "reset")], 60)  # through the upsert on PostgreSQL
    rows, _ = rows_of(store, db, object_ids=["eth0"])
    assert [(row.value, row.missing_reason) for row in rows] == [(None, "reset")]


def test_series_are_created_once_and_renames_are_kept(store, db):
    infos = [(key("eth0"), "in", "port 0", 60), (key("eth1"), "in", "port 1", 60)]
    ids = store.series_ids(infos)
    assert len(set(ids.values())) == 2
    assert TimeSeriesStore(db).series_ids(infos) == ids  # a fresh process finds them
    assert store.series_ids([(key("eth0"), "in", "uplink", 300)]) == {key("eth0"): ids[key("eth0")]}
    assert store.series_ids([(key("eth0"), "", "", 300)]) == {key("eth0"): ids[key("eth0")]}  # no name: kept
    with db.read() as connection:
        stored = connection.execute(text("SELECT indicator_name, object_name, period_seconds FROM pm_series "
                                         "WHERE id = :id"), {"id": ids[key("eth0")]}).one()
    assert tuple(stored) == ("in", "uplink", 300)


def test_two_processes_creating_the_same_series_get_the_same_ids(db, database_url):
    infos = [(key(f"eth{n}"), "in", f"port {n}", 60) for n in range(200)]
    results, errors = [], []
    barrier = threading.Barrier(2)

    def create():
        other = Database(database_url)
        try:
            barrier.wait()
            results.append(TimeSeriesStore(other).series_ids(infos))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            other.dispose()

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and results[0] == results[1] and len(set(results[0].values())) == 200


@pytest.fixture
def grid(store):
    """job-1: eth0 and eth1, inOctets and outOctets, 10:00-10:04; job-2: eth0 inOctets 10:00-10:04."""
    samples = [sample(key(obj, indicator), T0 + minute * MINUTE, float(minute))
               for obj in ("eth0", "eth1") for indicator in ("inOctets", "outOctets") for minute in range(5)]
    samples += [sample(key("eth0", "inOctets", "job-2"), T0 + minute * MINUTE, 100.0 + minute)
                for minute in range(5)]
    store.write(samples, 60)
    return store.series_ids([(s.series, "", "", 60) for s in samples])


def test_query_filters(store, db, grid):
    assert rows_of(store, db, job_id="job-2")[1] == 5
    assert rows_of(store, db, object_ids=["eth1"])[1] == 10
    assert rows_of(store, db, object_ids=["eth0"], indicator_ids=["inOctets"])[1] == 10
    assert rows_of(store, db, job_id="job-1", object_ids=["eth0"], indicator_ids=["inOctets"])[1] == 5
    rows, total = rows_of(store, db, series_ids=[grid[key("eth1", "outOctets")]])
    assert total == 5 and {(row.object_id, row.indicator_id) for row in rows} == {("eth1", "outOctets")}
    rows, total = rows_of(store, db, job_id="job-1", start_from=T0 + MINUTE, start_before=T0 + 3 * MINUTE)
    assert total == 8 and {row.start for row in rows} == {T0 + MINUTE, T0 + 2 * MINUTE}
    assert rows_of(store, db, object_ids=["nothing"]) == ([], 0)


def test_query_order_paging_and_total(store, db, grid):
    with db.reading() as session:
        page, total = store.query(session, job_id="job-1", order="start", offset=0, limit=3)
        assert total == 20 and [row.start for row in page] == [T0, T0, T0]
        assert [row.series_id for row in page] == sorted(row.series_id for row in page)
        everything, _ = store.query(session, job_id="job-1", limit=None)
        pages = [store.query(session, job_id="job-1", offset=offset, limit=6)[0] for offset in range(0, 20, 6)]
        assert [row for chunk in pages for row in chunk] == everything
        last, total = store.query(session, job_id="job-1", offset=18, limit=6)
        assert total == 20 and len(last) == 2
        beyond, total = store.query(session, job_id="job-1", offset=40, limit=6)
        assert beyond == [] and total == 20
        newest, total = store.query(session, job_id="job-1", order="-start", limit=4, with_total=False)
        assert total is None and [row.start for row in newest] == [T0 + 4 * MINUTE] * 4
        with pytest.raises(ValueError):
            store.query(session, order="value")


def test_measurement_ids_round_trip(store, db, grid):
    with db.reading() as session:
        rows, _ = store.query(session, job_id="job-2", limit=2)
        ident = rows[1].measurement_id
        assert ident == measurement_id(rows[1].series_id, rows[1].start) == \
            f"{grid[key('eth0', 'inOctets', 'job-2')]}-{int((T0 + MINUTE).timestamp())}"
        assert parse_measurement_id(ident) == (rows[1].series_id, T0 + MINUTE)
        assert store.get(session, ident) == rows[1]
        assert store.get(session, f"{rows[1].series_id}-{int(T0.timestamp()) - 60}") is None
        for wrong in ("", "12", "a-1", "1-b", "-5", "1--5", "1-2-3"):
            with pytest.raises(ValueError):
                parse_measurement_id(wrong)
            assert store.get(session, wrong) is None


def test_latest_gives_the_newest_value_of_each_series(store, db, grid):
    store.write([sample(key("eth0", "inOctets"), T0 + 9 * MINUTE, None, "timeout")], 60)
    with db.reading() as session:
        latest = store.latest(session)
        assert len(latest) == 5 and [row.series_id for row in latest] == sorted(grid.values())
        newest = {(row.job_id, row.object_id, row.indicator_id): (row.start, row.value, row.missing_reason)
                  for row in latest}
        assert newest[("job-1", "eth0", "inOctets")] == (T0 + 9 * MINUTE, None, "timeout")
        assert newest[("job-1", "eth1", "outOctets")] == (T0 + 4 * MINUTE, 4.0, None)
        assert newest[("job-2", "eth0", "inOctets")] == (T0 + 4 * MINUTE, 104.0, None)
        chosen = store.latest(session, [grid[key("eth1", "inOctets")]])
        assert [(row.object_id, row.indicator_id, row.value) for row in chosen] == [("eth1", "inOctets", 4.0)]
        recent = store.latest(session, since=T0 + 5 * MINUTE)
        assert [(row.object_id, row.start) for row in recent] == [("eth0", T0 + 9 * MINUTE)]


def test_export_streams_a_jobs_values_by_start_object_indicator(store, db, grid, monkeypatch):
    monkeypatch.setattr(timeseries, "_EXPORT_CHUNK_ROWS", 5)  # slices of one interval: several queries
    with db.reading() as session:
        exported = list(store.export_rows(session, "job-1", T0 + MINUTE, T0 + 4 * MINUTE))
        assert [(row.start, row.object_id, row.indicator_id) for row in exported] == [
            (T0 + minute * MINUTE, obj, indicator) for minute in (1, 2, 3) for obj in ("eth0", "eth1")
            for indicator in ("inOctets", "outOctets")]
        assert list(store.export_rows(session, "job-9", T0, T0 + 4 * MINUTE)) == []


def test_rollups_of_completed_buckets(store, db):
    # 10:00-10:29: value = minute, 10:03 and 10:17 missing, 10:14 (the 15-minute bucket's last interval) missing.
    samples = [sample(key(), T0 + minute * MINUTE, None if minute in (3, 14, 17) else float(minute), "timeout")
               for minute in range(30)]
    samples.append(sample(key("eth1"), T0, None, "unreachable"))  # a bucket with nothing present
    store.write(samples, 60)
    series_id = store.series_ids([(key(), "", "", 60)])[key()]
    other_id = store.series_ids([(key("eth1"), "", "", 60)])[key("eth1")]

    # 10:20: only 10:00-10:15 is over and past the grace period.
    assert store.rollup(T0 + 20 * MINUTE) == 2
    with db.reading() as session:
        first = store.rollups(session, [series_id], 900)
        assert len(first) == 1 and first[0].start == T0
        bucket = first[0]
        present = [float(minute) for minute in range(15) if minute not in (3, 14)]
        assert (bucket.interval_count, bucket.missing_count) == (15, 2)
        assert (bucket.value_sum, bucket.value_min, bucket.value_max, bucket.value_last) == (
            sum(present), 0.0, 13.0, 13.0)
        empty, = store.rollups(session, [other_id], 900)
        assert (empty.interval_count, empty.missing_count, empty.value_sum, empty.value_last) == (1, 1, None, None)
        assert store.rollups(session, [series_id], 3600) == []

    # 11:10: the second quarter and the hour are done; a run again changes nothing.
    assert store.rollup(T0 + 70 * MINUTE) == 3  # eth0 10:15 (10:30 and 10:45 hold nothing), both series 10:00-11:00
    assert store.rollup(T0 + 70 * MINUTE) == 0
    with db.reading() as session:
        quarters = store.rollups(session, [series_id], 900)
        assert [(row.start, row.interval_count, row.missing_count, row.value_last) for row in quarters] == [
            (T0, 15, 2, 13.0), (T0 + 15 * MINUTE, 15, 1, 29.0)]
        hour, = store.rollups(session, [series_id], 3600)
        assert (hour.start, hour.interval_count, hour.missing_count, hour.value_min, hour.value_max,
                hour.value_last) == (T0, 30, 3, 0.0, 29.0, 29.0)
        assert hour.value_sum == sum(float(m) for m in range(30) if m not in (3, 14, 17))

    # A value corrected late is taken in when asked to roll up again from then.
    store.write([sample(key(), T0 + 3 * MINUTE, 1000.0)], 60)
    assert store.rollup(T0 + 70 * MINUTE, since=T0) == 5
    with db.reading() as session:
        bucket = store.rollups(session, [series_id], 900, start_before=T0 + MINUTE)[0]
        assert (bucket.missing_count, bucket.value_max) == (1, 1000.0)


def day_partitions(db) -> list[date]:
    if db.dialect != "postgresql":
        return []
    with db.reading() as session:
        return partitions.existing_days(session)


def partition_tables(db) -> set[str]:
    with db.read() as connection:
        return set(connection.execute(text(
            "SELECT relname FROM pg_class WHERE relname LIKE 'pm_value_p%' AND relkind = 'r'")).scalars())


def holder_of(db, series_id: int, start: datetime) -> str:
    """The partition a row is stored in."""
    with db.read() as connection:
        return connection.execute(text("SELECT tableoid::regclass::text FROM pm_value WHERE series_id = :id AND "
                                        "start = :start"), {"id": series_id, "start": start}).scalar_one()


def test_partitions_are_created_ahead_once(db):
    created = partitions.ensure_partitions(db, T0, days_ahead=2)
    if db.dialect != "postgresql":
        assert created == [] and day_partitions(db) == []
        return
    days = [date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 12)]
    assert created == days and day_partitions(db) == days
    assert partitions.ensure_partitions(db, T0 + timedelta(days=1), days_ahead=2) == [date(2026, 3, 13)]
    assert partitions.ensure_partitions(db, T0, days_ahead=2) == []
    assert partition_tables(db) == {f"pm_value_p2026031{n}" for n in range(4)}
    with db.read() as connection:  # each a real partition of pm_value, with its bounds
        bound = connection.execute(text(
            "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid "
            "WHERE c.relname = 'pm_value_p20260310' AND i.inhparent = 'pm_value'::regclass")).scalar_one()
    assert "2026-03-10" in bound and "2026-03-11" in bound


def test_partition_maintenance_in_two_processes_at_once(db, database_url):
    if db.dialect != "postgresql":
        pytest.skip("partitions exist on PostgreSQL only")
    created, errors = [], []
    barrier = threading.Barrier(2)

    def maintain():
        other = Database(database_url)
        try:
            barrier.wait()
            created.append(partitions.ensure_partitions(other, T0, days_ahead=3))
            barrier.wait()
            partitions.drop_expired(other, T0 + timedelta(days=3), 1)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            other.dispose()

    threads = [threading.Thread(target=maintain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(created, key=len) == [[], [date(2026, 3, 10 + n) for n in range(4)]]
    assert day_partitions(db) == [date(2026, 3, 12), date(2026, 3, 13)]


def test_values_outside_the_created_days_land_in_the_default_partition(store, db):
    partitions.ensure_partitions(db, T0, days_ahead=0)
    later = T0 + timedelta(days=30)
    store.write([sample(key(), T0, 1.0), sample(key(), later, 2.0), sample(key(), T0 - timedelta(days=400), 3.0)],
                60)
    series_id = store.series_ids([(key(), "", "", 60)])[key()]
    rows, total = rows_of(store, db)
    assert total == 3 and [row.value for row in rows] == [3.0, 1.0, 2.0]
    if db.dialect != "postgresql":
        return
    assert holder_of(db, series_id, T0) == "pm_value_p20260310"
    assert holder_of(db, series_id, later) == "pm_value_default"
    # When its day's partition comes, the row moves into it.
    assert partitions.ensure_partitions(db, later, days_ahead=0) == [partitions.day_of(later)]
    assert holder_of(db, series_id, later) == f"pm_value_p{later:%Y%m%d}"
    with db.read() as connection:
        assert connection.execute(text("SELECT count(*) FROM pm_value_default")).scalar_one() == 1
    assert [row.value for row in rows_of(store, db)[0]] == [3.0, 1.0, 2.0]


def test_retention_drops_whole_expired_days(store, db):
    partitions.ensure_partitions(db, DAY - timedelta(days=3), days_ahead=4)
    for offset in range(-3, 2):  # 7 to 11 March, 10:00 each day
        store.write([sample(key(), T0 + timedelta(days=offset), float(offset))], 60)
    store.write([sample(key(), DAY - timedelta(days=9), -9.0)], 60)  # in the default partition on PostgreSQL

    # Retention of 2 days on 11 March 08:00: everything before 9 March 00:00 goes.
    dropped = partitions.drop_expired(db, DAY + timedelta(days=1, hours=8), 2)
    assert [row.value for row in rows_of(store, db)[0]] == [-1.0, 0.0, 1.0]
    if db.dialect != "postgresql":
        assert dropped == []
        return
    assert dropped == [date(2026, 3, 7), date(2026, 3, 8)]
    assert day_partitions(db) == [date(2026, 3, 9), date(2026, 3, 10), date(2026, 3, 11)]
    assert partition_tables(db) == {"pm_value_p20260309", "pm_value_p20260310", "pm_value_p20260311"}
    assert partitions.drop_expired(db, DAY + timedelta(days=1, hours=8), 2) == []


def test_maintenance_creates_rolls_up_and_expires(store, db):
    store.write([sample(key(), T0 + minute * MINUTE, float(minute)) for minute in range(60)], 60)
    report = store.maintain(T0 + timedelta(hours=2), raw_retention_days=7, rollup_retention_days=30)
    assert report.rollups_written == 5 and report.partitions_dropped == [] and report.rollups_deleted == 0
    if db.dialect == "postgresql":
        assert report.partitions_created == [date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 12)]

    # Eight days on: the raw values are gone, the roll-ups stay; 31 days on they go too.
    report = store.maintain(T0 + timedelta(days=8), raw_retention_days=7, rollup_retention_days=30)
    assert rows_of(store, db)[1] == 0 and report.rollups_deleted == 0
    if db.dialect == "postgresql":
        assert date(2026, 3, 10) in report.partitions_dropped
    series_id = store.series_ids([(key(), "", "", 60)])[key()]
    with db.reading() as session:
        assert len(store.rollups(session, [series_id], 900)) == 4
    report = store.maintain(T0 + timedelta(days=31), raw_retention_days=7, rollup_retention_days=30)
    assert report.rollups_deleted == 5

#!/usr/bin/env python3
"""Performance measurement storage: values stored per second, and reads, on PostgreSQL.

1. recreates a scratch database, applies the migrations, registers --objects x --indicators series (one job,
   1-minute granularity) and loads --history-days of 1-minute values for all of them, generated in SQL, ending
   at 16:00 UTC today, where the write runs start: the writes go into a day partition that already holds 16 hours
   of every series, its primary key grown row by row as collection grows it; then VACUUM ANALYZE;
2. **writes**: collection rounds of one value per series (13,000 values with the defaults, one interval after the
   other, about 1 % missing) through TimeSeriesStore.write, for --seconds of write time per run, --runs runs, each
   after waiting (--quiet-wait) for other work on the machine to stop. Each run is paired with the **ceiling**:
   the same rows, formatted as simply as possible, COPYed into an unlogged, unpartitioned, unindexed table (no
   WAL, no index, no routing: what COPY itself costs). CPU time per value is measured too (this process; the
   database's backends and the server's WAL writer, checkpointer and background writer, from /proc), and a run
   during which other processes took more than 10 % of the CPUs is flagged DISTURBED. Also measured, per round:
   the alternatives the store does not take (every round through the scratch table and INSERT ... ON CONFLICT DO
   UPDATE; keeping each series' latest value in a row of its own, updated by every round) and a collector's
   retry (a round written again: COPY fails on the first row, the round goes through the upsert);
3. **reads**: one object's day of 1-minute data (all its indicators, 1,440 values each: the 24 hours before the
   writes, across two day partitions) as a whole and as a first API page (100 values with the total), for
   --queries random objects; latest() for every series and for one object's; one hour rolled up (what
   maintenance does with each hour of data).

Prints medians (and p99 for the reads) and the ratio of the store's write rate to the ceiling's.

    python benchmarks/pm_store.py                               # 1,000 objects x 13 indicators, 2 days loaded
    python benchmarks/pm_store.py --history-days 1 --seconds 5  # a quicker look
"""
from __future__ import annotations

import argparse
import io
import random
import statistics
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from common import backend_cpu, drop_database, machine_cpu, recreate_database  # benchmarks/common.py

DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/tmf_oss_bench_pm"
JOB = "job-bench"
PERIOD = 60
TARGET = 50_000  # values/s
DISTURBED = 0.10  # share of the CPUs other processes may take during a run before its figures are flagged

LOAD = """
INSERT INTO {table} (series_id, start, value, missing_reason)
SELECT s.id, t, CASE WHEN (s.id + minute) % 101 = 0 THEN NULL ELSE round((random() * 1e6)::numeric, 1) END,
       CASE WHEN (s.id + minute) % 101 = 0 THEN 'device unreachable' END
FROM generate_series(0, :minutes - 1) AS minute
CROSS JOIN LATERAL (SELECT CAST(:first AS timestamptz) + make_interval(mins => minute) AS t) AS moment
CROSS JOIN pm_series AS s
ORDER BY minute, s.id
"""


def load_history(db, first: datetime, end: datetime) -> None:
    """Values of every series for each minute in [first, end), generated in SQL an hour per statement, in time
    order. The days before `end`'s are filled while still tables of their own, then attached: their primary keys
    are built in one sort, much faster. `end`'s day goes through pm_value like a collector's rounds, its primary
    key growing entry by entry, so the writes measured next meet the index a day of collection leaves."""
    from tmf_oss.performance import partitions

    write_day = partitions.day_of(end)
    partitions.ensure_partitions(db, end, days_ahead=2)
    day = partitions.day_of(first)
    with db.engine.connect() as connection:
        while day <= write_day:
            lower = max(first, partitions.day_start(day))
            upper = min(end, partitions.day_start(day + timedelta(days=1)))
            name = partitions.partition_name(day)
            target = "pm_value" if day == write_day else name
            if day != write_day:
                connection.execute(text(
                    f"CREATE TABLE {name} (LIKE pm_value INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
            moment = lower
            while moment < upper:
                minutes = int(min(timedelta(hours=1), upper - moment).total_seconds() // 60)
                connection.execute(text(LOAD.format(table=target)), {"first": moment, "minutes": minutes})
                connection.commit()
                moment += timedelta(minutes=minutes)
            if day != write_day:
                connection.execute(text(
                    f"ALTER TABLE pm_value ATTACH PARTITION {name} FOR VALUES FROM "
                    f"('{partitions.day_start(day).isoformat()}') TO "
                    f"('{partitions.day_start(day + timedelta(days=1)).isoformat()}')"))
                connection.commit()
            day += timedelta(days=1)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def round_samples(keys, start: datetime, randomized: random.Random) -> list:
    from tmf_oss.performance.samples import Sample

    end = start + timedelta(seconds=PERIOD)
    samples = []
    for key, indicator_name, object_name in keys:
        if randomized.random() < 0.01:
            samples.append(Sample(key, start, end, None, "device unreachable", indicator_name, object_name))
        else:
            samples.append(Sample(key, start, end, round(randomized.random() * 1e6, 1), None, indicator_name,
                                  object_name))
    return samples


def ceiling_write(db, samples, ids) -> None:
    """The least any store has to do: rows as COPY text, into a table with no index, partition or constraint."""
    start = samples[0].start.isoformat()  # a round: one start
    lines = []
    for sample in samples:
        value = "\\N" if sample.value is None else repr(sample.value)
        reason = sample.missing_reason if sample.value is None else "\\N"
        lines.append(f"{ids[sample.series]}\t{start}\t{value}\t{reason}")
    with db.transaction() as session:
        cursor = session.connection().connection.dbapi_connection.cursor()
        cursor.copy_expert("COPY ceiling_value FROM STDIN", io.StringIO("\n".join(lines) + "\n"))
        cursor.close()


def upsert_write(db, store, samples) -> None:
    """The alternative to plain COPY: every round through the scratch table and INSERT ... ON CONFLICT."""
    from tmf_oss.performance import timeseries

    copy_text = timeseries._copy_text(store._value_rows(samples, PERIOD))
    with db.transaction() as session:
        cursor = session.connection().connection.dbapi_connection.cursor()
        timeseries._upsert(cursor, copy_text)
        cursor.close()


def latest_kept_write(db, store, samples) -> None:
    """The alternative for latest(): the round's values also written to one row per series (what a last_start /
    last_value pair on pm_series would cost every round)."""
    from tmf_oss.performance import timeseries

    copy_text = timeseries._copy_text(store._value_rows(samples, PERIOD))
    with db.transaction() as session:
        cursor = session.connection().connection.dbapi_connection.cursor()
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS latest_incoming (LIKE pm_value) ON COMMIT DELETE ROWS")
        cursor.copy_expert("COPY latest_incoming FROM STDIN", io.StringIO(copy_text))
        cursor.execute("UPDATE series_latest AS l SET start = i.start, value = i.value, "
                       "missing_reason = i.missing_reason FROM latest_incoming AS i "
                       "WHERE l.series_id = i.series_id AND i.start >= l.start")
        cursor.close()


def wait_until_quiet(limit: float, threshold: float = 0.10) -> float:
    """Wait, at most `limit` seconds, for the machine to be idle (other work on these cores lowers every figure
    without saying so); returns the busy share last seen."""
    started = time.monotonic()
    said = started - 15
    while True:
        busy, total = machine_cpu()
        time.sleep(1.0)
        busy_after, total_after = machine_cpu()
        share = (busy_after - busy) / max(total_after - total, 1e-9)
        now = time.monotonic()
        if share < threshold or now - started >= limit:
            return share
        if now - said >= 15:
            print(f"  waiting for a quiet machine: {share:.0%} of the CPUs busy with other work")
            said = now


def timed(function, *args, **kwargs) -> float:
    started = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--indicators", type=int, default=13)
    parser.add_argument("--history-days", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=10.0, help="write time per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--quiet-wait", type=float, default=60,
                        help="seconds to wait at most, before each write run, for other work to stop")
    parser.add_argument("--keep-database", action="store_true")
    options = parser.parse_args(argv)
    if not options.database_url.startswith("postgresql"):
        raise SystemExit("this benchmark measures PostgreSQL (COPY, partitions)")

    from tmf_oss.db.engine import Database
    from tmf_oss.db.migrate import upgrade
    from tmf_oss.performance.samples import SeriesKey
    from tmf_oss.performance.timeseries import TimeSeriesStore

    recreate_database(options.database_url)
    upgrade(options.database_url)
    db = Database(options.database_url)
    store = TimeSeriesStore(db)
    try:
        keys = [(SeriesKey(JOB, f"obj-{obj:05d}", f"ind-{ind:02d}"), f"indicator {ind}", f"interface {obj}")
                for obj in range(options.objects) for ind in range(options.indicators)]
        ids = store.series_ids([(key, indicator, name, PERIOD) for key, indicator, name in keys])
        series = len(ids)
        history_minutes = int(options.history_days * 1440)
        # Writes start at 16:00 UTC, the history filling the days before and today up to then: each series has
        # hundreds of values in the day's partition already, as it has most of the day.
        writes_start = datetime.now(timezone.utc).replace(hour=16, minute=0, second=0, microsecond=0)
        history_start = writes_start - timedelta(minutes=history_minutes)
        started = time.monotonic()
        load_history(db, history_start, writes_start)
        loaded = series * history_minutes
        load_seconds = time.monotonic() - started
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE pm_value"))
            connection.execute(text("VACUUM ANALYZE pm_series"))
            size = connection.execute(text(
                "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits "
                "WHERE inhparent = 'pm_value'::regclass")).scalar()
            connection.execute(text("CREATE UNLOGGED TABLE ceiling_value (series_id integer, start timestamptz, "
                                    "value double precision, missing_reason text)"))
            connection.execute(text("CREATE UNLOGGED TABLE series_latest AS SELECT id AS series_id, "
                                    "timestamptz '-infinity' AS start, 0::float8 AS value, "
                                    "NULL::varchar(64) AS missing_reason FROM pm_series"))
            connection.execute(text("ALTER TABLE series_latest ADD PRIMARY KEY (series_id)"))
        print(f"{series:,} series ({options.objects:,} objects x {options.indicators} indicators, 1-minute), "
              f"{loaded:,} values of history loaded in {load_seconds:.0f} s ({loaded / load_seconds:,.0f}/s, "
              f"generated in SQL); pm_value now {size}")

        # --- writes ---
        randomized = random.Random(7)
        round_start = writes_start
        runs = []
        for run in range(options.runs):
            wait_until_quiet(options.quiet_wait)
            figures = {}
            machine = machine_cpu()
            ours = time.process_time() + backend_cpu(db)
            for label in ("store", "ceiling"):
                spent = python_cpu = database_cpu = written = 0
                while spent < options.seconds:
                    if label == "store":
                        samples = round_samples(keys, round_start, randomized)
                        round_start += timedelta(seconds=PERIOD)
                    else:  # the same kind of rounds; where they go has no index to care about time
                        samples = round_samples(keys, writes_start, randomized)
                    before = (time.perf_counter(), time.process_time(), backend_cpu(db))
                    if label == "store":
                        store.write(samples, PERIOD)
                    else:
                        ceiling_write(db, samples, ids)
                    spent += time.perf_counter() - before[0]
                    python_cpu += time.process_time() - before[1]
                    database_cpu += backend_cpu(db) - before[2]
                    written += len(samples)
                figures[label] = (written / spent, python_cpu / written * 1e6, database_cpu / written * 1e6)
            busy, total = (after - before for after, before in zip(machine_cpu(), machine))
            other = max(0.0, busy - (time.process_time() + backend_cpu(db) - ours)) / total
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("TRUNCATE ceiling_value"))
            figures["other"] = other
            runs.append(figures)
            store_figures, ceiling = figures["store"], figures["ceiling"]
            print(f"run {run + 1}: store {store_figures[0]:,.0f} values/s (CPU µs/value: Python "
                  f"{store_figures[1]:.1f}, PostgreSQL {store_figures[2]:.1f}), ceiling {ceiling[0]:,.0f}/s "
                  f"({ceiling[1]:.1f} + {ceiling[2]:.1f}), ratio {store_figures[0] / ceiling[0]:.0%}; other work "
                  f"{other:.0%} of the CPUs{' DISTURBED' if other > DISTURBED else ''}")

        alternatives = {"plain COPY (write, no conflict)": [], "always upsert (scratch table + ON CONFLICT)": [],
                        "retry of a round already stored": [], "latest kept per series (that UPDATE alone)": []}
        for _ in range(5):
            samples = round_samples(keys, round_start, randomized)
            round_start += timedelta(seconds=PERIOD)
            alternatives["plain COPY (write, no conflict)"].append(timed(store.write, samples, PERIOD))
            alternatives["retry of a round already stored"].append(timed(store.write, samples, PERIOD))
            alternatives["latest kept per series (that UPDATE alone)"].append(
                timed(latest_kept_write, db, store, samples))
            samples = round_samples(keys, round_start, randomized)
            round_start += timedelta(seconds=PERIOD)
            alternatives["always upsert (scratch table + ON CONFLICT)"].append(
                timed(upsert_write, db, store, samples))
        print()
        median = {label: [statistics.median(run[label][n] for run in runs) for n in range(3)]
                  for label in ("store", "ceiling")}
        ratio = statistics.median(run["store"][0] / run["ceiling"][0] for run in runs)
        store_rate = median["store"][0]
        disturbed = sum(run["other"] > DISTURBED for run in runs)
        print(f"writes, {series:,}-value rounds, median of {options.runs} runs of {options.seconds:.0f} s "
              f"({disturbed} DISTURBED): {store_rate:,.0f} values/s stored, ceiling {median['ceiling'][0]:,.0f}/s, "
              f"ratio {ratio:.0%}; target {TARGET:,}/s: {'met' if store_rate >= TARGET else 'MISSED'}")
        print(f"  CPU µs per value, Python + PostgreSQL: store {median['store'][1]:.1f} + "
              f"{median['store'][2]:.1f}, ceiling {median['ceiling'][1]:.1f} + {median['ceiling'][2]:.1f}")
        for label, seconds in alternatives.items():
            median = statistics.median(seconds)
            print(f"  per round, {label}: {median * 1000:.0f} ms ({series / median:,.0f} values/s)")

        # --- reads ---
        objects = [f"obj-{obj:05d}" for obj in range(options.objects)]
        day_start = writes_start - timedelta(days=1)
        whole, page = [], []
        with db.reading() as session:
            for _ in range(options.queries):
                obj = randomized.choice(objects)
                started = time.perf_counter()
                rows, _ = store.query(session, object_ids=[obj], start_from=day_start,
                                      start_before=day_start + timedelta(days=1), limit=None, with_total=False)
                whole.append(time.perf_counter() - started)
                assert len(rows) == options.indicators * 1440, len(rows)
                obj = randomized.choice(objects)
                started = time.perf_counter()
                rows, total = store.query(session, object_ids=[obj], start_from=day_start,
                                          start_before=day_start + timedelta(days=1), limit=100)
                page.append(time.perf_counter() - started)
                assert total == options.indicators * 1440, total
            session.rollback()
            latest_all, latest_one = [], []
            one_object = [ids[key] for key, _, _ in keys[:options.indicators]]
            since = round_start - timedelta(hours=1)
            for _ in range(5):
                latest_all.append(timed(store.latest, session, None))
                latest_one.append(timed(store.latest, session, one_object))
            latest_since = [timed(store.latest, session, None, since=since) for _ in range(5)]
            count = len(store.latest(session))
        # As maintenance at 16:10 would: 15:00-16:00 into four quarters and one hour per series.
        rolled = timed(store.rollup, writes_start + timedelta(minutes=10), since=writes_start - timedelta(hours=1))
        print(f"one object's day ({options.indicators} x 1,440 values), all of it: median "
              f"{statistics.median(whole) * 1000:.1f} ms, p99 {percentile(whole, 0.99) * 1000:.1f} ms")
        print(f"one object's day, first page of 100 with total: median {statistics.median(page) * 1000:.1f} ms, "
              f"p99 {percentile(page, 0.99) * 1000:.1f} ms")
        print(f"latest(): all {count:,} series {statistics.median(latest_all) * 1000:.0f} ms; the same, values "
              f"of the last hour only (since=) {statistics.median(latest_since) * 1000:.0f} ms; one object's "
              f"{options.indicators} series {statistics.median(latest_one) * 1000:.1f} ms")
        print(f"roll-up of one hour ({series * 60:,} values into 15-minute and hourly buckets): {rolled:.1f} s")
    finally:
        db.dispose()
        if not options.keep_database:
            drop_database(options.database_url)


if __name__ == "__main__":
    main()

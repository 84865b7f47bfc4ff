#!/usr/bin/env python3
"""Performance collection: devices polled per minute by the TMF628 collector, against a plain-SNMP ceiling.

1. starts a simulated network (--devices x --interfaces, snmpsim on 127.0.5.N by default) and discovers it into
   a recreated scratch database (migrations applied, built-in indicator specifications seeded);
2. creates two measurement collection jobs through the TMF628 collection, as a client would: one over every
   interface (`monitoredClassCriteria` category=interface) with six interface indicators, one over every device
   (their ids) with cpuLoad and memoryUsed. The simulated agents have no HOST-RESOURCES-MIB or UCD-SNMP-MIB data,
   nor error and packet counters, so cpuLoad, memoryUsed and ifInErrorRatio come out missing: the collector stores
   them as missing values with their reason, which is printed, and that is not an error.
   The stock simulated agents answer a constant sysUpTime and constant counters, from which the collector rightly
   concludes that every device restarted between two readings: every rate would be missing ("device restarted").
   So the benchmark rewrites the simulator's data files (in its scratch directory, before snmpsim starts) with
   snmpsim's `numeric` variation module: sysUpTime advances 100 ticks a second and the octet counters grow
   (interface n: 10n Mbit/s in, 20n Mbit/s out), so rates, utilisations and thresholds see real numbers.
   --static-agents keeps the stock data;
3. runs the real collector (`Collector.run_due` with an SnmpAdapter, as the worker does) on compressed time
   (--seconds-per-minute; by default chosen from a calibration pass so that a period holds a round and the
   comparison passes): a baseline round (which also walks every device's interface indexes), then --rounds
   rounds, each started when the jobs fall due at the next period boundary, as the worker's loop would. Readings
   are one period apart, so each round computes rates and writes a new interval (the plain COPY path of the
   time-series store, not its retry path);
4. in every period, after the collector's round, times two comparison passes over the same devices:
   `measure()` alone (the collector's own SNMP reading and computing, no database) and the **ceiling**: plain
   concurrent `SnmpAdapter.get`s of exactly the OIDs the collector asks for, per job and device, 40 per request,
   plus the same hrProcessorLoad walk (nothing computed, nothing stored). The request and varbind counts of the
   collector's round and of the ceiling are checked to be equal;
5. prints medians: round seconds, devices polled per minute, values stored per round and per second, missing
   values with their reasons, where the round's time goes (the collector's synchronous steps timed by wrapping
   them on the instance: claim, plan, store, thresholds, advance; the rest is SNMP and computing), the CPU time
   of this process, of the database's backends and of the simulator per pass (read from /proc), and the
   collector's rate as a share of the ceiling's, in wall time (period by period) and in CPU time (what other
   work on a shared machine changes least).

    .venv/bin/python benchmarks/pm_collection.py                        # 200 devices x 8 interfaces, 5 rounds
    .venv/bin/python benchmarks/pm_collection.py --devices 50 --rounds 7
    .venv/bin/python benchmarks/pm_collection.py --threshold             # plus one threshold over every interface

Needs snmpsim (`pip install 'tmf-oss[demo]'`) and a PostgreSQL server you may create databases on (the database
name must contain 'bench'; it is dropped at the end unless --keep-database). Everything it starts is stopped on
exit, failure, Ctrl-C or SIGTERM. Exits non-zero when a device does not answer, a job fails or ends, a round
measures nothing, or the collector's and the ceiling's requests differ.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import math
import os
import re
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

from common import drop_database, recreate_database  # benchmarks/common.py

DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/tmf_oss_bench_pm_collection"
BASE_URL = "http://127.0.0.1:8080"
INTERFACE_INDICATORS = ("ifInBitRate", "ifOutBitRate", "ifInUtilisation", "ifOutUtilisation", "ifInErrorRatio",
                        "ifOperStatus")
DEVICE_INDICATORS = ("cpuLoad", "memoryUsed")
DISTURBED = 0.05  # others' share of the cores above which the figures are marked
SYNC_STEPS = ("claim", "plan", "store", "thresholds", "advance")  # the collector's synchronous (database) steps
UPTIME_OID = "1.3.6.1.2.1.1.3.0"
PAUSE_SECONDS = 2.0  # idle before each comparison pass
# Octets per second of interface n, by counter column (snmprec OID prefix): in 10n Mbit/s, out 20n Mbit/s.
OCTET_RATES = {"1.3.6.1.2.1.2.2.1.10.": 1_250_000, "1.3.6.1.2.1.31.1.1.1.6.": 1_250_000,
               "1.3.6.1.2.1.2.2.1.16.": 2_500_000, "1.3.6.1.2.1.31.1.1.1.10.": 2_500_000}


class Failure(Exception):
    """Something that makes the figures meaningless."""


def counting_adapter(max_concurrency: int):
    """An SnmpAdapter that counts its GET requests, their varbinds and its walks (the collector, measure() and the
    ceiling all use this one, so they pay the same for the counting)."""
    from tmf_oss.southbound.snmp import SnmpAdapter

    class CountingAdapter(SnmpAdapter):
        def __init__(self, **options):
            super().__init__(**options)
            self.counts = Counter()

        def take_counts(self) -> Counter:
            counts, self.counts = self.counts, Counter()
            return counts

        async def get(self, target, oids):
            self.counts["gets"] += 1
            self.counts["varbinds"] += len(oids)
            return await super().get(target, oids)

        async def walk(self, target, table):
            self.counts["walks"] += 1
            return await super().walk(target, table)

    return CountingAdapter(max_concurrency=max_concurrency)


class StepTimer:
    """Wall time spent in some synchronous methods of an object, by label (they run on the event loop thread and
    block it, so their times add up without overlapping)."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, owner, name: str, label: str) -> None:
        original = getattr(owner, name)
        seconds = self.seconds

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[label] += time.perf_counter() - started

        setattr(owner, name, timed)

    def take(self) -> dict[str, float]:
        taken = dict(self.seconds)
        self.seconds.clear()
        return taken


class CpuWatch:
    """CPU seconds of this process (the collector, pysnmp, the database client), of the snmpsim processes, of the
    PostgreSQL backends of the benchmark database, and of the whole machine, read from /proc around a pass."""

    def __init__(self, database: str | None):
        self.marker = f" {database} " if database else None
        self.simulators = [pid for pid, title in _processes() if _parent(pid) == os.getpid() and "snmpsim" in title]
        self.ticks = os.sysconf("SC_CLK_TCK")

    def sample(self) -> dict[str, float]:
        postgresql = 0.0
        if self.marker:
            postgresql = sum(_cpu_seconds(pid) for pid, title in _processes()
                             if title.startswith("postgres:") and self.marker in title + " ")
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]
        return {"tmf-oss": time.process_time(), "snmpsim": sum(_cpu_seconds(pid) for pid in self.simulators),
                "postgresql": postgresql, "machine": busy / self.ticks}

    @staticmethod
    def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {name: after[name] - before[name] for name in before}


def _processes():
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue


def _stat_fields(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _parent(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def _cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0  # utime + stime


# --- set-up ---------------------------------------------------------------------------------------------------

def make_agents_move(data_dir: Path) -> int:
    """Rewrite the simulator's snmprec files so that sysUpTime and the octet counters advance with time (snmpsim's
    numeric variation: initial + rate x seconds since the simulator process started; 32-bit counters wrap). snmpsim
    notices the changed files and indexes them again at their next request. Returns the files rewritten."""
    rewritten = 0
    for path in sorted(data_dir.glob("*.snmprec")):
        lines = []
        for line in path.read_text().splitlines():
            oid, tag, value = line.split("|", 2)
            if oid == UPTIME_OID and tag == "67":
                line = f"{oid}|67:numeric|rate=100,initial={value}"
            else:
                for prefix, rate in OCTET_RATES.items():
                    if oid.startswith(prefix) and tag in ("65", "70"):
                        interface = int(oid[len(prefix):])
                        wrap = ",wrap=1" if tag == "65" else ""
                        line = f"{oid}|{tag}:numeric|rate={rate * interface},initial={value}{wrap}"
                        break
            lines.append(line)
        path.write_text("\n".join(lines) + "\n")
        rewritten += 1
    return rewritten


def addresses_in_use(network) -> list[str]:
    """The simulated devices' addresses where something already listens on the agents' UDP port (another simulated
    network, of a demo or of a colleague's run): snmpsim would fail to bind them."""
    from tmf_oss.southbound.simulation import PORT

    taken = []
    for address in network.addresses():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((address, PORT))
            except OSError:
                taken.append(address)
    return taken


def start_network(network, *, moving: bool) -> None:
    """Start the simulated network; `moving`: with its data files rewritten by make_agents_move before snmpsim
    starts (snmpsim indexes changed files again when next asked, slowly: a device takes about a second)."""
    from tmf_oss.southbound import simulation

    taken = addresses_in_use(network)
    if taken:
        raise Failure(f"{len(taken)} of the simulated devices' addresses are in use on UDP port {simulation.PORT} "
                      f"(e.g. {taken[0]}): another simulated network runs there; choose another --prefix")
    if not moving:
        network.start()
        return
    write_data = simulation.write_data

    def write_moving_data(directory, *args, **kwargs):
        write_data(directory, *args, **kwargs)
        make_agents_move(Path(directory))

    simulation.write_data = write_moving_data  # only while start() writes the files, in this process
    try:
        network.start()
    finally:
        simulation.write_data = write_data
    if len(list(network.data_dir.glob("*.snmprec"))) != network.devices:
        raise Failure(f"the simulator's data files were not found in {network.data_dir}")


def wait_until_answering(devices, limit: float = 120.0) -> None:
    """Every simulated device answers a GET of sysUpTime (snmpsim indexes its data files at start, for a while)."""
    from tmf_oss.southbound.adapter import DeviceError
    from tmf_oss.southbound.snmp import SnmpAdapter

    async def silent() -> list[str]:
        adapter = SnmpAdapter()
        try:
            quick = [dataclasses.replace(device.target, timeout=2.0, retries=0) for device in devices]
            answers = await asyncio.gather(*(adapter.get(target, [UPTIME_OID]) for target in quick),
                                           return_exceptions=True)
        finally:
            adapter.close()
        for answer in answers:
            if isinstance(answer, BaseException) and not isinstance(answer, DeviceError):
                raise answer
        return [target.address for target, answer in zip(quick, answers) if isinstance(answer, DeviceError)]

    deadline = time.monotonic() + limit
    while True:
        missing = asyncio.run(silent())
        if not missing:
            return
        if time.monotonic() > deadline:
            raise Failure(f"{len(missing)} simulated devices do not answer, e.g. {missing[0]}")
        time.sleep(1.0)


def job_body(indicators, **members) -> dict:
    """A v5 MeasurementCollectionJob create body (as tests/performance/support.py builds them)."""
    return {"@type": "MeasurementCollectionJob", "consumingApplicationId": "noc-dashboard",
            "producingApplicationId": "tmf-oss", "granularity": "g_1mn",
            "performanceIndicatorSpecification": [
                {"@type": "PerformanceIndicatorSpecificationRef", "id": ident} for ident in indicators],
            **members}


def create_jobs(platform, device_ids: list[str]) -> dict[str, str]:
    """{job id: what it measures}: every interface (by class) and every device (by id)."""
    from tmf_oss.performance.seed import ensure_indicators

    ensure_indicators(platform, base_url=BASE_URL)
    collection = platform.collection("tmf628", "measurementCollectionJob")
    created = {}
    interfaces, _ = collection.create("v5", job_body(INTERFACE_INDICATORS, monitoredClassCriteria={
        "@type": "MonitoredClassCriteria", "objectInstanceFilter": "category=interface"}),
        base_url=BASE_URL, correlation_id=None)
    created[interfaces["id"]] = "interfaces"
    devices, _ = collection.create("v5", job_body(DEVICE_INDICATORS, monitoredInstancesCriteria={
        "@type": "MonitoredInstancesCriteria", "monitoredObjectInstances": device_ids}),
        base_url=BASE_URL, correlation_id=None)
    created[devices["id"]] = "devices"
    return created


def create_threshold(platform) -> None:
    """One rising threshold on ifInUtilisation over every interface (90 %, never crossed: the simulated interfaces
    run at 1-8 % inbound), so that every round evaluates one value per interface against it and keeps its state."""
    from tmf_oss.performance.threshold_document import threshold_from_document
    from tmf_oss.performance.threshold_store import ThresholdStore

    document = {"name": "interfaces busy", "indicatorId": "ifInUtilisation", "objectFilter": "category=interface",
                "direction": "rising", "raiseLevel": 90, "clearLevel": 80}
    ThresholdStore(platform.db).create(lambda ident: threshold_from_document(
        document, ident, known_indicator=lambda _indicator: True, check_filter=lambda _filter: None))


def job_rounds(platform, job_ids, step: float):
    """What each job measures, as the collector plans it (its indicators, its measurable objects), for measure()."""
    from sqlalchemy import select

    from tmf_oss.db.base import utcnow
    from tmf_oss.performance import jobs, objects
    from tmf_oss.performance.measure import JobRound
    from tmf_oss.performance.model import CollectionJobRow

    resources = platform.collection("tmf639", "resource")
    plans = []
    with platform.db.reading() as session:
        for job_id in job_ids:
            doc = session.execute(select(CollectionJobRow.doc).where(CollectionJobRow.id == job_id)).scalar_one()
            problems: list[str] = []
            indicators = jobs.resolve_indicators(session, doc, problems)
            if problems:
                raise Failure(f"job {job_id}: {'; '.join(problems)}")
            monitored = list(objects.measurable(session, objects.job_object_ids(session, resources, doc)).values())
            plans.append(JobRound(job_id, indicators, monitored, step, utcnow()))
    return plans


def ceiling_requests(plans, targets, memory) -> list[tuple[object, list[list[str]], list[str]]]:
    """(target, GET chunks, tables to walk) per job and device: the very OIDs sampling.read_device asks for (sysUpTime,
    the named values of the wanted interfaces, ifCounterDiscontinuityTime beside interface counters), 40 per GET,
    and the walk of hrProcessorLoad's table entry when cpuLoad is measured."""
    from tmf_oss.performance.counters import COUNTERS, DISCONTINUITY, UPTIME
    from tmf_oss.performance.sampling import VARBINDS_PER_GET

    requests = []
    for plan in plans:
        by_device = defaultdict(list)
        for obj in plan.objects:
            by_device[obj.device].append(obj)
        for address, objs in by_device.items():
            scopes = {obj.scope for obj in objs}
            names = set()
            for indicator in plan.indicators:
                if indicator.scope in scopes:
                    names |= set(indicator.expression.counters)
            indexes = memory.indexes(address) or {}
            wanted_indexes = sorted({indexes[obj.interface] for obj in objs
                                     if obj.interface is not None and obj.interface in indexes})
            wanted = [COUNTERS[name] for name in sorted(names - {UPTIME})]
            if wanted_indexes and any(counter.scope == "interface" and counter.is_counter for counter in wanted):
                wanted.append(COUNTERS[DISCONTINUITY])
            oids, walks = [COUNTERS[UPTIME].oid], []
            for counter in dict.fromkeys(wanted):
                if counter.average_of_rows:
                    walks.append(counter.oid.rsplit(".", 1)[0])
                elif counter.scope == "device":
                    oids.append(counter.oid)
                else:
                    oids.extend(f"{counter.oid}.{index}" for index in wanted_indexes)
            chunks = [oids[start:start + VARBINDS_PER_GET] for start in range(0, len(oids), VARBINDS_PER_GET)]
            requests.append((targets[address], chunks, walks))
    return requests


# --- the passes -----------------------------------------------------------------------------------------------

async def ceiling_pass(adapter, requests) -> list[BaseException]:
    async def one(target, chunks, walks):
        await asyncio.gather(*(adapter.get(target, chunk) for chunk in chunks),
                             *(adapter.walk(target, table) for table in walks))

    results = await asyncio.gather(*(one(*request) for request in requests), return_exceptions=True)
    return [result for result in results if isinstance(result, BaseException)]


async def measure_pass(plans, adapter, book, memory) -> list:
    """measure() of every job at once, as run_due gathers them: the samples."""
    from tmf_oss.performance.measure import measure

    results = await asyncio.gather(*(measure(plan, adapter, book, memory) for plan in plans))
    return [sample for samples in results for sample in samples]


class Passes:
    """Times passes: wall seconds, CPU seconds by process group, SNMP requests."""

    def __init__(self, adapter, cpu: CpuWatch):
        self.adapter = adapter
        self.cpu = cpu

    async def run(self, work) -> tuple[dict, object]:
        self.adapter.take_counts()
        before = self.cpu.sample()
        started = time.perf_counter()
        outcome = await work
        elapsed = time.perf_counter() - started
        after = self.cpu.sample()
        return {"seconds": elapsed, "cpu": CpuWatch.spent(before, after), "counts": self.adapter.take_counts()}, outcome


def summarize_missing(samples) -> Counter:
    return Counter((sample.series.indicator_id, re.sub(r"ifIndex \d+", "ifIndex N", sample.missing_reason or ""))
                   for sample in samples if sample.value is None)


async def run_periods(options, platform, settings, job_names, plans, targets, book_path, cpu) -> dict:
    """The calibration, the baseline round and the measured rounds; returns what is printed."""
    from sqlalchemy import select, update

    from tmf_oss.db.base import as_utc, utcnow
    from tmf_oss.performance.collector import Collector
    from tmf_oss.performance.measure import ReadingMemory
    from tmf_oss.performance.model import CollectionJobRow
    from tmf_oss.southbound.devices import WatchedDevices

    adapter = counting_adapter(options.concurrency)
    passes = Passes(adapter, cpu)
    try:
        # Calibration, without the database: measure() learns every device's interface indexes (a walk of ifTable
        # and ifXTable each), then one measure() pass and one ceiling pass give the period to run at.
        memory, book = ReadingMemory(), WatchedDevices(book_path)
        walked, _ = await passes.run(measure_pass(plans, adapter, book, memory))
        requests = ceiling_requests(plans, targets, memory)
        measured, _ = await passes.run(measure_pass(plans, adapter, book, memory))
        ceiling, errors = await passes.run(ceiling_pass(adapter, requests))
        if errors:
            raise Failure(f"{len(errors)} devices failed the ceiling pass, e.g. {errors[0]!r}")
        # A period holds the collector's round (about a measure() pass plus the database), a measure() pass and a
        # ceiling pass, with room for a noisy machine.
        seconds_per_minute = options.seconds_per_minute or max(
            2.0, math.ceil(2 * (2 * measured["seconds"] + ceiling["seconds"]) + 2 * PAUSE_SECONDS) + 1)
        period = seconds_per_minute  # g_1mn

        collector = Collector(platform, dataclasses.replace(settings, pm_seconds_per_minute=seconds_per_minute))
        timer = StepTimer()
        for owner, name, label in ((collector, "claim", "claim"), (collector, "_plan", "plan"),
                                   (collector.store, "write", "store"),
                                   (collector.thresholds, "evaluate", "thresholds"),
                                   (collector, "_advance", "advance")):
            timer.wrap(owner, name, label)
        # Partitions for today and the next days, as the worker's loop creates them after its first round.
        collector.store.maintain(utcnow(), settings.pm_raw_retention_days, settings.pm_rollup_retention_days)
        plans = [dataclasses.replace(plan, step=period) for plan in plans]

        async def collector_round() -> dict:
            timer.take()
            result, reports = await passes.run(collector.run_due(adapter))
            result["steps"] = timer.take()
            if sorted(report.job_id for report in reports) != sorted(job_names):
                raise Failure(f"the round measured {[r.job_id for r in reports]}, not both jobs (see the log above)")
            ended = [report for report in reports if report.state in ("failed", "completed")]
            if ended:
                raise Failure(f"job(s) ended: {ended}")
            result["values"] = {job_names[r.job_id]: r.values for r in reports}
            result["missing"] = {job_names[r.job_id]: r.missing for r in reports}
            return result

        def next_due():
            with platform.db.reading() as session:
                due = session.execute(select(CollectionJobRow.next_run_at)
                                      .where(CollectionJobRow.id.in_(list(job_names)))).scalars().all()
            return max(as_utc(moment) for moment in due)

        # The baseline round, at the start of a period: due now (next_run_at in the past, as for a job just
        # created), walks every device's interface indexes (the collector's own memory), stores only what needs no
        # previous reading. measure() alone takes its own baseline in the same period.
        now = utcnow()
        await asyncio.sleep((collector.clock.interval_start(now, period) + timedelta(seconds=period) - now)
                            .total_seconds() + 0.02)
        with platform.db.transaction() as session:
            session.execute(update(CollectionJobRow).where(CollectionJobRow.id.in_(list(job_names)))
                            .values(next_run_at=utcnow() - timedelta(seconds=1)))
        baseline = await collector_round()
        await measure_pass(plans, adapter, book, memory)  # a baseline again (the last reading is too old)

        rounds = []
        for number in range(1, options.rounds + 1):
            wait = (next_due() - utcnow()).total_seconds()
            late = max(0.0, -wait)
            await asyncio.sleep(max(0.0, wait) + 0.02)
            result = await collector_round()
            result["late"] = late
            if result["values"]["interfaces"] == 0:
                raise Failure(f"round {number} measured no interface value: readings more than 1.5 periods apart "
                              f"(the round started {late:.1f} s late); give a larger --seconds-per-minute")
            # Each comparison pass starts after an idle pause too, as the collector's round starts after its wait
            # for the boundary: on a shared machine whatever ran meanwhile has cooled our caches alike.
            await asyncio.sleep(PAUSE_SECONDS)
            result["measure"], samples = await passes.run(measure_pass(plans, adapter, book, memory))
            result["measure_values"] = sum(1 for sample in samples if sample.value is not None)
            result["missing_reasons"] = summarize_missing(samples)
            await asyncio.sleep(PAUSE_SECONDS)
            result["ceiling"], errors = await passes.run(ceiling_pass(adapter, requests))
            if errors:
                raise Failure(f"{len(errors)} devices failed a ceiling pass, e.g. {errors[0]!r}")
            rounds.append(result)
            print(f"  round {number}: collector {result['seconds']:.2f} s (CPU {result['cpu']['tmf-oss']:.2f} s), "
                  f"measure() {result['measure']['seconds']:.2f} s ({result['measure']['cpu']['tmf-oss']:.2f} s), "
                  f"ceiling {result['ceiling']['seconds']:.2f} s ({result['ceiling']['cpu']['tmf-oss']:.2f} s), "
                  f"{sum(result['values'].values()):,} values "
                  f"+ {sum(result['missing'].values()):,} missing"
                  + (f", started {late:.2f} s late" if late > 0.05 else ""), flush=True)
        most = max(sum(r["values"].values()) for r in rounds)
        for number, r in enumerate(rounds, 1):
            if sum(r["values"].values()) < most:
                print(f"note: round {number} computed fewer values than another round: some readings were more than "
                      f"1.5 periods apart (the round started {r['late']:.1f} s late); a larger --seconds-per-minute "
                      f"avoids it")
        return {"period": period, "calibration": {"walk": walked, "measure": measured, "ceiling": ceiling},
                "baseline": baseline, "rounds": rounds}
    finally:
        adapter.close()


def stored_rows(platform) -> tuple[int, int]:
    """(rows in pm_value, rows of them in the default partition: written outside the created days)."""
    from sqlalchemy import text

    with platform.db.read() as connection:
        total = connection.execute(text("SELECT count(*) FROM pm_value")).scalar_one()
        default = 0
        if platform.db.dialect == "postgresql":
            default = connection.execute(text("SELECT count(*) FROM pm_value_default")).scalar_one()
    return total, default


# --- report ---------------------------------------------------------------------------------------------------

def other_share(timed: dict, cores: int) -> float:
    """The share of the machine's cores that processes other than ours took during a pass."""
    cpu = timed["cpu"]
    others = cpu["machine"] - cpu["tmf-oss"] - cpu["snmpsim"] - cpu["postgresql"]
    return max(0.0, others) / (timed["seconds"] * cores)


def wait_until_quiet(limit: float, threshold: float = 0.10) -> float:
    """Wait at most `limit` seconds for the machine to be idle (our simulator is idle too); the busy share seen."""
    deadline = time.monotonic() + limit
    while True:
        before = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        time.sleep(1.0)
        after = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        spent = [b - a for a, b in zip(before, after)]
        busy = (spent[0] + spent[1] + spent[2] + spent[5] + spent[6]) / max(1, sum(spent))
        if busy < threshold or time.monotonic() >= deadline:
            return busy
        print(f"  waiting for a quiet machine: {busy:.0%} busy with other work", flush=True)


def median(values):
    return statistics.median(values)


def report(options, results, interfaces_found, stored, started_at) -> list[str]:
    """Prints the figures; returns the problems that make them meaningless."""
    problems = []
    rounds = results["rounds"]
    devices = options.devices
    kinds = {"collector round (run_due)": rounds,
             "  measure() alone, no database": [r["measure"] for r in rounds],
             "ceiling: plain concurrent GETs": [r["ceiling"] for r in rounds]}
    collector = [r["seconds"] for r in rounds]
    ceiling = [r["ceiling"]["seconds"] for r in rounds]
    ratios = [c / s for c, s in zip(ceiling, collector)]  # collector rate / ceiling rate, period by period
    values = [sum(r["values"].values()) for r in rounds]
    missing = [sum(r["missing"].values()) for r in rounds]
    rows = [v + m for v, m in zip(values, missing)]
    for number, r in enumerate(rounds, 1):
        for what in ("gets", "varbinds", "walks"):
            if r["counts"][what] != r["ceiling"]["counts"][what]:
                problems.append(f"round {number}: the collector sent {r['counts'][what]} {what}, the ceiling "
                                f"{r['ceiling']['counts'][what]}: the ceiling does not ask for the same OIDs")
        if r["measure_values"] != values[number - 1]:
            print(f"note: round {number}: measure() alone computed {r['measure_values']} values, the collector "
                  f"{values[number - 1]}")
    expected_rows = sum(sum(r["values"].values()) + sum(r["missing"].values()) for r in [results["baseline"], *rounds])
    if stored[0] != expected_rows:
        problems.append(f"pm_value holds {stored[0]} rows, the rounds reported {expected_rows}")
    reasons = rounds[-1]["missing_reasons"]
    unanswered = [reason for (_, reason) in reasons if "did not answer" in reason]
    if unanswered:
        problems.append(f"devices did not answer: {unanswered[0]}")

    counts = rounds[-1]["counts"]
    baseline = results["baseline"]
    cores = os.cpu_count() or 1
    print()
    print(f"TMF628 collection of {devices} simulated devices x {options.interfaces} interfaces (snmpsim, "
          f"{options.simulators} process{'es' if options.simulators > 1 else ''}"
          f"{', static data' if options.static_agents else ''}), "
          f"{options.database_url.split(':')[0]}, {cores} cores, SNMP concurrency {options.concurrency}")
    print(f"jobs: every interface ({interfaces_found} objects x {len(INTERFACE_INDICATORS)} indicators) and every "
          f"device ({devices} objects x {len(DEVICE_INDICATORS)}), g_1mn at {results['period']:g} s per minute; "
          f"{len(rounds)} rounds after a baseline" + (", one threshold over every interface" if options.threshold
                                                        else ", no threshold"))
    print(f"requests per round: {counts['gets']:,} GETs ({counts['varbinds']:,} varbinds) + {counts['walks']:,} "
          f"walks, the same in the ceiling; the baseline round took {baseline['seconds']:.2f} s with "
          f"{baseline['counts']['walks']:,} walks (interface indexes)")
    print()
    print(f"{'per round, all devices (medians)':32} {'wall s':>7} {'min':>6} {'max':>6} {'devices/min':>11} "
          f"{'vs ceiling':>10} | {'CPU s: ours':>11} {'PG':>5} {'snmpsim':>7} {'others':>6} | {'dev/min/CPU':>11} "
          f"{'vs ceiling':>10}")
    disturbed = 0.0
    ceiling_cpu = median([r["ceiling"]["cpu"]["tmf-oss"] for r in rounds])
    cpu_ratio = None
    for label, passes in kinds.items():
        seconds = [p["seconds"] for p in passes]
        cpu = {name: median([p["cpu"][name] for p in passes]) for name in passes[0]["cpu"]}
        ours = median([p["cpu"]["tmf-oss"] + p["cpu"]["postgresql"] for p in passes])  # what polling costs us
        others = median([other_share(p, cores) for p in passes])
        disturbed = max(disturbed, others)
        if cpu_ratio is None:
            cpu_ratio = ceiling_cpu / ours
        print(f"{label:32} {median(seconds):>7.2f} {min(seconds):>6.2f} {max(seconds):>6.2f} "
              f"{devices / median(seconds) * 60:>11,.0f} {median(ceiling) / median(seconds):>10.0%} | "
              f"{cpu['tmf-oss']:>11.2f} {cpu['postgresql']:>5.2f} {cpu['snmpsim']:>7.2f} {others:>6.0%} | "
              f"{devices / ours * 60:>11,.0f} {ceiling_cpu / ours:>10.0%}")
    print(f"collector rate / ceiling rate: {median(ratios):.0%} in wall time (median of the per-period ratios: "
          f"{', '.join(f'{ratio:.0%}' for ratio in ratios)}), {cpu_ratio:.0%} in CPU time")
    print("CPU s: per pass, of this process (collector, pysnmp, database client), of the benchmark database's "
          "backends, of the simulator; others: the share of the machine's cores other processes took meanwhile; "
          "dev/min/CPU: devices polled per minute of CPU of this process and PostgreSQL (the rate one free core "
          "would give, were the simulator elsewhere), which other work on the machine barely changes")
    ceiling_passes = [r["ceiling"] for r in rounds]
    requests = counts["gets"] + counts["walks"]
    print(f"SNMP cost in the ceiling: {ceiling_cpu / counts['varbinds'] * 1000:.2f} ms of this process's CPU per "
          f"varbind asked for ({ceiling_cpu / requests * 1000:.1f} ms per request), the simulator "
          f"{median([p['cpu']['snmpsim'] for p in ceiling_passes]) / requests * 1000:.1f} ms per request")
    if disturbed > DISTURBED:
        print(f"DISTURBED: other processes took up to {disturbed:.0%} of the cores during the passes: the wall-time "
              f"figures are lower than on a quiet machine; compare CPU figures")
    print()
    print(f"values per round: {median(values):,.0f} with a value + {median(missing):,.0f} missing = "
          f"{median(rows):,.0f} rows stored, {median([n / s for n, s in zip(rows, collector)]):,.0f} rows/s of round "
          f"time; {stored[0]:,} rows in pm_value at the end ({stored[1]} in its default partition)")
    print()
    print("where the collector's round goes (medians; these steps are synchronous and hold the event loop):")
    steps = {step: median([r["steps"].get(step, 0.0) for r in rounds]) for step in SYNC_STEPS}
    rest = median([r["seconds"] - sum(r["steps"].values()) for r in rounds])
    for step, label in (("claim", "claim due jobs"), ("plan", "plan (job, indicators, objects looked up)"),
                        ("store", "store samples (TimeSeriesStore.write)"),
                        ("thresholds", "thresholds (evaluate)"),
                        ("advance", "advance (next_run_at, state, FilesReadyEvent)")):
        print(f"  {label:48} {steps[step]:>7.3f} s {steps[step] / median(collector):>5.0%}")
    print(f"  {'SNMP and computing (measure(), the rest)':48} {rest:>7.3f} s {rest / median(collector):>5.0%}")
    print()
    print("missing values per round, by indicator and reason:")
    for (indicator, reason), count in sorted(reasons.items()):
        print(f"  {indicator:16} {count:>7,}  {reason}")
    if not reasons:
        print("  none")
    calibration = results["calibration"]
    print()
    print(f"calibration: interface indexes walked in {calibration['walk']['seconds']:.2f} s "
          f"({calibration['walk']['counts']['walks']:,} walks); measure() {calibration['measure']['seconds']:.2f} s, "
          f"ceiling {calibration['ceiling']['seconds']:.2f} s; whole run {time.perf_counter() - started_at:.0f} s")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--interfaces", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds after the baseline round")
    parser.add_argument("--seconds-per-minute", type=float, default=0.0,
                        help="compressed time: the period of the g_1mn jobs, seconds (default: from a calibration)")
    parser.add_argument("--concurrency", type=int, default=64,
                        help="SNMP requests in flight (SnmpAdapter max_concurrency; the worker's default is 64)")
    parser.add_argument("--simulators", type=int, default=1,
                        help="snmpsim processes sharing the devices (each indexes its devices' data files into a cache "
                             "directory of its own)")
    parser.add_argument("--threshold", action="store_true",
                        help="also keep one threshold on ifInUtilisation over every interface")
    parser.add_argument("--prefix", default="127.0.5",
                        help="the simulated devices' loopback addresses, PREFIX.1 to PREFIX.N (the demo uses 127.0.2)")
    parser.add_argument("--static-agents", action="store_true",
                        help="keep the simulator's constant sysUpTime and counters (every rate is then missing)")
    parser.add_argument("--quiet-wait", type=float, default=30.0,
                        help="wait at most this long for other work on the machine to stop before measuring")
    parser.add_argument("--keep-database", action="store_true")
    options = parser.parse_args(argv)
    if options.rounds < 1:
        parser.error("--rounds must be at least 1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    def terminated(_signal, _frame):
        raise KeyboardInterrupt  # so that everything started is stopped and the database dropped

    signal.signal(signal.SIGTERM, terminated)

    from sqlalchemy import make_url

    from tmf_oss.config import Settings
    from tmf_oss.db.migrate import upgrade
    from tmf_oss.inventory.discovery import discover_and_sync
    from tmf_oss.platform import Platform
    from tmf_oss.southbound.devices import parse_devices
    from tmf_oss.southbound.simulation import SimulatedNetwork

    started_at = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="tmf-oss-pm-bench-"))
    network = platform = None
    database_created = False
    try:
        network = SimulatedNetwork(options.devices, options.interfaces, processes=options.simulators,
                                   prefix=options.prefix)
        start_network(network, moving=not options.static_agents)
        document = network.devices_document()
        devices_file = scratch / "devices.yaml"
        devices_file.write_text(json.dumps(document))  # JSON is YAML
        recreate_database(options.database_url)
        database_created = True
        upgrade(options.database_url)
        settings = Settings(database_url=options.database_url, devices_file=str(devices_file))
        platform = Platform(settings)
        devices = parse_devices(document)
        wait_until_answering(devices)
        print(f"discovering {options.devices} devices x {options.interfaces} interfaces...", flush=True)
        began = time.perf_counter()
        outcomes = discover_and_sync(platform, devices, base_url=BASE_URL, max_concurrency=options.concurrency)
        failed = [outcome for outcome in outcomes if outcome.error is not None]
        if failed:
            raise Failure(f"discovery failed for {len(failed)} devices, e.g. {failed[0].address}: {failed[0].error}")
        print(f"  discovered in {time.perf_counter() - began:.1f} s", flush=True)
        job_names = create_jobs(platform, [outcome.report.device_id for outcome in outcomes])
        if options.threshold:
            create_threshold(platform)
        plans = job_rounds(platform, job_names, step=3600.0)
        interfaces_found = sum(len(plan.objects) for plan in plans if job_names[plan.job_id] == "interfaces")
        if interfaces_found != options.devices * options.interfaces:
            raise Failure(f"the interface job selects {interfaces_found} interfaces, not "
                          f"{options.devices * options.interfaces}")
        targets = {device.target.address: device.target for device in devices}
        if options.quiet_wait > 0:
            wait_until_quiet(options.quiet_wait)
        print(f"collecting: calibration, baseline round, {options.rounds} rounds...", flush=True)
        cpu = CpuWatch(make_url(options.database_url).database if options.database_url.startswith("postgresql")
                       else None)
        results = asyncio.run(run_periods(options, platform, settings, job_names, plans, targets, str(devices_file),
                                          cpu))
        problems = report(options, results, interfaces_found, stored_rows(platform), started_at)
    except Failure as failure:
        print(f"\nFAILED: {failure}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        if network is not None:
            network.stop()  # removes the data files and snmpsim's indexes of them
        if platform is not None:
            platform.close()
        if database_created and not options.keep_database:
            drop_database(options.database_url)
        shutil.rmtree(scratch, ignore_errors=True)
    if problems:
        print("\nFAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The collector: measures every running collection job once per granularity period, in the worker.

Each job is due at its next period boundary (`next_run_at`). A worker leases the due jobs (FOR UPDATE SKIP LOCKED
on PostgreSQL, so several workers never measure one job's period twice), reads their devices (collection/measure.py),
stores the samples (timeseries.py), lets the thresholds judge them (thresholds.py), moves the job's
executionState on (acknowledged -> inProgress -> completed at the end of its schedule) and announces a reporting
period's end with MeasurementCollectionJobFilesReadyEvent. A job stays with the worker that measures it while
that worker lives, since rates need the previous reading; another worker that takes it over starts with a
baseline reading.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from tmf_oss.db.base import as_utc, utcnow
from tmf_oss.events.outbox import wake_up
from tmf_oss.performance import jobs, objects, periods
from tmf_oss.performance.measure import JobRound, ReadingMemory, measure
from tmf_oss.performance.model import CollectionJobRow
from tmf_oss.performance.schedule import ScheduleError
from tmf_oss.performance.service import add_tracking
from tmf_oss.southbound.devices import WatchedDevices
from tmf_oss.tmf.collection import RowUpdate
from tmf_oss.tmf.errors import TmfError

log = logging.getLogger("tmf_oss.performance.collector")

RUNNABLE = ("acknowledged", "inProgress")
TICK_SECONDS = 1.0  # at most this long between looks for due jobs
RETRY_AFTER_ERROR_SECONDS = 30.0
MAINTENANCE_SECONDS = 300.0


@dataclass
class RoundReport:
    job_id: str
    values: int = 0
    missing: int = 0
    state: str | None = None


class Collector:
    def __init__(self, platform, settings, *, owner: str | None = None, thresholds=None):
        self.platform = platform
        self.settings = settings
        self.db = platform.db
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock = periods.Clock(settings.pm_seconds_per_minute)
        self.lease = timedelta(seconds=settings.pm_lease_seconds)
        self.jobs = platform.collection("tmf628", "measurementCollectionJob")
        self.resources = platform.collection("tmf639", "resource")
        self.devices = WatchedDevices(settings.devices_file)
        self.memory = ReadingMemory()
        self.base_url = settings.public_base_url or f"http://{settings.host}:{settings.port}"
        from tmf_oss.performance.timeseries import TimeSeriesStore

        self.store = TimeSeriesStore(platform.db)
        # What the alarms of threshold crossings say about the indicator and the job, as last planned.
        self._units: dict[str, str | None] = {}
        self._granularities: dict[str, str | None] = {}
        if thresholds is None:
            from tmf_oss.performance.thresholds import threshold_evaluator

            thresholds = threshold_evaluator(platform, indicator_unit=self._units.get,
                                             job_granularity=self._granularities.get)
        self.thresholds = thresholds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._adapter = None
        self._next_maintenance = 0.0

    # --- running ---------------------------------------------------------------------------------------

    def start(self) -> "Collector":
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="tmf-oss-collector",
                                        daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    async def _run(self) -> None:
        from tmf_oss.southbound.snmp import SnmpAdapter

        self._adapter = SnmpAdapter()
        try:
            while not self._stop.is_set():
                try:
                    await self.run_due()
                    await self._maintain()
                except Exception:  # keep going through a database restart
                    log.exception("collection round failed")
                await asyncio.sleep(self._pause())
        finally:
            self._adapter.close()

    async def _maintain(self) -> None:
        """Partitions ahead, roll-ups of finished buckets, expired values dropped: every few minutes, off the
        event loop (it may take a while on a large store)."""
        if time.monotonic() < self._next_maintenance:
            return
        self._next_maintenance = time.monotonic() + MAINTENANCE_SECONDS
        await asyncio.to_thread(self.store.maintain, utcnow(), self.settings.pm_raw_retention_days,
                                self.settings.pm_rollup_retention_days)

    def _pause(self) -> float:
        with self.db.reading() as session:
            due = session.execute(select(CollectionJobRow.next_run_at)
                                  .where(CollectionJobRow.execution_state.in_(RUNNABLE),
                                         CollectionJobRow.admin_state == "unlocked")
                                  .order_by(CollectionJobRow.next_run_at).limit(1)).scalar_one_or_none()
        if due is None:
            return TICK_SECONDS
        return min(TICK_SECONDS, max(0.05, (as_utc(due) - utcnow()).total_seconds()))

    async def run_due(self, adapter=None) -> list[RoundReport]:
        """Measure every job that is due now (what the loop does; tests call it directly)."""
        adapter = adapter or self._adapter
        reports = await asyncio.gather(*(self._measure_job(job_id, adapter) for job_id in self.claim()),
                                       return_exceptions=True)
        done = []
        for report in reports:
            if isinstance(report, BaseException):
                log.error("measuring a job failed: %r", report, exc_info=report)
            else:
                done.append(report)
        return done

    def claim(self, limit: int = 64) -> list[str]:
        now = utcnow()
        table = CollectionJobRow
        candidates = (select(table.seq)
                      .where(table.execution_state.in_(RUNNABLE), table.admin_state == "unlocked",
                             or_(table.next_run_at.is_(None), table.next_run_at <= now),
                             or_(table.lease_until.is_(None), table.lease_until < now,
                                 table.lease_owner == self.owner))
                      .order_by(table.next_run_at).limit(limit))
        if self.db.dialect == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        with self.db.transaction() as session:
            return list(session.execute(
                update(table).where(table.seq.in_(candidates.scalar_subquery()))
                .values(lease_owner=self.owner, lease_until=now + self.lease)
                .returning(table.id)).scalars())

    # --- one job ---------------------------------------------------------------------------------------

    async def _measure_job(self, job_id: str, adapter) -> RoundReport:
        report = RoundReport(job_id)
        try:
            plan = self._plan(job_id, report)
            if plan is None:
                return report
            samples = await measure(plan, adapter, self.devices, self.memory)
            if not plan.keep:
                samples = []  # a period the schedule leaves out: the readings only serve as the next baseline
            report.values = sum(1 for sample in samples if sample.value is not None)
            report.missing = len(samples) - report.values
            if samples:
                self.store.write(samples, int(round(plan.step)))
                self.thresholds.evaluate(samples)
            self._advance(job_id, plan, report)
        except Exception:
            self._release(job_id, utcnow() + timedelta(seconds=RETRY_AFTER_ERROR_SECONDS))
            raise
        return report

    def _plan(self, job_id: str, report: RoundReport) -> JobRound | None:
        """What to measure this round, or None (with the job moved on) when there is nothing to measure."""
        now = utcnow()
        with self.db.transaction() as session:
            row = session.execute(select(CollectionJobRow).where(CollectionJobRow.id == job_id)).scalar_one_or_none()
            if row is None or row.lease_owner != self.owner:
                self.memory.forget_job(job_id)
                return None
            job = dict(row.doc)
            report.state = job.get("executionState")
            step = self.clock.step(job.get("granularity"))
            start, end = jobs.schedule_window(job)
            if start is not None and now < start:
                session.execute(update(CollectionJobRow).where(CollectionJobRow.seq == row.seq)
                                .values(next_run_at=start, lease_owner=None, lease_until=None))
                return None
            if end is not None and now >= end + timedelta(seconds=step):
                self._set_state(session, row, job, "completed", "schedule ended")
                report.state = "completed"
                self.memory.forget_job(job_id)
                return None
            boundary = self.clock.interval_start(now, step)
            try:
                schedule = jobs.collection_schedule(job)
            except ScheduleError as error:  # stored before the schedule's members were checked
                self._set_state(session, row, job, "failed", f"scheduleDefinition: {error}")
                report.state = "failed"
                return None
            keep = not schedule.restricted or schedule.allows(boundary - timedelta(seconds=step))
            if not keep and not schedule.allows(boundary):
                # Neither this period nor the next is collected: back at the start of the first one that is (that
                # reading is its baseline).
                upcoming = schedule.next_allowed(
                    boundary, lambda moment: self.clock.boundary_at_or_after(moment, step), until=end)
                self.memory.forget_job(job_id)
                if upcoming is None:
                    self._set_state(session, row, job, "completed", "no period left to collect in its schedule")
                    report.state = "completed"
                else:
                    session.execute(update(CollectionJobRow).where(CollectionJobRow.seq == row.seq)
                                    .values(next_run_at=upcoming, lease_owner=None, lease_until=None))
                return None
            problems: list[str] = []
            indicators = jobs.resolve_indicators(session, job, problems)
            if not indicators:
                self._set_state(session, row, job, "failed", "nothing left to measure: " + "; ".join(problems))
                report.state = "failed"
                return None
            try:
                ids = objects.job_object_ids(session, self.resources, job)
            except TmfError as error:
                self._set_state(session, row, job, "failed", f"monitored objects: {error.message}")
                report.state = "failed"
                return None
            monitored = list(objects.measurable(session, ids).values())
        self._granularities[job_id] = job.get("granularity")
        self._units.update((indicator.id, indicator.unit) for indicator in indicators)
        return JobRound(job_id, indicators, monitored, step, boundary - timedelta(seconds=step), keep)

    def _advance(self, job_id: str, plan: JobRound, report: RoundReport) -> None:
        boundary = plan.period_start + timedelta(seconds=plan.step)
        with self.db.transaction() as session:
            row = session.execute(select(CollectionJobRow).where(CollectionJobRow.id == job_id)
                                  .with_for_update()).scalar_one_or_none()
            if row is None or row.lease_owner != self.owner:
                return
            job = dict(row.doc)
            if job.get("executionState") == "acknowledged":
                self._set_state(session, row, job, "inProgress", "collection started")
                report.state = "inProgress"
            # The lease lasts until the next period and beyond: the job stays with this worker, which holds the
            # previous readings, and passes to another one only if this one has not come back by then.
            next_run = boundary + timedelta(seconds=plan.step)
            session.execute(update(CollectionJobRow).where(CollectionJobRow.seq == row.seq).values(
                next_run_at=next_run, lease_until=next_run + self.lease))
            reporting = self.clock.reporting_step(job.get("granularity"), job.get("reportingPeriod"))
            if self.clock.interval_start(boundary, reporting) == boundary:
                self.jobs.emit_event(session, "FilesReadyEvent", job_id, row.doc, base_url=self.base_url,
                                     correlation_id=None)
        wake_up.notify()

    def _set_state(self, session, row, job: dict, state: str, why: str) -> None:
        previous = dict(row.doc)
        job["executionState"] = state
        job["lastModifiedTime"] = jobs.now_text()
        add_tracking(session, self.platform, row.id, job, f"executionState {state}: {why}", base_url=self.base_url)
        self.jobs.update_rows(session, [RowUpdate(row.seq, row.id, row.version, previous, job)],
                              base_url=self.base_url, correlation_id=None, standard_only=True)
        session.expire(row)
        if state in jobs.ENDED:
            session.execute(update(CollectionJobRow).where(CollectionJobRow.seq == row.seq)
                            .values(lease_owner=None, lease_until=None))

    def _release(self, job_id: str, next_run_at: datetime) -> None:
        with self.db.transaction() as session:
            session.execute(update(CollectionJobRow)
                            .where(CollectionJobRow.id == job_id, CollectionJobRow.lease_owner == self.owner)
                            .values(lease_owner=None, lease_until=None, next_run_at=next_run_at))


def start_collector(platform, settings, *, alarms: bool = True) -> list:
    """The collector, and (`alarms`) the fault engine's consumer that turns threshold crossings into alarms, for
    a process that does not run the fault receivers (which run it already)."""
    services: list = [Collector(platform, settings).start()]
    if alarms:
        from tmf_oss.performance.alarm_feed import start_threshold_alarms

        services.append(start_threshold_alarms(platform, settings))
    return services

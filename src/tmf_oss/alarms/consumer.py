"""The fault engine as a consumer of the fault records: reads them in seq order, applies them in batches, and keeps
its place (`fault_progress`) in the same transaction as the alarm changes — each record takes effect exactly once,
whatever crashes.

Receivers only store records (several receiving processes may share the ports); the consumer runs once per
deployment in the process that owns the alarms' work (`tmf-oss receive`'s main process, or the worker that runs the
receivers). Several consumers are safe — the engine's lock makes them take turns and the progress row says what
is done — just not faster. It is woken at once by writes in its own process and polls for the others'. When it
has applied everything stored, it has its own process's sinks store what they hold at once instead of after their
wait for a fuller batch: under load it would otherwise sit idle while records wait in memory.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, select, update

from tmf_oss.alarms.engine import BatchResult, FaultEngine
from tmf_oss.db.engine import Database
from tmf_oss.events.outbox import wake_up
from tmf_oss.gc_tuning import collect_less_often
from tmf_oss.db.base import as_utc
from tmf_oss.southbound.fault_model import FaultProgress, FaultRow
from tmf_oss.southbound.fault_store import FaultStore, faults_written, write_pending_now

log = logging.getLogger("tmf_oss.alarms.consumer")

PROGRESS = "alarm-engine"
BATCH = 5000  # records per transaction at most
POLL_SECONDS = 0.2  # for records written by other processes
RETRY_SECONDS = 2.0  # after a batch failed (database away...): the same records are tried again
PRUNE_EVERY_SECONDS = 300.0


@dataclass(frozen=True)
class Backlog:
    pending: int  # fault records stored and not yet applied to the alarms
    oldest_pending_age_seconds: float  # 0 when nothing is pending


def backlog(db: Database) -> Backlog:
    """How far the fault engine is behind the receivers."""
    with db.read() as connection:
        progress = connection.execute(select(FaultProgress.last_seq)
                                      .where(FaultProgress.name == PROGRESS)).scalar() or 0
        pending, oldest = connection.execute(
            select(func.count(), func.min(FaultRow.received_at)).where(FaultRow.seq > progress)).one()
    age = (datetime.now(timezone.utc) - as_utc(oldest)).total_seconds() if oldest is not None else 0.0
    return Backlog(pending, max(age, 0.0))


def prometheus_lines(db: Database) -> list[str]:
    state = backlog(db)
    return ["# HELP tmf_oss_fault_records_pending Fault records received and not yet applied to the alarms.",
            "# TYPE tmf_oss_fault_records_pending gauge", f"tmf_oss_fault_records_pending {state.pending}",
            "# HELP tmf_oss_fault_records_oldest_pending_age_seconds Age of the oldest fault record not yet applied.",
            "# TYPE tmf_oss_fault_records_oldest_pending_age_seconds gauge",
            f"tmf_oss_fault_records_oldest_pending_age_seconds {state.oldest_pending_age_seconds:.3f}"]


def prune_faults(db: Database, retention: timedelta) -> int:
    """Remove fault records older than the retention that the engine has applied; returns how many."""
    with db.transaction() as session:
        progress = session.execute(select(FaultProgress.last_seq)
                                   .where(FaultProgress.name == PROGRESS)).scalar() or 0
        return session.execute(delete(FaultRow).where(
            FaultRow.seq <= progress, FaultRow.received_at < datetime.now(timezone.utc) - retention)).rowcount


class FaultConsumer:
    def __init__(self, db: Database, engine: FaultEngine, *, batch: int = BATCH,
                 retention: timedelta | None = None):
        """`retention`: applied fault records older than this are removed every few minutes (None: kept)."""
        self.db = db
        self.retention = retention
        self.engine = engine
        self.store = FaultStore(db)
        self.batch = batch
        self.last_result = BatchResult()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Apply the next batch of records; returns how many it held (0: none waiting)."""
        with self.db.transaction() as session:
            if self.db.dialect != "postgresql":
                # SQLite has no row lock and takes a transaction's write lock at its first write only: without
                # this, two consumers would read the same progress and apply the same records twice.
                session.execute(update(FaultProgress).where(FaultProgress.name == PROGRESS)
                                .values(last_seq=FaultProgress.last_seq))
            progress = session.execute(select(FaultProgress.last_seq).where(FaultProgress.name == PROGRESS)
                                       .with_for_update()).scalar()
            if progress is None:
                session.add(FaultProgress(name=PROGRESS, last_seq=0))
                session.flush()
                progress = 0
            found = self.store.after(session, progress, self.batch)
            if not found:
                return 0
            self.last_result = self.engine.apply(session, [record for _, record in found])
            session.execute(update(FaultProgress).where(FaultProgress.name == PROGRESS)
                            .values(last_seq=found[-1][0]))
        wake_up.notify()  # alarm events to deliver
        return len(found)

    def drain(self) -> int:
        """Apply everything waiting; returns how many records."""
        total = 0
        while (applied := self.run_once()):
            total += applied
        return total

    def start(self) -> "FaultConsumer":
        collect_less_often()
        self._thread = threading.Thread(target=self._run, name="tmf-oss-alarm-engine", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        faults_written.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
        while not self._stop.is_set():
            if self.retention is not None and time.monotonic() >= next_prune:
                next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                try:
                    removed = prune_faults(self.db, self.retention)
                    if removed:
                        log.info("removed %d fault records older than the retention", removed)
                except Exception:
                    log.exception("removing old fault records failed; trying again later")
            try:
                applied = self.run_once()
            except Exception:
                log.exception("applying fault records to the alarms failed; trying again in %.0f s", RETRY_SECONDS)
                self._stop.wait(RETRY_SECONDS)
                continue
            if applied < self.batch:  # caught up with what is stored: have what is received stored, wait for it
                write_pending_now()
                faults_written.wait(POLL_SECONDS)

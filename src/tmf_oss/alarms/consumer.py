"""The fault engine as a consumer of the fault records: reads them in seq order, applies them in batches, and keeps
its place (`fault_progress`) in the same transaction as the alarm changes — each record takes effect exactly once,
whatever crashes.

Receivers only store records (several receiving processes may share the ports); the consumer runs once per
deployment in the process that owns the alarms' work (`tmf-oss receive`'s main process, or the worker that runs the
receivers). Several consumers are safe — the engine's lock makes them take turns and the progress row says what
is done — just not faster. It is woken at once by writes in its own process and polls for the others'.
"""
from __future__ import annotations

import logging
import threading

from sqlalchemy import select, update

from tmf_oss.alarms.engine import BatchResult, FaultEngine
from tmf_oss.db.engine import Database
from tmf_oss.events.outbox import wake_up
from tmf_oss.southbound.fault_model import FaultProgress
from tmf_oss.southbound.fault_store import FaultStore, faults_written

log = logging.getLogger("tmf_oss.alarms.consumer")

PROGRESS = "alarm-engine"
BATCH = 5000  # records per transaction at most
POLL_SECONDS = 0.2  # for records written by other processes
RETRY_SECONDS = 2.0  # after a batch failed (database away...): the same records are tried again


class FaultConsumer:
    def __init__(self, db: Database, engine: FaultEngine, *, batch: int = BATCH):
        self.db = db
        self.engine = engine
        self.store = FaultStore(db)
        self.batch = batch
        self.last_result = BatchResult()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Apply the next batch of records; returns how many it held (0: none waiting)."""
        with self.db.transaction() as session:
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
        self._thread = threading.Thread(target=self._run, name="tmf-oss-alarm-engine", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        faults_written.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                applied = self.run_once()
            except Exception:
                log.exception("applying fault records to the alarms failed; trying again in %.0f s", RETRY_SECONDS)
                self._stop.wait(RETRY_SECONDS)
                continue
            if applied < self.batch:  # caught up: wait for more
                faults_written.wait(POLL_SECONDS)

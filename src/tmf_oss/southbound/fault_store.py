"""Keeps received faults, and lists them back newest first.

`FaultStore` writes and reads the fault_record table. `BufferedFaultSink` is the FaultSink receivers are given:
receivers call their sink on their event loop for every message, so it only queues the record and returns; a
background thread writes the queue to the store in batches.
"""
from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import deque
from datetime import datetime, timezone

from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from tmf_oss.db.base import as_utc
from tmf_oss.db.bulk import insert_rows
from tmf_oss.db.engine import Database
from tmf_oss.events.outbox import WakeUp
from tmf_oss.southbound import fault_model
from tmf_oss.southbound.fault_model import FaultRow
from tmf_oss.southbound.faults import FaultRecord

log = logging.getLogger("tmf_oss.southbound.faults")

FAULTS = FaultRow.__table__
_FAULT_LOCK = 642_000_002  # pg_advisory_xact_lock key: fault record writers take turns, so seqs follow commits
_LOCK = text(f"SELECT pg_advisory_xact_lock({_FAULT_LOCK})")
# Wakes an in-process consumer when records were written (others poll).
faults_written = WakeUp()
# The BufferedFaultSinks of this process, for write_pending_now().
_sinks: weakref.WeakSet = weakref.WeakSet()
MAX_INTERFACE_INDEX = 2**31 - 1  # ifIndex is 1..2147483647 (RFC 2863)
# FaultRecord's fields, in its order.
_RECORD_COLUMNS = (FAULTS.c.source, FAULTS.c.device_address, FAULTS.c.received_at, FAULTS.c.kind, FAULTS.c.severity,
                   FAULTS.c.text, FAULTS.c.device_time, FAULTS.c.interface, FAULTS.c.interface_index,
                   FAULTS.c.details)


class FaultStore:
    def __init__(self, db: Database):
        self.db = db

    def record_many(self, faults: list[FaultRecord]) -> int:
        """Write the faults in one transaction; returns how many were written. Seqs follow commit order across
        processes (on PostgreSQL the writers take turns on an advisory lock), so a consumer reading by seq
        (alarms/consumer.py) never passes a record that commits later."""
        if not faults:
            return 0
        with self.db.transaction() as session:
            written = self.record_in(session, faults)
        return written

    def record_in(self, session: Session, faults: list[FaultRecord]) -> int:
        """Write the faults in the caller's transaction, with whatever else it writes (all or nothing); the
        in-process consumer is woken when it commits. On PostgreSQL this takes the writers' lock until then:
        call it as late in the transaction as possible."""
        rows = [_row(fault) for fault in faults]
        if not rows:
            return 0
        if session.get_bind().dialect.name == "postgresql":
            session.execute(_LOCK)
        insert_rows(session.connection(), FAULTS, rows)
        event.listen(session, "after_commit", lambda _session: faults_written.notify(), once=True)
        return len(rows)

    def after(self, session: Session, seq: int, limit: int) -> list[tuple[int, FaultRecord]]:
        """Up to `limit` records written after `seq`, in order, with their seqs."""
        rows = session.execute(select(FAULTS.c.seq, *_RECORD_COLUMNS).where(FAULTS.c.seq > seq)
                               .order_by(FAULTS.c.seq).limit(limit)).tuples()
        return [(row[0], _record(row[1:])) for row in rows]

    def recent(self, *, limit: int = 100, device_address: str | None = None, kind: str | None = None,
               since: datetime | None = None) -> list[FaultRecord]:
        """Newest first; `since` is inclusive."""
        query = (select(*_RECORD_COLUMNS).where(*_filters(device_address, kind, since))
                 .order_by(FAULTS.c.received_at.desc(), FAULTS.c.seq.desc()).limit(limit))
        with self.db.read() as connection:
            return [_record(row) for row in connection.execute(query).tuples()]

    def count(self, *, device_address: str | None = None, kind: str | None = None,
              since: datetime | None = None) -> int:
        query = select(func.count()).select_from(FAULTS).where(*_filters(device_address, kind, since))
        with self.db.read() as connection:
            return connection.execute(query).scalar_one()


def _filters(device_address: str | None, kind: str | None, since: datetime | None) -> list[ColumnElement[bool]]:
    conditions = []
    if device_address is not None:
        conditions.append(FAULTS.c.device_address == device_address)
    if kind is not None:
        conditions.append(FAULTS.c.kind == kind)
    if since is not None:
        conditions.append(FAULTS.c.received_at >= _utc(since))
    return conditions


def _row(fault: FaultRecord) -> dict:
    interface_index = fault.interface_index
    if interface_index is not None and not 0 <= interface_index <= MAX_INTERFACE_INDEX:
        interface_index = None  # not an ifIndex; the column could not hold it either
    return {
        "source": _bounded(fault.source, fault_model.SOURCE_LENGTH),
        "device_address": _bounded(fault.device_address, fault_model.DEVICE_ADDRESS_LENGTH),
        "received_at": _utc(fault.received_at),
        "device_time": _utc(fault.device_time),
        "kind": _bounded(fault.kind, fault_model.KIND_LENGTH),
        "severity": _bounded(fault.severity, fault_model.SEVERITY_LENGTH),
        "interface": _bounded(fault.interface, fault_model.INTERFACE_LENGTH),
        "interface_index": interface_index,
        "text": _storable(fault.text),
        "details": _storable(fault.details),
    }


def _record(values: tuple) -> FaultRecord:
    """A record from the values of _RECORD_COLUMNS, in their order (plain tuples: the engine reads every record
    through here)."""
    source, address, received_at, kind, severity, text, device_time, interface, interface_index, details = values
    return FaultRecord(source, address, _utc(received_at), kind, severity, text, _utc(device_time), interface,
                       interface_index, details)


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite keeps the wall-clock time and drops the zone, so every timestamp goes in (and comes out) as UTC.
    moment = as_utc(moment)
    return None if moment is None else moment.astimezone(timezone.utc)


def _bounded(value: str | None, length: int) -> str | None:
    return None if value is None else _storable(value)[:length]


def _storable(value):
    """What devices send, made acceptable to both databases: PostgreSQL refuses NUL characters in text and JSONB
    (devices often end SNMP strings with one), JSON needs string keys and cannot hold bytes."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_storable(str(key)): _storable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(item) for item in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex(":")
    return value


def write_pending_now() -> None:
    """Ask this process's sinks to write the records they hold now rather than wait for a fuller batch. The fault
    engine's consumer calls this when it has applied everything stored: records must not sit in a queue while the
    engine has nothing to do (under load, that idle time is what the engine falls behind by)."""
    for sink in list(_sinks):
        sink.write_now()


class BufferedFaultSink:
    """A FaultSink that never waits for the database.

    Records go on a bounded queue; when it is full a record is dropped and counted, because holding up the
    receiver would lose datagrams anyway, and less visibly. A batch the store refuses is retried a few times, then
    dropped and counted; the writer thread carries on either way.
    """

    def __init__(self, store: FaultStore, *, max_batch: int = 5000, flush_interval: float = 0.2,
                 capacity: int = 100_000, attempts: int = 4, retry_backoff: float = 0.1):
        self.store = store
        self.max_batch = max_batch
        self.flush_interval = flush_interval  # how long the first record of a batch waits for more to join it
        self.capacity = capacity
        self.attempts = attempts
        self.retry_backoff = retry_backoff  # before the first retry; doubles with every further one
        self.written = 0
        self.dropped_full = 0
        self.dropped_errors = 0
        self._pending: deque[FaultRecord] = deque()
        self._accepted = 0
        self._flushing = 0  # callers waiting in flush(): no point in waiting for a fuller batch meanwhile
        self._hurried = False  # write_now() was called: the next batch goes without waiting for more
        self._reported_full = 0
        self._stopping = False
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # the writer waits here for records
        self._progress = threading.Condition(self._lock)  # flush() waits here for batches to be settled
        self._writer = threading.Thread(target=self._run, name="tmf-oss-fault-writer", daemon=True)
        self._writer.start()
        _sinks.add(self)

    def __call__(self, fault: FaultRecord) -> None:
        with self._lock:
            if self._stopping:
                raise RuntimeError("the fault sink is closed")
            if len(self._pending) >= self.capacity:
                self.dropped_full += 1
                return
            self._pending.append(fault)
            self._accepted += 1
            # Only these two arrivals change what the writer is waiting for: a first record, a full batch.
            if len(self._pending) in (1, self.max_batch):
                self._work.notify()

    def write_now(self) -> None:
        """Write what is queued without waiting for a fuller batch (nothing happens when nothing is queued)."""
        with self._lock:
            if self._pending:
                self._hurried = True
                self._work.notify()

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def _settled(self) -> int:
        return self.written + self.dropped_errors

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record queued before this call is written, or given up on after its retries (see
        dropped_errors). False if that took longer than `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            target = self._accepted
            self._flushing += 1
            self._work.notify()
            try:
                while self._settled < target:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._progress.wait(remaining)
                return True
            finally:
                self._flushing -= 1

    def close(self, timeout: float = 10.0) -> bool:
        """Flush, then stop the writer. False if the queue could not be written within `timeout` seconds; the
        writer then keeps trying in the background until the process ends."""
        flushed = self.flush(timeout)
        with self._lock:
            self._stopping = True
            self._work.notify()
        if flushed:
            self._writer.join(timeout)
        else:
            log.warning("closing the fault sink with %d faults not yet written", self.pending)
        return flushed

    def __enter__(self) -> BufferedFaultSink:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            self._write(batch)
            self._report_drops()

    def _next_batch(self) -> list[FaultRecord] | None:
        """The next batch to write; None once the sink is closed and nothing is left."""
        with self._lock:
            while not self._pending:
                if self._stopping:
                    return None
                self._work.wait()
            # A few hundred rows in one INSERT cost little more than one row does.
            deadline = time.monotonic() + self.flush_interval
            while (len(self._pending) < self.max_batch and not self._flushing and not self._stopping
                   and not self._hurried):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._work.wait(remaining)
            self._hurried = False
            return [self._pending.popleft() for _ in range(min(self.max_batch, len(self._pending)))]

    def _write(self, batch: list[FaultRecord]) -> None:
        for attempt in range(1, self.attempts + 1):
            try:
                self.store.record_many(batch)
            except Exception as error:
                if attempt == self.attempts:
                    log.error("dropping %d faults: %d attempts to write them failed", len(batch), attempt,
                              exc_info=True)
                    self._settle(dropped=len(batch))
                    return
                log.warning("writing %d faults failed (attempt %d of %d), retrying: %s", len(batch), attempt,
                            self.attempts, _first_line(error))
                time.sleep(self.retry_backoff * 2 ** (attempt - 1))
            else:
                self._settle(written=len(batch))
                return

    def _settle(self, *, written: int = 0, dropped: int = 0) -> None:
        with self._lock:
            self.written += written
            self.dropped_errors += dropped
            self._progress.notify_all()

    def _report_drops(self) -> None:
        # Logged from the writer, at most once a batch: the receiver's thread must not pay for a log line per drop.
        dropped = self.dropped_full
        if dropped > self._reported_full:
            log.warning("fault queue full (%d faults): %d faults dropped so far", self.capacity, dropped)
            self._reported_full = dropped


def _first_line(error: Exception) -> str:
    # SQLAlchemy's messages go on with the whole statement and its parameters: hundreds of rows here.
    lines = str(error).splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"

"""The events after a cursor, read from the database once per process instead of once per subscription.

Outbox seqs are handed out in commit order (see outbox.py), so once the events after seq A up to seq B have been
read, that range is final: nothing can later commit inside it. The window keeps such a contiguous, complete
range of recent events; every subscription whose cursor falls in it is answered from memory, and a read that
starts where the window ends extends it.
"""
from __future__ import annotations

import bisect
import threading
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Integer, bindparam, select

from tmf_oss.db.engine import Database
from tmf_oss.events.model import OutboxEvent

COLUMNS = (OutboxEvent.seq, OutboxEvent.event_id, OutboxEvent.api, OutboxEvent.event_type, OutboxEvent.entity_name,
           OutboxEvent.entity_id, OutboxEvent.correlation_id, OutboxEvent.base_url, OutboxEvent.entity,
           OutboxEvent.created_at)

# Built once: constructing the statement costs more than running it.
EVENTS_AFTER = (select(*COLUMNS)
                .where(OutboxEvent.api == bindparam("api"), OutboxEvent.seq > bindparam("cursor"))
                .order_by(OutboxEvent.seq).limit(bindparam("limit", type_=Integer)))


class StoredEvent(NamedTuple):
    seq: int
    event_id: str
    api: str
    event_type: str
    entity_name: str
    entity_id: str
    correlation_id: str | None
    base_url: str
    entity: dict
    created_at: datetime


class _Window:
    def __init__(self):
        self.after = 0  # every event with after < seq <= until is in `events`
        self.until = -1  # -1: empty window
        self.seqs: list[int] = []
        self.events: list[StoredEvent] = []
        self.extending = threading.Lock()
        self.reads_started = 0  # reads at the window's end, counted under `extending`

    def slice_after(self, cursor: int, limit: int) -> list[StoredEvent] | None:
        if self.after <= cursor < self.until:
            start = bisect.bisect_right(self.seqs, cursor)
            return self.events[start:start + limit]
        return None


class RecentEvents:
    def __init__(self, db: Database, *, capacity: int = 50_000):
        self.db = db
        self.capacity = capacity
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def after(self, api: str, cursor: int, limit: int) -> list[StoredEvent]:
        with self._lock:
            window = self._windows.setdefault(api, _Window())
            cached = window.slice_after(cursor, limit)
        if cached is not None:
            return cached
        if cursor != window.until:  # a subscription behind the window (or a first read): read for it alone
            events = self._read(api, cursor, limit)
            with self._lock:
                self._remember(window, cursor, events)
            return events
        # At the window's end, every subscription that is keeping up asks the same question at once when new
        # events commit: one of them asks the database, the others wait and take the answer from the window.
        ticket = window.reads_started
        with window.extending:
            with self._lock:
                cached = window.slice_after(cursor, limit)
            if cached is not None:
                return cached
            if window.reads_started > ticket:
                return []  # a read that began after we asked found nothing new: neither would ours
            window.reads_started += 1
            events = self._read(api, cursor, limit)
            with self._lock:
                self._remember(window, cursor, events)
            return events

    def _read(self, api: str, cursor: int, limit: int) -> list[StoredEvent]:
        with self.db.read() as connection:
            rows = connection.execute(EVENTS_AFTER, {"api": api, "cursor": cursor, "limit": limit}).all()
        return [StoredEvent(*row) for row in rows]

    def _remember(self, window: _Window, cursor: int, events: list[StoredEvent]) -> None:
        if not events:
            return
        if cursor != window.until:  # not contiguous with what we hold: start a new window here
            window.after, window.seqs, window.events = cursor, [], []
        window.seqs.extend(event.seq for event in events)
        window.events.extend(events)
        window.until = events[-1].seq
        overflow = len(window.events) - self.capacity
        if overflow > 0:
            window.after = window.seqs[overflow - 1]
            del window.seqs[:overflow]
            del window.events[:overflow]

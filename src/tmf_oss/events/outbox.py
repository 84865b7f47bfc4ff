"""Writing events: always inside the transaction of the change they describe."""
from __future__ import annotations

import threading
import uuid

from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import text
from sqlalchemy.orm import Session

from tmf_oss.db.base import utcnow
from tmf_oss.db.bulk import insert_rows
from tmf_oss.events.model import OutboxEvent
from tmf_oss.tmf.counts import drop_pending as drop_pending_counts
from tmf_oss.tmf.counts import take_pending as take_pending_counts
from tmf_oss.tmf.counts import upsert_statements


class WakeUp:
    """Tells an in-process dispatcher that new events were committed, so it need not wait for its next poll."""

    def __init__(self):
        self._event = threading.Event()

    def notify(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """True when woken by a notification, False when the timeout passed."""
        woken = self._event.wait(timeout)
        self._event.clear()
        return woken


wake_up = WakeUp()

NOTIFY_CHANNEL = "tmf_oss_outbox"
_OUTBOX_LOCK = 639_0001  # any constant: one transaction-scoped advisory lock guards the outbox sequence
_PENDING = "tmf_oss_pending_events"
_TABLE = OutboxEvent.__table__
# Events are written at commit time, after the outbox lock (PostgreSQL), which is held until the transaction
# ends. Event seqs are then handed out in commit order: a dispatcher that has seen seq N can never later see a
# smaller one commit, so moving a cursor past N skips nothing. Taking the lock as the transaction's last step
# keeps the serialised part short and out of any lock-order cycle. (On SQLite writers are serialised anyway.)
# The same statement sends a NOTIFY (delivered at commit, never on rollback) so dispatchers in other processes
# start at once.
_LOCK_AND_NOTIFY = text(f"SELECT pg_advisory_xact_lock({_OUTBOX_LOCK}); NOTIFY {NOTIFY_CHANNEL}")


def emit(session: Session, *, api: str, event_type: str, entity_name: str, entity: dict, base_url: str,
         correlation_id: str | None) -> str:
    """Record an event of the session's transaction: written when, and only if, the transaction commits.
    Returns the event's id."""
    event_id = str(uuid.uuid4())
    session.info.setdefault(_PENDING, []).append({
        "event_id": event_id, "api": api, "event_type": event_type, "entity_name": entity_name,
        "entity_id": entity["id"], "correlation_id": correlation_id, "base_url": base_url, "entity": entity,
        "created_at": utcnow(),
    })
    return event_id


_LOCKED = "tmf_oss_outbox_locked"


def write_counts_now(session: Session) -> None:
    """Write the transaction's collection count changes now rather than at commit: for code that must read the
    generation its own transaction leaves (the fault engine). Takes the outbox lock first, like any commit."""
    _write_counts(session)


def _write_counts(session: Session) -> None:
    changes = take_pending_counts(session)
    if not changes:
        return
    postgres = session.get_bind().dialect.name == "postgresql"
    statements = upsert_statements(changes)
    if postgres:
        # The lock, the NOTIFY and every count in one round trip: the rows and the lock are held until the
        # commit, so the fewer round trips from here on, the shorter everyone else waits.
        _lock(session, extra=statements)
    else:
        for sql, parameters in statements:
            session.execute(text(sql), parameters)


def _lock(session: Session, extra: list[tuple[str, dict]] = ()) -> None:
    """The outbox lock (once per transaction) and NOTIFY, with any further statements in the same round trip."""
    statements = [] if session.info.get(_LOCKED) else [(_LOCK_AND_NOTIFY.text, {})]
    statements.extend(extra)
    if not statements:
        return
    session.info[_LOCKED] = True
    parameters = {}
    for _, values in statements:
        parameters.update(values)
    session.execute(text("; ".join(sql for sql, _ in statements)), parameters)


@sqlalchemy_event.listens_for(Session, "before_commit")
def _write_pending_events(session: Session) -> None:
    # The outbox lock, then collection counts, then events: every transaction takes them in this one order.
    _write_counts(session)
    pending = session.info.pop(_PENDING, None)
    if pending and session.get_bind().dialect.name == "postgresql":
        _lock(session)
    session.info.pop(_LOCKED, None)
    if not pending:
        return
    # Multi-row INSERTs (PostgreSQL), rows in emit order: seqs follow it.
    insert_rows(session.connection(), _TABLE, pending)


@sqlalchemy_event.listens_for(Session, "after_rollback")
def _drop_pending_events(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_LOCKED, None)
    drop_pending_counts(session)

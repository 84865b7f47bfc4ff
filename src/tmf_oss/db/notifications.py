"""Waking other processes (NOTIFY, PostgreSQL) and this one when a transaction commits, and listening for it."""
from __future__ import annotations

import logging
import select
import threading
from typing import Callable

from sqlalchemy import event, text
from sqlalchemy.orm import Session

log = logging.getLogger("tmf_oss.db")


def notify_at_commit(session: Session, channel: str, wake: Callable[[], None]) -> None:
    """NOTIFY `channel` (PostgreSQL) and call `wake` in this process, both once the session's transaction commits
    and never if it rolls back; once per transaction however often it is asked."""
    marker = f"tmf_oss_notify_{channel}"
    if session.info.get(marker):
        return
    session.info[marker] = True
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {channel}"))  # delivered at commit, never on rollback

    def committed(_session: Session) -> None:
        session.info.pop(marker, None)
        wake()

    def rolled_back(_session: Session) -> None:
        session.info.pop(marker, None)

    event.listen(session, "after_commit", committed, once=True)
    event.listen(session, "after_rollback", rolled_back, once=True)


def listen(db, channel: str, on_notify: Callable[[], None], stop: threading.Event) -> None:
    """Call `on_notify` whenever NOTIFY arrives on `channel`, until `stop` is set; reconnects after a failure.
    Runs in the caller's thread, on a connection of its own (LISTEN state must not go back to the pool)."""
    while not stop.is_set():
        connection = None
        try:
            raw = db.engine.raw_connection()
            connection = raw.dbapi_connection
            raw.detach()
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f"LISTEN {channel}")
            while not stop.is_set():
                readable, _, _ = select.select([connection], [], [], 1.0)
                if readable:
                    connection.poll()
                    if connection.notifies:
                        connection.notifies.clear()
                        on_notify()
        except Exception:
            log.exception("listening on %s failed; retrying", channel)
            stop.wait(1.0)
        finally:
            if connection is not None:
                connection.close()

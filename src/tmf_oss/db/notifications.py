"""LISTEN on a PostgreSQL channel: what lets a process wake up at once when another one commits."""
from __future__ import annotations

import logging
import select
import threading
from typing import Callable

log = logging.getLogger("tmf_oss.db")


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

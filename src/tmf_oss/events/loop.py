"""Keeps a Dispatcher busy: claims subscriptions whenever a slot is free and serves them side by side.

A callback that hangs holds one slot for one timeout; the other slots keep delivering. The loop sleeps until
something happens: a commit in this process, a NOTIFY from another process on PostgreSQL, a finished
subscription, or the fallback poll interval.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from tmf_oss.db.notifications import listen
from tmf_oss.events.dispatcher import Arrivals, Claim, Dispatcher
from tmf_oss.events.outbox import NOTIFY_CHANNEL, wake_up
from tmf_oss.events.status import prune_outbox

log = logging.getLogger("tmf_oss.dispatcher")

PRUNE_EVERY_SECONDS = 300.0
WAITING_CHECK_SECONDS = 0.2
SQLITE_POLL_SECONDS = 0.25


class DispatchLoop:
    def __init__(self, platform, *, owner: str | None = None, settings=None):
        settings = settings or platform.settings
        self.platform = platform
        self.dispatcher = Dispatcher(platform, owner=owner, settings=settings)
        self.concurrency = max(1, settings.delivery_concurrency)
        self.interval = settings.dispatch_interval_seconds
        if platform.db.dialect != "postgresql":
            # No NOTIFY: commits made by other processes (gunicorn workers, `tmf-oss` commands) are only seen by
            # polling, so poll often; commits in this process still wake the loop at once.
            self.interval = min(self.interval, SQLITE_POLL_SECONDS)
        self.retention = timedelta(seconds=settings.outbox_retention_seconds)
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="tmf-oss-delivery")
        self._active: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.arrivals = Arrivals()

    @property
    def owner(self) -> str:
        return self.dispatcher.owner

    def start(self) -> "DispatchLoop":
        self._threads.append(threading.Thread(target=self._run, name="tmf-oss-dispatcher", daemon=True))
        if self.platform.db.dialect == "postgresql":
            self._threads.append(threading.Thread(target=self._listen, name="tmf-oss-notify", daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.arrivals.release_all()
        wake_up.notify()
        for thread in self._threads:
            thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.dispatcher.close()

    def _run(self) -> None:
        next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
        next_check = 0.0
        while not self._stop.is_set():
            with self._lock:
                free = self.concurrency - len(self._active)
            if free > 0:
                try:
                    claims = self.dispatcher.claim(free)
                    # Every slot taken: others may be waiting, so served subscriptions should not linger.
                    self.arrivals.lingering_allowed = len(claims) < free
                    for claim in claims:
                        with self._lock:
                            self._active.add(claim.seq)
                        self._pool.submit(self._serve, claim)
                except Exception:  # keep going through a database restart
                    log.exception("claiming subscriptions failed")
            elif self.arrivals.lingering_allowed and time.monotonic() >= next_check:
                # Every slot is busy: if someone else is waiting, the lingering subscriptions make room.
                next_check = time.monotonic() + WAITING_CHECK_SECONDS
                try:
                    if self.dispatcher.others_waiting():
                        self.arrivals.release_all()
                except Exception:
                    log.exception("checking for waiting subscriptions failed")
            if time.monotonic() >= next_prune:
                next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                try:
                    prune_outbox(self.platform.db, self.retention)
                except Exception:
                    log.exception("pruning the outbox failed")
            if wake_up.wait(self.interval):
                self.arrivals.announce()

    def _serve(self, claim: Claim) -> None:
        try:
            self.dispatcher.serve(claim, self.arrivals)
        except Exception:
            log.exception("serving subscription %s failed", claim.id)
        finally:
            with self._lock:
                self._active.discard(claim.seq)
            wake_up.notify()

    def _listen(self) -> None:
        """Wake up on NOTIFY: commits made by other processes (API workers) reach us without polling."""
        listen(self.platform.db, NOTIFY_CHANNEL, wake_up.notify, self._stop)


def start_dispatch_loop(platform, *, owner: str | None = None, settings=None) -> DispatchLoop:
    return DispatchLoop(platform, owner=owner, settings=settings).start()

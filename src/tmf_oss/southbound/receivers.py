"""The fault receivers as a running service: SNMP traps and syslog on their UDP ports, into the fault store.

Runs inside `tmf-oss worker` (when enabled) or alone as `tmf-oss receive`. Each receiver owns its socket on one
asyncio loop in a thread of its own; records go through a BufferedFaultSink, so a slow database never stalls
the sockets.
"""
from __future__ import annotations

import asyncio
import logging
import threading

from tmf_oss.config import Settings
from tmf_oss.db.engine import Database
from tmf_oss.southbound.fault_store import BufferedFaultSink, FaultStore
from tmf_oss.southbound.syslog import SyslogReceiver
from tmf_oss.southbound.traps import TrapReceiver

log = logging.getLogger("tmf_oss.southbound.receivers")


class FaultReceivers:
    def __init__(self, db: Database, settings: Settings):
        self.settings = settings
        self.sink = BufferedFaultSink(FaultStore(db))
        communities = frozenset(c.strip() for c in settings.trap_communities.split(",") if c.strip())
        self.traps = TrapReceiver(self.sink, communities=communities or None)
        self.syslog = SyslogReceiver(self.sink)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tmf-oss-receivers", daemon=True)

    def start(self, *, shared: bool = False) -> "FaultReceivers":
        """`shared`: several processes receive on the same ports (decoding is CPU-bound: one core each)."""
        self._thread.start()
        host = self.settings.receiver_host
        started = []
        if self.settings.trap_port:
            started.append(self.traps.start(host=host, port=self.settings.trap_port, shared=shared))
        if self.settings.syslog_port:
            started.append(self.syslog.start(host=host, port=self.settings.syslog_port, shared=shared))
        for coroutine in started:
            asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)
        log.info("receiving traps on %s:%s and syslog on %s:%s", host, self.traps.port or "-", host,
                 self.syslog.port or "-")
        return self

    def close(self) -> None:
        for receiver in (self.traps, self.syslog):
            asyncio.run_coroutine_threadsafe(receiver.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self.sink.close()


def receive_in_process(settings: Settings) -> None:
    """One more receiving process on the same ports (spawned by `tmf-oss receive --processes N`)."""
    import signal

    database = Database(settings.database_url)
    receivers = FaultReceivers(database, settings).start(shared=True)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    receivers.close()
    database.dispose()

"""The fault receivers as a running service: SNMP traps and syslog on their UDP ports, and NETCONF notification
subscriptions to the devices file's devices, into the fault store; and the fault engine, turning stored records
into alarms (alarms/consumer.py).

Runs inside `tmf-oss worker` (when enabled) or alone as `tmf-oss receive`. The UDP receivers share one asyncio loop
in a thread of their own; records go through a BufferedFaultSink, so a slow database never stalls the sockets.
The devices file (TMF_OSS_DEVICES_FILE), when there is one, gives the SNMPv3 credentials traps are checked with
and the devices whose NETCONF event stream we subscribe to.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from datetime import timedelta

from tmf_oss.config import Settings
from tmf_oss.southbound.devices import ManagedDevice, load_devices
from tmf_oss.southbound.fault_store import BufferedFaultSink, FaultStore
from tmf_oss.southbound.netconf import NetconfAdapter
from tmf_oss.southbound.netconf_listeners import NetconfListeners
from tmf_oss.southbound.syslog import SyslogReceiver
from tmf_oss.southbound.traps import TrapReceiver

log = logging.getLogger("tmf_oss.southbound.receivers")


SWEEP_SECONDS = 5.0  # how often held clears of flapping alarms are looked at


class FaultReceivers:
    def __init__(self, platform, settings: Settings):
        """Raises DeviceFileError or RuleError when the devices or rules file is not usable."""
        from tmf_oss.alarms.consumer import FaultConsumer  # the alarm domain sits above the southbound
        from tmf_oss.alarms.engine import fault_engine

        self.settings = settings
        self.engine = fault_engine(platform, settings)
        self.consumer = FaultConsumer(platform.db, self.engine,
                                      retention=timedelta(seconds=settings.fault_retention_seconds))
        self.sink = BufferedFaultSink(FaultStore(platform.db))
        self._sweeping = threading.Event()
        devices: list[ManagedDevice] = load_devices(settings.devices_file) if settings.devices_file else []
        communities = frozenset(c.strip() for c in settings.trap_communities.split(",") if c.strip())
        self.traps = TrapReceiver(self.sink, communities=communities or None,
                                  v3_credentials={d.target.address: d.target.snmp for d in devices})
        self.syslog = SyslogReceiver(self.sink)
        self.netconf = NetconfListeners(devices, self.sink, NetconfAdapter(
            known_hosts=settings.netconf_known_hosts or None))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tmf-oss-receivers", daemon=True)

    def start(self, *, shared: bool = False, subscribe: bool = True) -> "FaultReceivers":
        """`shared`: several processes receive on the same ports (decoding is CPU-bound: one core each).
        `subscribe`: hold the NETCONF subscriptions and run the fault engine (in one process only: notifications
        would come twice, and engines would only take turns)."""
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
        if subscribe:
            self.netconf.start()
            self.consumer.start()
            threading.Thread(target=self._sweep, name="tmf-oss-alarm-sweep", daemon=True).start()
        return self

    def _sweep(self) -> None:
        while not self._sweeping.wait(SWEEP_SECONDS):
            try:
                self.engine.sweep()
            except Exception:
                log.exception("clearing held flapping alarms failed; trying again shortly")

    def close(self) -> None:
        self._sweeping.set()
        self.netconf.close()
        for receiver in (self.traps, self.syslog):
            asyncio.run_coroutine_threadsafe(receiver.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self.sink.close()
        self.consumer.close()


def receive_in_process(settings: Settings) -> None:
    """One more receiving process on the same ports (spawned by `tmf-oss receive --processes N`)."""
    import signal

    from tmf_oss.platform import Platform

    platform = Platform(settings)
    receivers = FaultReceivers(platform, settings).start(shared=True, subscribe=False)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    receivers.close()
    platform.close()

"""The fault engine, run where performance data is collected: threshold crossings are fault records, and they
must become alarms even in a deployment without fault receivers.

Another consumer beside the receivers' one is safe (alarms/consumer.py: consumers take turns and share their
progress), so this may run whatever else runs.
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

from tmf_oss.alarms.consumer import FaultConsumer
from tmf_oss.alarms.engine import fault_engine

log = logging.getLogger("tmf_oss.performance.alarm_feed")

SWEEP_SECONDS = 5.0  # how often held clears of flapping alarms are looked at


class ThresholdAlarms:
    """A running fault consumer, and the sweep that clears flapping alarms once they settle."""

    def __init__(self, platform, settings):
        """Raises RuleError for a rules file that cannot be used."""
        self.engine = fault_engine(platform, settings)
        self.consumer = FaultConsumer(platform.db, self.engine,
                                      retention=timedelta(seconds=settings.fault_retention_seconds))
        self._stopped = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep, name="tmf-oss-threshold-alarm-sweep", daemon=True)

    def start(self) -> "ThresholdAlarms":
        self.consumer.start()
        self._sweeper.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        self._stopped.set()
        self.consumer.close(timeout)
        if self._sweeper.is_alive():
            self._sweeper.join(timeout)

    def _sweep(self) -> None:
        while not self._stopped.wait(SWEEP_SECONDS):
            try:
                self.engine.sweep()
            except Exception:
                log.exception("clearing held flapping alarms failed; trying again shortly")


def start_threshold_alarms(platform, settings) -> ThresholdAlarms:
    """Start turning fault records (threshold crossings among them) into alarms; `close()` stops it."""
    return ThresholdAlarms(platform, settings).start()

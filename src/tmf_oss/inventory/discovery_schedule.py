"""Periodic rediscovery, run by `tmf-oss worker` when a devices file is configured.

Each device is rediscovered every `rediscover_seconds` (its own, or the file's default). The file is read again
when it changes, so adding a device needs no restart. Several workers may run this: reconciliation goes through
the collection with If-Match, so concurrent passes over one device cost work, not correctness.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from tmf_oss.inventory.discovery import discover_and_sync
from tmf_oss.southbound.devices import DeviceFileError, ManagedDevice, load_devices

log = logging.getLogger("tmf_oss.discovery")

TICK_SECONDS = 1.0


class DiscoverySchedule:
    def __init__(self, platform, devices_file: str, *, base_url: str):
        self.platform = platform
        self.devices_file = devices_file
        self.base_url = base_url
        self.passes = 0
        self._devices: list[ManagedDevice] = []
        self._file_stamp: float | None = None
        self._due: dict[str, float] = {}  # address -> monotonic time of its next discovery
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tmf-oss-discovery", daemon=True)

    def start(self) -> "DiscoverySchedule":
        self._thread.start()
        return self

    def close(self, timeout: float = 60.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _reload_if_changed(self) -> None:
        try:
            stamp = os.stat(self.devices_file).st_mtime
        except OSError as exc:
            log.error("cannot read the devices file %s: %s", self.devices_file, exc.strerror)
            return
        if stamp == self._file_stamp:
            return
        try:
            self._devices = load_devices(self.devices_file)
        except DeviceFileError as exc:
            log.error("devices file not used: %s", exc)  # keep the devices we had
        self._file_stamp = stamp
        now = time.monotonic()
        self._due = {d.target.address: self._due.get(d.target.address, now) for d in self._devices}

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._reload_if_changed()
                now = time.monotonic()
                due = [d for d in self._devices if self._due.get(d.target.address, now) <= now]
                if due:
                    for outcome in discover_and_sync(self.platform, due, base_url=self.base_url):
                        if outcome.error:
                            log.warning("rediscovery of %s failed: %s", outcome.address, outcome.error)
                    finished = time.monotonic()
                    for device in due:
                        self._due[device.target.address] = finished + device.rediscover_seconds
                    self.passes += 1
            except Exception:  # a database restart must not end periodic discovery
                log.exception("periodic discovery failed")
            self._stop.wait(TICK_SECONDS)

"""NETCONF event-stream subscriptions to every device the devices file marks for them, kept up for good.

One thread per device holds its subscription (ncclient sessions are blocking). When a session cannot be set up
or is lost, the thread logs why and tries again after a pause that doubles up to a minute, so a device that is
down or rebooting is neither hammered nor forgotten.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from tmf_oss.southbound.adapter import DeviceError
from tmf_oss.southbound.devices import ManagedDevice
from tmf_oss.southbound.faults import FaultRecord, FaultSink
from tmf_oss.southbound.netconf import NetconfAdapter

log = logging.getLogger("tmf_oss.southbound.netconf")

FIRST_RETRY_SECONDS = 2.0
LAST_RETRY_SECONDS = 60.0


@dataclass
class SubscriptionState:
    address: str
    subscribed: bool = False
    sessions: int = 0  # subscriptions set up so far (more than one: it reconnected)
    records: int = 0
    last_error: str = ""


class NetconfListeners:
    def __init__(self, devices: list[ManagedDevice], sink: FaultSink, adapter: NetconfAdapter):
        self.adapter = adapter
        self.sink = sink
        self.devices = [d for d in devices if d.netconf_notifications and d.target.netconf is not None]
        self.state = {d.target.address: SubscriptionState(d.target.address) for d in self.devices}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._keep_subscribed, args=(device,), daemon=True,
                                          name=f"tmf-oss-netconf-{device.target.address}")
                         for device in self.devices]

    def start(self) -> "NetconfListeners":
        for thread in self._threads:
            thread.start()
        if self.devices:
            log.info("subscribing to NETCONF notifications of %d device(s)", len(self.devices))
        return self

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)

    def _keep_subscribed(self, device: ManagedDevice) -> None:
        address, credentials = device.target.address, device.target.netconf
        state = self.state[address]
        pause = FIRST_RETRY_SECONDS

        def record(fault: FaultRecord) -> None:
            state.records += 1
            self.sink(fault)

        while not self._stop.is_set():
            subscribed = _Flag(lambda: self._subscribed(state))
            try:
                self.adapter.listen(address, credentials, record, self._stop, subscribed)
            except DeviceError as error:
                state.last_error = error.reason
                log.warning("NETCONF notifications from %s: %s; retrying in %.0f s", address, error.reason, pause)
            except Exception as error:  # a bug must not end the subscription for good
                state.last_error = f"{type(error).__name__}: {error}"
                log.exception("NETCONF notifications from %s failed; retrying in %.0f s", address, pause)
            state.subscribed = False
            if subscribed.is_set():
                pause = FIRST_RETRY_SECONDS  # it worked for a while: the next failure starts the backoff again
            if self._stop.wait(pause):
                return
            pause = min(pause * 2, LAST_RETRY_SECONDS)

    @staticmethod
    def _subscribed(state: SubscriptionState) -> None:
        state.subscribed = True
        state.sessions += 1
        state.last_error = ""
        log.info("NETCONF notifications from %s: subscribed", state.address)


class _Flag(threading.Event):
    """An Event that also runs a callback when it is set (the adapter sets it once subscribed)."""

    def __init__(self, on_set):
        super().__init__()
        self._on_set = on_set

    def set(self) -> None:
        super().set()
        self._on_set()

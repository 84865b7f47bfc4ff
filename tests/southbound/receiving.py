"""Run an asyncio receiver in a thread of its own, so tests can send to it with blocking tools."""
from __future__ import annotations

import asyncio
import threading
import time

from tmf_oss.southbound.faults import FaultRecord


class Collected:
    """A FaultSink that keeps what it is given and lets a test wait for it."""

    def __init__(self):
        self.records: list[FaultRecord] = []
        self._changed = threading.Condition()

    def __call__(self, record: FaultRecord) -> None:
        with self._changed:
            self.records.append(record)
            self._changed.notify_all()

    def wait_for(self, predicate, timeout: float = 10.0) -> list[FaultRecord]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.records) and time.monotonic() < deadline:
                self._changed.wait(max(0.0, deadline - time.monotonic()))
            return list(self.records)


class InThread:
    """Starts `receiver.start(**start_args)` on an event loop in a daemon thread; stops it on exit."""

    def __init__(self, receiver, **start_args):
        self.receiver = receiver
        self.start_args = start_args
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.receiver.start(**self.start_args), self.loop).result(10)
        return self.receiver

    def __exit__(self, *_exc):
        asyncio.run_coroutine_threadsafe(self.receiver.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

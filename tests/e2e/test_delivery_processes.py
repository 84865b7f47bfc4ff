"""Delivery across real processes: a server killed with SIGKILL mid-stream, several API and worker processes."""
from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.api.helpers import V5, Listener
from tests.conftest import truncate_all
from tests.e2e.processes import TmfOssProcess

FAST_RETRIES = {"TMF_OSS_DELIVERY_BACKOFF_BASE_SECONDS": "0.05", "TMF_OSS_DELIVERY_BACKOFF_MAX_SECONDS": "0.5",
                "TMF_OSS_DELIVERY_LEASE_SECONDS": "4", "TMF_OSS_DELIVERY_TIMEOUT_SECONDS": "1"}


class Writer(threading.Thread):
    """Creates resources one after another until stopped (or the server goes away); some changes are refused."""

    def __init__(self, base: str, prefix: str, limit: int | None = None):
        super().__init__(daemon=True)
        self.base, self.prefix, self.limit = base, prefix, limit
        self.acknowledged: list[str] = []
        self.refused = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as client:
            index = 0
            while not self.stop.is_set() and (self.limit is None or index < self.limit):
                name = f"{self.prefix}{index:05}"
                try:
                    response = client.post(f"{V5}/resource", json={"@type": "LogicalResource", "name": name})
                    if response.status_code == 201 and index % 5 == 0:
                        # Refused (invalid state): rolled back, so it must never produce an event.
                        bad = client.patch(f"{V5}/resource/{response.json()['id']}",
                                           json={"@type": "LogicalResource", "operationalState": "broken"},
                                           headers={"content-type": "application/merge-patch+json"})
                        self.refused += bad.status_code == 400
                except httpx.HTTPError:
                    return  # the server was killed
                if response.status_code == 201:
                    self.acknowledged.append(name)
                index += 1


def stored_names(base: str) -> set[str]:
    names: set[str] = set()
    offset = 0
    while True:
        page = httpx.get(f"{base}{V5}/resource", params={"fields": "name", "limit": 1000, "offset": offset},
                         timeout=30).json()
        names.update(item["name"] for item in page)
        if len(page) < 1000:
            return names
        offset += 1000


def first_of_each(events: list[dict]) -> list[dict]:
    """What a client keeps after dropping repeats by eventId."""
    seen: set[str] = set()
    unique = []
    for event in events:
        if event["eventId"] not in seen:
            seen.add(event["eventId"])
            unique.append(event)
    return unique


def test_sigkill_mid_stream_loses_no_committed_event_and_invents_none(database_url, tmp_path):
    truncate_all(database_url)
    with Listener() as listener:
        first = TmfOssProcess(["serve"], database_url, tmp_path, FAST_RETRIES).wait_until_serving()
        try:
            assert httpx.post(f"{first.base}{V5}/hub", json={"@type": "Hub", "callback": listener.url}).status_code == 201
            writer = Writer(first.base, "k")
            writer.start()
            deadline = time.monotonic() + 30
            while len(writer.acknowledged) < 60 and time.monotonic() < deadline:
                time.sleep(0.05)
            first.kill()  # in the middle of the stream: requests in flight, events not yet delivered
            writer.join(timeout=15)
        finally:
            first.stop()
        second = TmfOssProcess(["serve"], database_url, tmp_path, FAST_RETRIES).wait_until_serving()
        try:
            committed = stored_names(second.base)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                received = first_of_each(listener.received)
                if {e["event"]["resource"]["name"] for e in received if e["eventType"] == "ResourceCreateEvent"} \
                        >= committed:
                    break
                time.sleep(0.2)
            time.sleep(0.5)  # let anything extra arrive before judging
        finally:
            second.stop()
    assert len(writer.acknowledged) >= 60 and writer.refused > 0
    assert set(writer.acknowledged) <= committed  # acknowledged means committed
    received = first_of_each(listener.received)
    assert {e["eventType"] for e in received} == {"ResourceCreateEvent"}  # no event for a refused change
    received_names = [e["event"]["resource"]["name"] for e in received]
    assert set(received_names) == committed  # every committed change's event, and nothing else
    assert len(received_names) == len(committed)
    assert received_names == sorted(received_names)  # in commit order, across the restart


@pytest.mark.postgres
def test_two_api_processes_and_two_workers_deliver_each_event_exactly_once(database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("several dispatcher processes are a PostgreSQL deployment")
    truncate_all(database_url)
    processes = []
    try:
        apis = [TmfOssProcess(["serve", "--no-dispatcher"], database_url, tmp_path, FAST_RETRIES)
                for _ in range(2)]
        # A long poll interval: the workers learn of the API processes' commits through NOTIFY alone.
        workers = [TmfOssProcess(["worker"], database_url, tmp_path,
                                 {**FAST_RETRIES, "TMF_OSS_DISPATCH_INTERVAL_SECONDS": "60"}) for _ in range(2)]
        processes = apis + workers
        for api in apis:
            api.wait_until_serving()
        with Listener() as one, Listener() as two, Listener() as three:
            for listener in (one, two, three):
                httpx.post(f"{apis[0].base}{V5}/hub", json={"@type": "Hub", "callback": listener.url})
            writers = [Writer(api.base, prefix, limit=80) for api, prefix in zip(apis, ("a", "b"))]
            for writer in writers:
                writer.start()
            for writer in writers:
                writer.join(timeout=120)
            expected = 160  # refused changes add nothing
            for listener in (one, two, three):
                listener.wait_for(expected, timeout=60)
            time.sleep(1.0)  # a duplicate would show up now
            state = httpx.get(f"{apis[1].base}/admin/v1/delivery").json()
        for listener in (one, two, three):
            events = listener.received
            assert len(events) == 160 and len({e["eventId"] for e in events}) == 160
            for prefix in ("a", "b"):  # each writer's changes arrive in the order they were made
                mine = [e["event"]["resource"]["name"] for e in events if e["event"]["resource"]["name"][0] == prefix]
                assert mine == sorted(mine) and len(mine) == 80
        assert [(s["pending"], s["delivered"], s["parked"]) for s in state] == [(0, 160, 0)] * 3
    finally:
        for process in processes:
            process.stop()

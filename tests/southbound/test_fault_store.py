"""The fault store on SQLite and PostgreSQL, and the buffered sink receivers hand their FaultRecords to."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import OperationalError

from tests.conftest import truncate_all
from tmf_oss.db.engine import Database
from tmf_oss.southbound.fault_store import BufferedFaultSink, FaultStore
from tmf_oss.southbound.faults import SNMP_TRAP, SYSLOG, FaultRecord

T0 = datetime(2024, 6, 15, 12, 0, tzinfo=timezone.utc)
FLUSH_TIMEOUT = 60.0  # generous: only a hung writer should ever reach it


@pytest.fixture
def db(database_url):
    truncate_all(database_url)
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def store(db) -> FaultStore:
    return FaultStore(db)


def fault(n: int = 0, *, device: str = "192.0.2.1", kind: str = "linkDown",
          received_at: datetime | None = None) -> FaultRecord:
    return FaultRecord(source=SNMP_TRAP, device_address=device, received_at=received_at or T0 + timedelta(seconds=n),
                       kind=kind, severity="major", text=f"fault {n}", details={"n": n})


class DatabaseDown(OperationalError):
    def __init__(self):
        super().__init__("INSERT INTO fault_record ...", {}, ConnectionError("connection refused"))


class FailingStore(FaultStore):
    """Fails the first `failures` writes (all of them while `broken` is set), like a database that is away."""

    def __init__(self, db: Database, *, failures: int = 0, broken: bool = False):
        super().__init__(db)
        self.failures = failures
        self.broken = broken
        self.calls = 0

    def record_many(self, faults: list[FaultRecord]) -> int:
        self.calls += 1
        if self.broken or self.calls <= self.failures:
            raise DatabaseDown()
        return super().record_many(faults)


class GatedStore(FaultStore):
    """Holds every write until the test opens the gate, like a database that is slow to answer."""

    def __init__(self, db: Database):
        super().__init__(db)
        self.writing = threading.Event()
        self.gate = threading.Event()

    def record_many(self, faults: list[FaultRecord]) -> int:
        self.writing.set()
        self.gate.wait(FLUSH_TIMEOUT)
        return super().record_many(faults)


# --- FaultStore -----------------------------------------------------------------------------------------------------

def test_every_field_round_trips(store):
    paris = timezone(timedelta(hours=2))
    complete = FaultRecord(
        source=SYSLOG, device_address="2001:db8::1", received_at=datetime(2024, 6, 15, 14, 0, 0, 123456, tzinfo=paris),
        kind="LINK-3-UPDOWN", severity="major", text="Interface GigabitEthernet0/1, changed state to down",
        device_time=datetime(2024, 6, 15, 11, 59, 58, 500000, tzinfo=timezone.utc), interface="GigabitEthernet0/1",
        interface_index=10101,
        details={"facility": 23, "syslog_severity": 3, "format": "rfc5424", "ratio": 0.5, "flag": True,
                 "missing": None,
                 "structured_data": {"origin": {"ip": ["192.0.2.1", "198.51.100.1"]},
                                     "meta": {"sequenceId": "7", "nested": {"deeper": [1, {"x": 2}]}}}},
    )
    sparse = FaultRecord(source=SNMP_TRAP, device_address="192.0.2.2", received_at=T0, kind="coldStart")

    assert store.record_many([complete, sparse]) == 2

    newest, oldest = store.recent()
    assert newest == complete  # 14:00:00.123456+02:00 is just after 12:00 UTC
    assert oldest == sparse
    for moment in (newest.received_at, newest.device_time, oldest.received_at):
        assert moment.utcoffset() == timedelta(0)
    assert newest.received_at == datetime(2024, 6, 15, 12, 0, 0, 123456, tzinfo=timezone.utc)
    assert oldest.device_time is None and oldest.interface is None and oldest.interface_index is None
    assert oldest.details == {} and oldest.text == "" and oldest.severity == "indeterminate"


def test_recent_is_newest_first_and_filters_by_device_kind_and_time(store):
    store.record_many([
        fault(1, device="192.0.2.1", kind="linkDown"),
        fault(2, device="192.0.2.2", kind="linkDown"),
        fault(3, device="192.0.2.1", kind="linkUp"),
        fault(4, device="192.0.2.2", kind="coldStart"),
        fault(5, device="192.0.2.1", kind="linkDown"),
    ])

    def numbers(records: list[FaultRecord]) -> list[int]:
        return [record.details["n"] for record in records]

    assert numbers(store.recent()) == [5, 4, 3, 2, 1]
    assert numbers(store.recent(limit=2)) == [5, 4]
    assert numbers(store.recent(device_address="192.0.2.1")) == [5, 3, 1]
    assert numbers(store.recent(kind="linkDown")) == [5, 2, 1]
    assert numbers(store.recent(device_address="192.0.2.1", kind="linkDown")) == [5, 1]
    assert numbers(store.recent(since=T0 + timedelta(seconds=3))) == [5, 4, 3]  # inclusive
    # The same instant in another zone selects the same rows.
    assert numbers(store.recent(since=datetime(2024, 6, 15, 7, 0, 3, tzinfo=timezone(timedelta(hours=-5))))) \
        == [5, 4, 3]
    assert numbers(store.recent(device_address="192.0.2.9")) == []

    assert store.count() == 5
    assert store.count(device_address="192.0.2.2") == 2
    assert store.count(kind="linkDown") == 3
    assert store.count(device_address="192.0.2.1", kind="linkDown", since=T0 + timedelta(seconds=2)) == 1


def test_faults_received_in_the_same_instant_list_in_reverse_write_order(store):
    store.record_many([fault(n, received_at=T0) for n in range(3)])
    store.record_many([fault(3, received_at=T0)])

    assert [record.details["n"] for record in store.recent()] == [3, 2, 1, 0]


def test_record_many_of_nothing_writes_nothing(store):
    assert store.record_many([]) == 0
    assert store.count() == 0


def test_thousands_of_faults_are_written_in_one_call(store):
    assert store.record_many([fault(n) for n in range(2500)]) == 2500
    assert store.count() == 2500


def test_what_devices_send_is_stored_even_where_a_database_would_refuse_it(store):
    awkward = FaultRecord(
        source=SNMP_TRAP, device_address="192.0.2.1", received_at=T0, kind="k" * 300, text="ifDescr\x00",
        interface="ge-0/0/1\x00", interface_index=2**40,
        details={"ifAlias": "uplink\x00", 7: "numbered key", "raw": b"\x00\xff", "list": ("a\x00", 1)},
    )

    store.record_many([awkward])

    [stored] = store.recent()
    assert stored.kind == "k" * 128
    assert stored.text == "ifDescr\ufffd"
    assert stored.interface == "ge-0/0/1\ufffd"
    assert stored.interface_index is None
    assert stored.details == {"ifAlias": "uplink\ufffd", "7": "numbered key", "raw": "00:ff", "list": ["a\ufffd", 1]}


def test_tabs_newlines_and_backslashes_survive_the_bulk_path(store):
    # PostgreSQL takes batches through COPY, whose text format gives these characters a meaning of their own.
    tricky = "tab\there\nnew line\r\\N back\\slash \\t"
    record = FaultRecord(source=SYSLOG, device_address="192.0.2.1", received_at=T0, kind="k", text=tricky,
                         interface=tricky, details={"message": tricky, tricky: [tricky]})

    store.record_many([record, record])

    stored = store.recent()
    assert len(stored) == 2
    assert all(s.text == tricky and s.interface == tricky[:128] for s in stored)
    assert stored[0].details == {"message": tricky, tricky: [tricky]}


# --- BufferedFaultSink ----------------------------------------------------------------------------------------------

def test_sink_writes_what_another_thread_sends_in_batches(store):
    sent = 10_000
    with BufferedFaultSink(store, max_batch=500) as sink:
        sender = threading.Thread(target=lambda: [sink(fault(n)) for n in range(sent)])
        sender.start()
        sender.join()

        assert sink.flush(FLUSH_TIMEOUT)
        assert (sink.written, sink.dropped_full, sink.dropped_errors) == (sent, 0, 0)

    assert store.count() == sent
    assert store.recent(limit=1)[0].details == {"n": sent - 1}


def test_flush_does_not_wait_out_the_batching_interval(store):
    with BufferedFaultSink(store, flush_interval=3600) as sink:
        sink(fault(1))
        assert sink.flush(FLUSH_TIMEOUT)
        assert sink.written == 1


def test_a_full_queue_drops_and_counts_instead_of_waiting(db):
    store = GatedStore(db)
    sink = BufferedFaultSink(store, max_batch=1, capacity=5)
    try:
        sink(fault(0))
        assert store.writing.wait(FLUSH_TIMEOUT)  # the writer holds record 0 and waits on the database

        for n in range(1, 9):
            sink(fault(n))  # returns at once: five are queued, three dropped
        assert (sink.pending, sink.dropped_full) == (5, 3)

        store.gate.set()
        assert sink.flush(FLUSH_TIMEOUT)
        assert (sink.written, sink.dropped_full, sink.dropped_errors) == (6, 3, 0)
        assert sorted(record.details["n"] for record in store.recent()) == [0, 1, 2, 3, 4, 5]
    finally:
        store.gate.set()
        sink.close()


def test_a_failing_write_is_retried_until_it_succeeds(db, caplog):
    store = FailingStore(db, failures=2)
    with BufferedFaultSink(store, attempts=4, retry_backoff=0.001) as sink:
        for n in range(3):
            sink(fault(n))
        assert sink.flush(FLUSH_TIMEOUT)

        assert (sink.written, sink.dropped_errors) == (3, 0)
        assert store.calls == 3
    assert store.count() == 3
    retries = [r for r in caplog.records if r.name == "tmf_oss.southbound.faults" and r.levelname == "WARNING"]
    assert len(retries) == 2
    assert "DatabaseDown" in retries[0].getMessage()


def test_a_write_that_keeps_failing_is_dropped_and_the_writer_carries_on(db, caplog):
    store = FailingStore(db, broken=True)
    with BufferedFaultSink(store, attempts=3, retry_backoff=0.001) as sink:
        for n in range(4):
            sink(fault(n))
        assert sink.flush(FLUSH_TIMEOUT)
        assert (sink.written, sink.dropped_errors) == (0, 4)
        assert any(r.levelname == "ERROR" and "dropping" in r.getMessage() for r in caplog.records)

        sink(fault(4))  # still accepted, and dropped likewise
        assert sink.flush(FLUSH_TIMEOUT)
        assert (sink.written, sink.dropped_errors) == (0, 5)

        store.broken = False  # the database is back
        sink(fault(5))
        assert sink.flush(FLUSH_TIMEOUT)
        assert (sink.written, sink.dropped_errors) == (1, 5)

    assert [record.details["n"] for record in store.recent()] == [5]


def test_a_closed_sink_refuses_records(store):
    sink = BufferedFaultSink(store)
    sink(fault(1))
    assert sink.close()
    assert store.count() == 1

    with pytest.raises(RuntimeError):
        sink(fault(2))

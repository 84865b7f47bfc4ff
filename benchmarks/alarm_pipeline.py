#!/usr/bin/env python3
"""Fault records to alarms: sustained records per second, and the delay from receipt to alarm visible in the API.

What runs is what `tmf-oss receive` runs behind its sockets: the BufferedFaultSink, whose writer thread stores
batches of fault records, and the fault engine's consumer, which reads them back in order and applies them
(rules, object resolution against the inventory, deduplication, correlation, alarm rows, outbox events) with its
progress in the same transaction. Datagram decoding is measured separately by trap_ingestion.py.

1. recreates a benchmark database and fills the inventory with --devices discovered routers of --ports ports each,
   every port cabled to a port of the next router (so correlation has topology to walk);
2. offers fault records at --rate per second for --seconds: a share --new (default 10 %) are link failures not
   seen before, the rest repeat a random alarm raised earlier in the run (the worst case for coalescing: repeats
   spread over every alarm, not a few hot ones);
3. prints records/s offered and applied, records dropped (queue full), alarms created, and the delay from receipt
   to commit — when the alarm change is visible to every API read, which goes to the database — as p50/p99/max;
   then the same for a first run at a low baseline rate, for comparison on this machine.

    python benchmarks/alarm_pipeline.py                      # PostgreSQL, 5,000 records/s for 30 s
    python benchmarks/alarm_pipeline.py --rate 8000 --seconds 20
    python benchmarks/alarm_pipeline.py --database-url sqlite:////tmp/bench-alarms.db
"""
from __future__ import annotations

import argparse
import random
import threading
import time
from datetime import datetime, timezone

from common import backend_cpu, drop_database, machine_cpu, recreate_database  # benchmarks/common.py

DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/tmf_oss_bench_alarms"


def build_inventory(platform, devices: int, ports: int) -> None:
    from tmf_oss.inventory.model import DiscoveredResource

    resources = platform.collection("tmf639", "resource")
    previous_ports: list[str] = []
    for device in range(devices):
        address = device_address(device)
        port_docs = []
        for port in range(ports):
            doc = {"@type": "LogicalResource", "name": f"r{device}/ge{port}", "category": "interface",
                   "resourceCharacteristic": [{"@type": "IntegerCharacteristic", "name": "ifIndex",
                                               "value": port + 1}]}
            if previous_ports:  # cabled to the same port of the previous router
                doc["resourceRelationship"] = [{"@type": "ResourceRelationship", "relationshipType": "connectedTo",
                                                "resource": {"@type": "ResourceRef", "id": previous_ports[port]}}]
            port_docs.append(doc)
        created = resources.create_many("v5", port_docs, base_url="http://bench", correlation_id=None)
        port_ids = [body["id"] for body, _ in created]
        (device_body, _), = resources.create_many("v5", [{
            "@type": "PhysicalResource", "name": f"r{device}", "resourceRelationship": [
                {"@type": "ResourceRelationship", "relationshipType": "contains",
                 "resource": {"@type": "ResourceRef", "id": ident}} for ident in port_ids]}],
            base_url="http://bench", correlation_id=None)
        with platform.db.transaction() as session:
            session.add(DiscoveredResource(key=f"device:{address}", device_key=f"device:{address}",
                                           resource_id=device_body["id"], present=True))
            session.add_all(DiscoveredResource(key=f"device:{address}/interface:r{device}-ge{port}",
                                               device_key=f"device:{address}", resource_id=ident, present=True)
                            for port, ident in enumerate(port_ids))
        previous_ports = port_ids


def device_address(device: int) -> str:
    return f"10.{device // 62500}.{device // 250 % 250}.{device % 250 + 1}"


class Measured:
    """Wraps the consumer's batches: each record timed from receipt to the commit of the batch that applied it."""

    def __init__(self, consumer):
        self.consumer = consumer
        self.apply = consumer.engine.apply
        self.delays: list[float] = []
        self.applied = 0
        self.batches = 0
        self.busy = 0.0  # seconds spent in batches that applied records
        self._batch: list = []
        consumer.engine.apply = self._apply
        self._run_once = type(consumer).run_once.__get__(consumer)

    def _apply(self, session, faults):
        self._batch = faults
        return self.apply(session, faults)

    def run_once(self) -> int:
        self._batch = []
        started = time.perf_counter()
        applied = self._run_once()  # commits before it returns
        if applied:
            self.batches += 1
            self.busy += time.perf_counter() - started
        now = datetime.now(timezone.utc)
        self.delays.extend((now - fault.received_at).total_seconds() for fault in self._batch)
        self.applied += applied
        return applied


def percentile(ordered: list[float], share: float) -> float:
    return ordered[max(0, int(len(ordered) * share) - 1)] * 1000 if ordered else 0.0


def run(platform, settings, *, rate: int, seconds: float, new_share: float, devices: range, ports: int,
        seed: int, batch: int) -> dict:
    from tmf_oss.alarms.consumer import FaultConsumer
    from tmf_oss.alarms.engine import fault_engine
    from tmf_oss.southbound.fault_store import BufferedFaultSink, FaultStore
    from tmf_oss.southbound.faults import SNMP_TRAP, FaultRecord

    engine = fault_engine(platform, settings)
    consumer = FaultConsumer(platform.db, engine, batch=batch)
    measured = Measured(consumer)
    consumer.run_once = measured.run_once  # type: ignore[method-assign]
    consumer.start()
    sink = BufferedFaultSink(FaultStore(platform.db), max_batch=batch)
    randomized = random.Random(seed)
    cpu_before = (time.process_time(), backend_cpu(platform.db), machine_cpu())
    unseen = [(d, p) for d in devices for p in range(ports)]
    randomized.shuffle(unseen)
    raised: list[tuple[int, int]] = []
    offered = 0
    tick = 0.01
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        due = int(elapsed * rate) - offered
        for _ in range(due):
            if not raised or (randomized.random() < new_share and unseen):
                fault = unseen.pop()
                raised.append(fault)
            else:
                fault = raised[randomized.randrange(len(raised))]
            device, port = fault
            sink(FaultRecord(source=SNMP_TRAP, device_address=device_address(device),
                             received_at=datetime.now(timezone.utc), kind="linkDown", severity="major",
                             interface_index=port + 1, text="linkDown"))
            offered += 1
        time.sleep(tick)
    offered_for = time.monotonic() - started
    applied_while_offered = measured.applied
    batches_while_offered, busy_while_offered = measured.batches, measured.busy
    sink.flush()
    while measured.applied < offered and time.monotonic() - started < seconds * 10:
        time.sleep(0.05)
    drained_for = time.monotonic() - started
    sink.close()
    consumer.close()
    # CPU of the whole run (offer and drain): this process (producer, writer, engine), PostgreSQL, other work.
    python_cpu = time.process_time() - cpu_before[0]
    database_cpu = backend_cpu(platform.db) - cpu_before[1]
    busy, total = (after - before for after, before in zip(machine_cpu(), cpu_before[2]))
    other_share = max(0.0, busy - python_cpu - database_cpu) / max(total, 1e-9)
    # Delays in receipt order: if the engine keeps up, the second half waits no longer than the first.
    halves = [sorted(part) for part in (measured.delays[:len(measured.delays) // 2],
                                        measured.delays[len(measured.delays) // 2:])]
    delays = sorted(measured.delays)
    return {
        "offered": offered, "offered_per_s": offered / offered_for, "applied": measured.applied,
        "applied_per_s": applied_while_offered / offered_for, "backlog": offered - applied_while_offered,
        "dropped": sink.dropped_full + sink.dropped_errors, "drain_s": drained_for - offered_for,
        "alarms": len(raised), "p50_ms": percentile(delays, 0.5), "p99_ms": percentile(delays, 0.99),
        "max_ms": delays[-1] * 1000 if delays else 0.0,
        "p99_first_half_ms": percentile(halves[0], 0.99), "p99_second_half_ms": percentile(halves[1], 0.99),
        "python_us": python_cpu / max(offered, 1) * 1e6, "database_us": database_cpu / max(offered, 1) * 1e6,
        "other_share": other_share, "batches": batches_while_offered,
        "batch_mean": applied_while_offered / max(batches_while_offered, 1),
        "engine_busy": busy_while_offered / offered_for,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--rate", type=int, default=5000, help="fault records offered per second")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--baseline-rate", type=int, default=500)
    parser.add_argument("--new", type=float, default=0.10, help="share of records that are new faults")
    parser.add_argument("--devices", type=int, default=None,
                        help="routers in the inventory (default: enough that new faults never run out)")
    parser.add_argument("--ports", type=int, default=48)
    parser.add_argument("--batch", type=int, default=5000,
                        help="fault records per transaction at most (the receivers' default)")
    parser.add_argument("--keep-database", action="store_true")
    options = parser.parse_args(argv)

    from tmf_oss.config import Settings
    from tmf_oss.db.migrate import upgrade
    from tmf_oss.platform import Platform

    if options.devices is None:  # each run gets half; new faults must not run out within it
        needed = max(options.rate * options.seconds, options.baseline_rate * 10) * options.new * 1.2
        options.devices = 2 * max(1, int(needed // options.ports) + 1)
    recreate_database(options.database_url)
    upgrade(options.database_url)
    settings = Settings(database_url=options.database_url)
    platform = Platform(settings)
    started = time.monotonic()
    build_inventory(platform, options.devices, options.ports)
    print(f"inventory: {options.devices} routers x {options.ports} ports, cabled in a chain "
          f"({time.monotonic() - started:.0f} s to build)")
    # The baseline and the measured run use different devices, so the second starts with no alarms raised.
    half = options.devices // 2
    try:
        for label, rate, seconds, devices in (
                ("baseline", options.baseline_rate, min(10.0, options.seconds), range(half)),
                ("measured", options.rate, options.seconds, range(half, options.devices))):
            figures = run(platform, settings, rate=rate, seconds=seconds, new_share=options.new,
                          devices=devices, ports=options.ports, seed=devices.start, batch=options.batch)
            print(f"{label:9s} offered {figures['offered_per_s']:7.0f} records/s, applied "
                  f"{figures['applied_per_s']:7.0f}/s meanwhile ({figures['applied']} records in all, "
                  f"{figures['dropped']} dropped, {figures['alarms']} alarms raised; {figures['backlog']} queued "
                  f"when the offer stopped, drained in {figures['drain_s']:.1f} s)")
            print(f"{'':9s} receipt -> alarm committed (visible to the API): p50 {figures['p50_ms']:.0f} ms, "
                  f"p99 {figures['p99_ms']:.0f} ms, max {figures['max_ms']:.0f} ms; p99 first half "
                  f"{figures['p99_first_half_ms']:.0f} ms, second half {figures['p99_second_half_ms']:.0f} ms")
            print(f"{'':9s} CPU per record: {figures['python_us']:.0f} µs in this process (producer, writer, engine), "
                  f"{figures['database_us']:.0f} µs in PostgreSQL; other work took {figures['other_share']:.0%} of "
                  f"the CPUs meanwhile")
            print(f"{'':9s} while offered: {figures['batches']} batches of {figures['batch_mean']:.0f} records on "
                  f"average; the engine was applying records {figures['engine_busy']:.0%} of the time")
            threading.Event().wait(1)
    finally:
        platform.close()
        if not options.keep_database:
            drop_database(options.database_url)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Discovery rate: devices per second discovered over SNMP and reconciled into the inventory.

1. writes one snmpsim data file per simulated device (system group, ifTable/ifXTable with --interfaces
   interfaces, ENTITY-MIB chassis and ports), each answering on its own loopback address 127.0.2.N (UDP 1161)
   with its own community, and starts snmpsim (one process, pure Python);
2. recreates a benchmark database and runs the real discovery (`discover_and_sync`: SnmpAdapter + the
   reconciliation through the resource collection, events included) over all devices, three passes:
   *first* (everything created), *again* (nothing changed: reads only), *changed* (every device reports one
   interface down: one update each);
3. prints devices/s and resources/s per pass, and the SNMP-only rate (discovery without reconciliation).

    python benchmarks/discovery_rate.py                 # 200 devices x 24 interfaces, PostgreSQL
    python benchmarks/discovery_rate.py --devices 50 --database-url sqlite:////tmp/bench.db

Needs `pip install snmpsim` (PyPI). snmpsim answers a few hundred requests per second from one process, so
the SNMP side of these figures is bounded by the simulator as much as by the adapter.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import time

from common import drop_database, recreate_database  # benchmarks/common.py

DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/tmf_oss_bench_discovery"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--interfaces", type=int, default=24)
    parser.add_argument("--concurrency", type=int, default=32, help="SNMP requests in flight")
    parser.add_argument("--simulators", type=int, default=2, help="snmpsim processes sharing the devices")
    parser.add_argument("--keep-database", action="store_true")
    options = parser.parse_args(argv)

    from tmf_oss.config import Settings
    from tmf_oss.db.migrate import upgrade
    from tmf_oss.inventory.discovery import discover_and_sync
    from tmf_oss.platform import Platform
    from tmf_oss.southbound.devices import parse_devices
    from tmf_oss.southbound.simulation import SimulatedNetwork
    from tmf_oss.southbound.snmp import SnmpAdapter

    network = SimulatedNetwork(options.devices, options.interfaces, processes=options.simulators).start()
    recreate_database(options.database_url)
    upgrade(options.database_url)
    platform = Platform(Settings(database_url=options.database_url))
    devices = parse_devices(network.devices_document())
    results = []
    try:

        async def snmp_only():
            adapter = SnmpAdapter(max_concurrency=options.concurrency)
            try:
                return await asyncio.gather(*(adapter.discover(d.target) for d in devices), return_exceptions=True)
            finally:
                adapter.close()

        started = time.perf_counter()
        found = asyncio.run(snmp_only())
        failures = [f for f in found if isinstance(f, BaseException)]
        results.append(("SNMP only", time.perf_counter() - started, len(devices) - len(failures), 0))
        for label in ("first", "again", "changed"):
            if label == "changed":  # every device now reports its interface 2 down
                network.report_down({2})
            started = time.perf_counter()
            outcomes = discover_and_sync(platform, devices, base_url="http://127.0.0.1:8080",
                                         max_concurrency=options.concurrency)
            elapsed = time.perf_counter() - started
            ok = [o for o in outcomes if o.error is None]
            written = sum(len(o.report.created) + len(o.report.updated) for o in ok)
            results.append((label, elapsed, len(ok), written))
    finally:
        network.stop()
        platform.close()
        if not options.keep_database:
            drop_database(options.database_url)
    print()
    print(f"discovery of {options.devices} simulated devices x {options.interfaces} interfaces (snmpsim), "
          f"{Platform.__module__.split('.')[0]} on {options.database_url.split(':')[0]}, {os.cpu_count()} cores")
    print(f"{'pass':10} {'seconds':>8} {'devices ok':>11} {'devices/s':>10} {'resources written':>18}")
    for label, elapsed, ok, written in results:
        print(f"{label:10} {elapsed:>8.1f} {ok:>11} {ok / elapsed:>10.1f} {written:>18}")


if __name__ == "__main__":
    main()

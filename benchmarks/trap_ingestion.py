#!/usr/bin/env python3
"""Trap ingestion: SNMP traps per second received and recorded in the fault store.

1. recreates a benchmark database and starts `tmf-oss receive` (its own process) on a free loopback UDP port;
2. S sender processes each send their share of N SNMPv2c linkDown traps (real BER-encoded datagrams with
   ifIndex/ifAdminStatus/ifOperStatus, a different ifIndex each), at --rate traps/s in all (0 = as fast as they
   can), from loopback;
3. polls the fault_record table until every trap is recorded or nothing more arrives for 5 s, and prints sent,
   recorded, lost (UDP datagrams the kernel dropped under load, or records the receiver could not keep), and the
   recording rate: recorded traps / time from the first send to the last record.

    python benchmarks/trap_ingestion.py                     # PostgreSQL, 50,000 traps at 5,000/s
    python benchmarks/trap_ingestion.py --rate 0            # as fast as two senders go
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from common import drop_database, recreate_database  # benchmarks/common.py

DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/tmf_oss_bench_traps"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def link_down_trap(if_index: int, uptime: int) -> bytes:
    from pyasn1.codec.ber import encoder
    from pysnmp.proto import api
    from pysnmp.proto.rfc1902 import Integer, ObjectName, TimeTicks

    module = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    pdu = module.SNMPv2TrapPDU()
    module.apiTrapPDU.set_defaults(pdu)
    module.apiTrapPDU.set_varbinds(pdu, [
        (ObjectName("1.3.6.1.2.1.1.3.0"), TimeTicks(uptime)),
        (ObjectName("1.3.6.1.6.3.1.1.4.1.0"), ObjectName("1.3.6.1.6.3.1.1.5.3")),
        (ObjectName(f"1.3.6.1.2.1.2.2.1.1.{if_index}"), Integer(if_index)),
        (ObjectName(f"1.3.6.1.2.1.2.2.1.7.{if_index}"), Integer(1)),
        (ObjectName(f"1.3.6.1.2.1.2.2.1.8.{if_index}"), Integer(2)),
    ])
    message = module.Message()
    module.apiMessage.set_defaults(message)
    module.apiMessage.set_community(message, "public")
    module.apiMessage.set_pdu(message, pdu)
    return encoder.encode(message)


def send(port: int, first: int, count: int, rate: float | None, sources: int, ready, go) -> None:
    datagrams = [link_down_trap(1 + (first + n) % 100_000, 100 * n) for n in range(count)]
    # Several sockets stand for several devices: receivers sharing a port get senders spread over them.
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(sources)]
    ready.release()
    go.wait()  # every sender has its datagrams encoded before the clock starts
    started = time.monotonic()
    for n, datagram in enumerate(datagrams):
        if rate:
            pause = started + n / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        sockets[n % sources].sendto(datagram, ("127.0.0.1", port))
    for sock in sockets:
        sock.close()


def recorded(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM fault_record")).scalar()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--traps", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=5000.0, help="traps/s from all senders; 0 = unpaced")
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--sources", type=int, default=16, help="source sockets (devices) per sender")
    parser.add_argument("--processes", type=int, default=1, help="`tmf-oss receive --processes`")
    parser.add_argument("--keep-database", action="store_true")
    options = parser.parse_args(argv)

    from tmf_oss.db.migrate import upgrade

    recreate_database(options.database_url)
    upgrade(options.database_url)
    engine = create_engine(options.database_url, poolclass=NullPool)
    port = free_udp_port()
    workdir = Path(tempfile.mkdtemp(prefix="tmf-oss-traps-"))
    log = open(workdir / "receive.log", "wb")  # noqa: SIM115 - closed below
    receiver = subprocess.Popen(
        [sys.executable, "-m", "tmf_oss.cli", "receive", "--trap-port", str(port), "--syslog-port", "0",
         "--processes", str(options.processes)],
        env={**os.environ, "TMF_OSS_DATABASE_URL": options.database_url, "TMF_OSS_LOG_LEVEL": "error"},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        time.sleep(3)  # imports and socket
        share = options.traps // options.senders
        per_sender_rate = options.rate / options.senders if options.rate else None
        context = multiprocessing.get_context("spawn")
        ready, go = context.Semaphore(0), context.Event()
        senders = [context.Process(target=send, args=(port, index * share, share, per_sender_rate, options.sources,
                                                      ready, go))
                   for index in range(options.senders)]
        for sender in senders:
            sender.start()
        for _ in senders:
            ready.acquire()
        started = time.monotonic()
        go.set()
        for sender in senders:
            sender.join()
        sent_seconds = time.monotonic() - started
        total = share * options.senders
        last_count, last_change = 0, time.monotonic()
        while True:
            count = recorded(engine)
            if count != last_count:
                last_count, last_change = count, time.monotonic()
            if count >= total or time.monotonic() - last_change > 5:
                break
            time.sleep(0.1)
        elapsed = last_change - started
    finally:
        os.killpg(receiver.pid, signal.SIGTERM)
        receiver.wait(timeout=30)
        log.close()
        engine.dispose()
        if not options.keep_database:
            drop_database(options.database_url)
    print()
    print(f"trap ingestion into {engine.dialect.name}, {options.processes} receiving process(es), "
          f"{options.senders} senders x {options.sources} sources, rate asked "
          f"{'unpaced' if not options.rate else f'{options.rate:.0f}/s'}, {os.cpu_count()} cores")
    print(f"sent {total} in {sent_seconds:.1f} s ({total / sent_seconds:.0f}/s); recorded {last_count} "
          f"({total - last_count} lost); recording rate {last_count / elapsed:.0f} traps/s")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""End-to-end event delivery: change committed -> event received by a hub's listener.

1. recreates a benchmark database, starts L listeners on loopback (benchmarks/event_listener.py) and registers
   one hub per listener;
2. starts the production dispatcher (`tmf-oss worker`, as a separate process);
3. **live**: P producer processes make real changes through the TMF639 collection service (the same code as
   POST /resource: validation, typed columns, counts, events in the same transaction; --batch changes per
   transaction, as a discovery run commits a device's interfaces) at --rate for D seconds; every delivery's
   delay is its arrival time at the listener minus the moment the producer's commit returned;
4. **backlog**: with the worker stopped, the producers commit a backlog; the worker is started and the time
   from its first delivery to its last gives the dispatcher's drain rate, free of the write path's cost;
5. both run twice: *fanout* (every hub selects every event: deliveries = events x L) and *spread* (hub i's
   query selects the events of group i: each event goes to one listener; the dispatcher still reads every
   event for every hub and applies the query).

Everything it starts is stopped by process group on exit; the database is dropped unless --keep-database.

    python benchmarks/event_delivery.py                 # PostgreSQL, 10 listeners, 10 s live, 20,000 backlog
    python benchmarks/event_delivery.py --batch 1       # one change per transaction, as POST /resource does
    python benchmarks/event_delivery.py --quick
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import make_url

from common import drop_database, free_port, recreate_database  # benchmarks/common.py

HERE = Path(__file__).resolve().parent
DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/tmf_oss_bench_events"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Processes:
    """Child processes in their own process groups, stopped together whatever happens."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        log_file = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        process = subprocess.Popen(argv, env={**os.environ, **(env or {})}, stdout=log_file,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.running[name] = process
        return process

    def stop(self, name: str) -> None:
        process = self.running.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


# --- producers ------------------------------------------------------------------------------------------

def produce(database_url: str, prefix: str, groups: int, duration: float | None, count: int | None,
            rate: float | None, batch: int, results) -> None:
    """One producer process: real creates through the collection service, `batch` per transaction, paced to
    `rate` changes per second when given; reports (name, commit time) for each."""
    from tmf_oss.config import Settings
    from tmf_oss.platform import Platform

    platform = Platform(Settings(database_url=database_url, run_dispatcher=False))
    collection = platform.collection("tmf639", "resource")
    committed = []
    started = time.monotonic()
    deadline = started + duration if duration else None
    index = 0
    while (deadline is None or time.monotonic() < deadline) and (count is None or index < count):
        if rate:
            pause = started + index / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        names = [f"{prefix}{index + offset:07}" for offset in range(batch)]
        collection.create_many("v5", [{"@type": "LogicalResource", "name": name, "operationalState": "enabled",
                                       "description": f"group-{(index + offset) % groups}"}
                                      for offset, name in enumerate(names)],
                               base_url="http://127.0.0.1:8080", correlation_id=None)
        moment = time.time()
        committed.extend((name, moment) for name in names)
        index += batch
    platform.close()
    results.put(committed)


def run_producers(database_url: str, producers: int, groups: int, *, duration: float | None = None,
                  count: int | None = None, rate: float | None = None, batch: int = 1,
                  tag: str) -> list[tuple[str, float]]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    per_producer = None if count is None else -(-count // producers)
    per_rate = rate / producers if rate else None
    workers = [context.Process(target=produce, args=(database_url, f"{tag}{p}-", groups, duration, per_producer,
                                                     per_rate, batch, results)) for p in range(producers)]
    for worker in workers:
        worker.start()
    committed = []
    for _ in workers:
        committed.extend(results.get())
    for worker in workers:
        worker.join()
    return committed


# --- measuring ------------------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_count(listener: str, expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        count = httpx.get(f"{listener}/count", timeout=10).json()["count"]
        if count >= expected:
            return count
        time.sleep(0.1)
    return count


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def register_hubs(database_url: str, ports: list[int], mode: str) -> None:
    from tmf_oss.db.engine import Database
    from tmf_oss.events.subscriptions import Subscriptions

    database = Database(database_url)
    subscriptions = Subscriptions(database, allow_private=True)
    for index, port in enumerate(ports):
        query = f"event.resource.description=group-{index}" if mode == "spread" else None
        subscriptions.register("tmf639", "v5", f"http://127.0.0.1:{port}/client", query)
    database.dispose()


def scenario(options, processes: Processes, mode: str) -> dict:
    from tmf_oss.db.migrate import upgrade

    recreate_database(options.database_url)
    upgrade(options.database_url)
    ports = [free_port() for _ in range(options.listeners)]
    processes.start("listeners", [sys.executable, str(HERE / "event_listener.py"),
                                  "--ports", ",".join(map(str, ports))])
    listener = f"http://127.0.0.1:{ports[0]}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{listener}/count", timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise SystemExit("the listeners did not start")
            time.sleep(0.1)
    register_hubs(options.database_url, ports, mode)
    worker_env = {"TMF_OSS_DATABASE_URL": options.database_url, "TMF_OSS_LOG_LEVEL": "warning",
                  "TMF_OSS_DELIVERY_CONCURRENCY": str(options.concurrency)}
    fan = options.listeners if mode == "fanout" else 1

    def start_workers() -> None:
        for number in range(options.workers):
            processes.start(f"worker{number}", [sys.executable, "-m", "tmf_oss.cli", "worker"], worker_env)

    def workers_cpu() -> float:
        return sum(cpu_seconds(processes.running[f"worker{number}"].pid) for number in range(options.workers))

    def stop_workers() -> None:
        for number in range(options.workers):
            processes.stop(f"worker{number}")

    # Live: changes and deliveries at the same time.
    start_workers()
    time.sleep(3)  # the worker imports and connects before the clock starts
    rate = options.rate if mode == "fanout" else options.rate * options.listeners
    log(f"{mode}: live for {options.duration:.0f} s, {options.producers} producers asked for {rate:.0f} changes/s")
    started = time.time()
    cpu_before = workers_cpu()
    committed = run_producers(options.database_url, options.producers, options.listeners,
                              duration=options.duration, rate=rate or None, batch=options.batch, tag="live")
    finished = max(moment for _, moment in committed)
    expected = len(committed) * fan
    got = wait_for_count(listener, expected, timeout=300)
    live_cpu = workers_cpu() - cpu_before
    arrivals = httpx.get(f"{listener}/results", timeout=60).json()
    commit_time = dict(committed)
    delays = [arrived - commit_time[name] for _, name, arrived in arrivals]
    last_arrival = max(arrived for *_, arrived in arrivals)
    live = {
        "events": len(committed), "events_per_s": len(committed) / (finished - started),
        "deliveries": got, "expected": expected,
        "deliveries_per_s": got / (last_arrival - started),
        "delay_p50_ms": 1000 * statistics.median(delays), "delay_p99_ms": 1000 * percentile(delays, 0.99),
        "delay_max_ms": 1000 * max(delays),
        "worker_cpu_ms_per_delivery": 1000 * live_cpu / max(got, 1),
    }
    # Backlog: the dispatcher's own pace, without the write path competing for the cores.
    stop_workers()
    log(f"{mode}: committing a backlog of {options.backlog} events")
    backlog = run_producers(options.database_url, options.producers, options.listeners, count=options.backlog,
                            batch=max(options.batch, 50), tag="backlog")
    expected = len(backlog) * fan
    log(f"{mode}: draining {expected} deliveries")
    start_workers()
    time.sleep(0.5)
    cpu_before = workers_cpu()  # after the imports, roughly
    got = wait_for_count(listener, expected, timeout=600)
    drain_cpu = workers_cpu() - cpu_before
    arrivals = httpx.get(f"{listener}/results", timeout=60).json()
    moments = sorted(arrived for *_, arrived in arrivals)
    stop_workers()
    processes.stop("listeners")
    drained = {"events": len(backlog), "deliveries": got, "expected": expected,
               "deliveries_per_s": (len(moments) - 1) / (moments[-1] - moments[0]),
               "events_per_s": (len(moments) - 1) / (moments[-1] - moments[0]) / fan,
               "worker_cpu_ms_per_delivery": 1000 * drain_cpu / max(got, 1)}
    return {"mode": mode, "live": live, "backlog": drained}


def print_report(results: list[dict], options) -> None:
    print()
    print(f"event delivery, {options.listeners} listeners, live rate asked {options.rate:.0f}/s in transactions of "
          f"{options.batch}, {options.workers} worker(s) x "
          f"{options.concurrency} concurrent subscriptions, {options.producers} producers, "
          f"{make_url(options.database_url).get_backend_name()}, {os.cpu_count()} cores")
    print(f"{'scenario':16} {'events':>8} {'events/s':>9} {'deliveries':>11} {'deliv/s':>9} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'cpu/deliv':>10}")
    for result in results:
        live, drained = result["live"], result["backlog"]
        print(f"{result['mode'] + ' live':16} {live['events']:>8} {live['events_per_s']:>9.0f} "
              f"{live['deliveries']:>5}/{live['expected']:<5} {live['deliveries_per_s']:>9.0f} "
              f"{live['delay_p50_ms']:>8.1f} {live['delay_p99_ms']:>8.1f} {live['delay_max_ms']:>8.1f} "
              f"{live['worker_cpu_ms_per_delivery']:>8.3f}ms")
        print(f"{result['mode'] + ' backlog':16} {drained['events']:>8} {drained['events_per_s']:>9.0f} "
              f"{drained['deliveries']:>5}/{drained['expected']:<5} {drained['deliveries_per_s']:>9.0f} "
              f"{'':>8} {'':>8} {'':>8} {drained['worker_cpu_ms_per_delivery']:>8.3f}ms")
    print("live events/s: changes committed per second by the producers (the write path's pace);")
    print("backlog events/s: events the dispatcher delivered per second (to every listener that selects them).")
    print("cpu/deliv: CPU time of the worker process(es) per delivery made.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--listeners", type=int, default=10)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of live changes")
    parser.add_argument("--backlog", type=int, default=20000, help="events committed for the drain phase")
    parser.add_argument("--producers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=20,
                        help="changes per transaction in the live phase (Collection.create_many), as a discovery "
                             "run or a burst of faults commits them")
    parser.add_argument("--rate", type=float, default=200.0,
                        help="changes/s asked of the producers in the fanout live phase (x listeners in spread, so "
                             "both ask for the same deliveries/s); 0 = as fast as they go")
    parser.add_argument("--workers", type=int, default=1, help="`tmf-oss worker` processes")
    parser.add_argument("--concurrency", type=int, default=16, help="TMF_OSS_DELIVERY_CONCURRENCY per worker")
    parser.add_argument("--mode", choices=["fanout", "spread", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="5 s live, 5,000 backlog")
    parser.add_argument("--keep-database", action="store_true")
    options = parser.parse_args(argv)
    if options.quick:
        options.duration, options.backlog = 5.0, 5000
    modes = ["fanout", "spread"] if options.mode == "both" else [options.mode]
    results = []
    with tempfile.TemporaryDirectory(prefix="tmf-oss-events-") as workdir:
        processes = Processes(Path(workdir))
        try:
            for mode in modes:
                results.append(scenario(options, processes, mode))
        finally:
            processes.stop_all()
            if not options.keep_database:
                drop_database(options.database_url)
    print_report(results, options)


if __name__ == "__main__":
    main()

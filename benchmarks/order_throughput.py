#!/usr/bin/env python3
"""Service orders delivered on a network of emulated routers: orders per second end to end, and pickup delay.

The network is the device lab (scripts/lab, needs root): --devices routers in network namespaces on loopback, each
with a real NETCONF server (yuma123 netconfd behind OpenSSH) serving our services YANG module. The inventory
comes from `tmf-oss discover`; the catalog is the shipped one. Orders are POSTed to the TMF641 API of a `tmf-oss serve` process,
as a BSS would send them; the orchestrator runs in --workers processes of its own, as `tmf-oss worker` runs it.

Every order is a `vlan-service` between the two ends of one of the lab's links (routers i and i+1), each with
its own VLAN id, so every order changes two devices (lock, snapshot, edit, commit, unlock on each).

1. baseline: --baseline orders one after the other (each created once the previous completed);
2. load: orders offered at --rate per second for --seconds;
3. prints, for each: orders completed per second, pickup delay (orderDate -> startDate: created to inProgress)
   and end-to-end time (orderDate -> completionDate) as p50/p99/max, and orders not completed.

    sudo python benchmarks/order_throughput.py                    # PostgreSQL, 6 routers, 50 orders/s for 20 s
    sudo python benchmarks/order_throughput.py --rate 20 --devices 4
    sudo python benchmarks/order_throughput.py --database-url sqlite:////tmp/bench-orders.db
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx
from common import drop_database, free_port, recreate_database  # benchmarks/common.py

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/tmf_oss_bench_orders"
LAB_PREFIX = "127.77.9"
LAB_NAMESPACE = "tmfoss-bench-d"


class Lab:
    def __init__(self, devices: int, directory: Path):
        self.devices = devices
        self.directory = directory
        self.env = {**os.environ, "LAB_DIR": str(directory), "LAB_PREFIX": LAB_PREFIX,
                    "LAB_NAMESPACE": LAB_NAMESPACE, "LAB_TRAP_DEST": "127.0.0.1:9"}
        self.addresses = [f"{LAB_PREFIX}.{n}" for n in range(1, devices + 1)]

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(REPO / "scripts" / "lab"), *args], env=self.env, capture_output=True, text=True,
                              timeout=300)

    def up(self) -> None:
        check = self.run("can-run")
        if check.returncode != 0:
            raise SystemExit(f"the device lab cannot run here: {check.stdout.strip() or check.stderr.strip()}")
        started = self.run("up", str(self.devices))
        if started.returncode != 0:
            self.run("down")
            raise SystemExit(f"the device lab did not start: {started.stderr[-2000:]}")

    def down(self) -> None:
        self.run("down")

    def devices_file(self) -> Path:
        path = self.directory / "devices.yaml"
        key = self.directory / "ssh" / "client_key"
        path.write_text(f'defaults:\n  netconf: {{user: root, key_file: "{key}"}}\ndevices:\n'
                        + "".join(f"  - address: {address}\n" for address in self.addresses))
        return path


def discover(devices_file: Path, database_url: str) -> None:
    found = subprocess.run([sys.executable, "-m", "tmf_oss.cli", "discover", "--devices", str(devices_file),
                            "--database-url", database_url, "--json"], capture_output=True, text=True, timeout=300)
    errors = [outcome["error"] for outcome in json.loads(found.stdout or "[]") if outcome["error"]]
    if found.returncode != 0 or errors:
        raise SystemExit(f"discovery failed: {errors or found.stderr[-2000:]}")


def links(platform, lab: Lab) -> list[tuple[str, str]]:
    """(port on router i, port on router i+1) for every cable of the lab's chain, as TMF639 ids."""
    from tmf_oss.inventory.model import DiscoveredResource

    with platform.db.reading() as session:
        def port(device: int, name: str) -> str:
            return session.get(DiscoveredResource,
                               f"device:{lab.addresses[device - 1]}/interface:d{device}-{name}").resource_id

        return [(port(n, "ge1"), port(n + 1, "ge0")) for n in range(1, lab.devices)]


class Orders:
    """Orders sent as a BSS sends them: POST to the API of a `tmf-oss serve` process."""

    def __init__(self, platform, pairs: list[tuple[str, str]], base_url: str):
        self.db = platform.db
        self.pairs = pairs
        self.url = f"{base_url}/tmf-api/serviceOrdering/v4/serviceOrder"
        self.next_vlan = 1
        self.lock = threading.Lock()
        self.local = threading.local()

    def submit(self) -> str:
        with self.lock:
            vlan = self.next_vlan
            self.next_vlan += 1
        near, far = self.pairs[vlan % len(self.pairs)]
        body = {"serviceOrderItem": [{"id": "1", "action": "add", "service": {
            "serviceSpecification": {"id": "vlan-service"},
            "serviceCharacteristic": [{"name": "vlanId", "value": 1 + vlan // len(self.pairs)}],
            "supportingResource": [{"id": near}, {"id": far}]}}]}
        client = getattr(self.local, "client", None)
        if client is None:
            client = self.local.client = httpx.Client(timeout=30)
        response = client.post(self.url, json=body)
        if response.status_code != 201:
            raise SystemExit(f"order refused: {response.status_code} {response.text}")
        return response.json()["id"]

    def timings(self, idents: list[str]) -> list[dict]:
        from sqlalchemy import select

        from tmf_oss.ordering.model import ServiceOrderRow

        with self.db.reading() as session:
            return [doc for (doc,) in session.execute(select(ServiceOrderRow.doc)
                                                      .where(ServiceOrderRow.id.in_(idents)))]


class Server:
    """`tmf-oss serve` on loopback, answering the API only (no orchestrator, no event delivery)."""

    def __init__(self, database_url: str, workers: int):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "TMF_OSS_DATABASE_URL": database_url, "TMF_OSS_PORT": str(self.port),
               "TMF_OSS_RUN_ORCHESTRATOR": "false", "TMF_OSS_RUN_DISPATCHER": "false",
               "TMF_OSS_RUN_COLLECTOR": "false",
               "TMF_OSS_LOG_LEVEL": "warning", "TMF_OSS_WORKERS": str(workers)}
        self.process = subprocess.Popen([sys.executable, "-m", "tmf_oss.cli", "serve"], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.base_url}/tmf-api/serviceOrdering/v4/serviceOrder?limit=1", timeout=1)
                return
            except httpx.HTTPError:
                if self.process.poll() is not None:
                    raise SystemExit(f"tmf-oss serve ended: {self.process.stderr.read().decode()[-2000:]}")
                time.sleep(0.2)
        raise SystemExit("tmf-oss serve did not start")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(15)


def seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end.replace("Z", "+00:00"))
            - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()


def wait_until_ended(orders: Orders, idents: list[str], timeout: float) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        docs = orders.timings(idents)
        if all(doc["state"] in ("completed", "failed", "partial", "rejected") for doc in docs) \
                or time.monotonic() > deadline:
            return docs
        time.sleep(0.2)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def report(label: str, docs: list[dict], window: float) -> None:
    done = [doc for doc in docs if doc["state"] == "completed"]
    pickup = [seconds_between(doc["orderDate"], doc.get("startDate")) for doc in docs if doc.get("startDate")]
    total = [seconds_between(doc["orderDate"], doc["completionDate"]) for doc in done]
    first = min(doc["orderDate"] for doc in docs)
    last = max((doc["completionDate"] for doc in done), default=first)
    span = max(seconds_between(first, last), window, 1e-9)
    not_done = {state: sum(doc["state"] == state for doc in docs) for state in {doc["state"] for doc in docs}}
    not_done.pop("completed", None)
    print(f"{label:9} {len(docs):>7} {len(done) / span:>10.1f} "
          f"{percentile(pickup, .5) * 1000:>9.0f} {percentile(pickup, .99) * 1000:>9.0f} {max(pickup) * 1000:>8.0f} "
          f"{percentile(total, .5) * 1000:>9.0f} {percentile(total, .99) * 1000:>9.0f} {max(total) * 1000:>8.0f}  "
          f"{not_done or ''}")


class CpuUse:
    """CPU time (user + system, from /proc) spent while a run lasted, by who spent it: the orchestrator
    process(es), the API process(es), PostgreSQL, the routers (netconfd, its NETCONF subsystem, sshd), this
    script, and everything else; with how busy the machine's cores were."""

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, orchestrators: list[int], api: int):
        self.orchestrators = set(orchestrators)
        self.api = api
        self.start = self._sample()

    def _group(self, pid: int, command: str, parents: dict[int, int]) -> str:
        if pid in self.orchestrators:
            return "orchestrator"
        ancestor = pid
        while ancestor > 1:
            if ancestor == self.api:
                return "API"
            ancestor = parents.get(ancestor, 0)
        if pid == os.getpid():
            return "this script"
        if command == "postgres":
            return "PostgreSQL"
        if command in ("netconfd", "netconf-subsyst", "sshd"):
            return "routers"
        return "other"

    def _sample(self) -> tuple[dict[int, tuple[str, int, float]], list[int]]:
        found = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                raw = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            command = raw[raw.index("(") + 1:raw.rindex(")")]
            fields = raw[raw.rindex(")") + 2:].split()
            found[int(entry)] = (command, int(fields[1]), (int(fields[11]) + int(fields[12])) / self.TICK)
        with open("/proc/stat") as stat:
            cores = [int(value) for value in stat.readline().split()[1:]]
        return found, cores

    def report(self, orders: int) -> None:
        (before, cores_before), (after, cores_after) = self.start, self._sample()
        parents = {pid: parent for pid, (_, parent, _) in after.items()}
        spent: dict[str, float] = {}
        for pid, (command, _, seconds) in after.items():
            earlier = before.get(pid)
            used = seconds - (earlier[2] if earlier and earlier[0] == command else 0.0)
            group = self._group(pid, command, parents)
            spent[group] = spent.get(group, 0.0) + used
        deltas = [b - a for a, b in zip(cores_before, cores_after)]
        idle = deltas[3] + (deltas[4] if len(deltas) > 4 else 0)
        busy = 1 - idle / max(1, sum(deltas))
        order = ("orchestrator", "API", "PostgreSQL", "routers", "this script", "other")
        print("CPU ms per order: " + ", ".join(f"{group} {spent.get(group, 0.0) * 1000 / max(orders, 1):.1f}"
                                                for group in order) + f"; cores busy {busy * 100:.0f} %")


def run_orchestrator(settings) -> None:
    """A worker process: an orchestrator on the benchmark database, until terminated."""
    from tmf_oss.ordering.orchestrator import Orchestrator
    from tmf_oss.platform import Platform

    Orchestrator(Platform(settings), settings).start()
    threading.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--devices", type=int, default=6, help="routers in the lab (a chain: devices-1 links)")
    parser.add_argument("--rate", type=float, default=50.0, help="orders offered per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--baseline", type=int, default=10, help="orders one at a time, first")
    parser.add_argument("--concurrency", type=int, default=8, help="orders each orchestrator works on at once")
    parser.add_argument("--workers", type=int, default=1,
                        help="orchestrator processes (as several `tmf-oss worker` would run)")
    parser.add_argument("--api-workers", type=int, default=1, help="`tmf-oss serve --workers`")
    parser.add_argument("--keep", action="store_true", help="keep the database (the lab always goes down)")
    args = parser.parse_args()

    from tmf_oss.catalog.seed import ensure_catalog
    from tmf_oss.config import Settings
    from tmf_oss.db.migrate import upgrade
    from tmf_oss.platform import Platform

    lab = Lab(args.devices, Path(tempfile.mkdtemp(prefix="tmf-oss-bench-lab-")))
    lab.up()
    try:
        recreate_database(args.database_url)
        upgrade(args.database_url)
        devices_file = lab.devices_file()
        discover(devices_file, args.database_url)
        settings = Settings(database_url=args.database_url, devices_file=str(devices_file),
                            netconf_known_hosts=str(lab.directory / "ssh" / "known_hosts"),
                            order_concurrency=args.concurrency, log_level="warning")
        platform = Platform(settings)
        ensure_catalog(platform)
        server = Server(args.database_url, args.api_workers)
        orders = Orders(platform, links(platform, lab), server.base_url)
        workers = [multiprocessing.get_context("spawn").Process(target=run_orchestrator, args=(settings,), daemon=True)
                   for _ in range(args.workers)]
        for process in workers:
            process.start()
        try:
            print(f"{args.devices} routers, {args.devices - 1} links, {args.workers} orchestrator process(es) of "
                  f"concurrency {args.concurrency}, API in {args.api_workers} process(es), {platform.db.dialect}")
            print(f"{'run':9} {'orders':>7} {'done/s':>10} {'pick p50':>9} {'pick p99':>9} {'pick max':>8} "
                  f"{'e2e p50':>9} {'e2e p99':>9} {'e2e max':>8}  (ms)")
            wait_until_ended(orders, [orders.submit()], 60)  # the workers have started and opened their sessions
            baseline = []
            for _ in range(args.baseline):
                baseline.append(orders.submit())
                wait_until_ended(orders, baseline[-1:], 60)
            report("baseline", orders.timings(baseline), 0)

            offered: list[str] = []
            cpu = CpuUse([process.pid for process in workers], server.process.pid)
            start = time.monotonic()
            count = int(args.rate * args.seconds)
            with ThreadPoolExecutor(8) as senders:
                futures = []
                for n in range(count):
                    delay = start + n / args.rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    futures.append(senders.submit(orders.submit))
                offered = [future.result() for future in futures]
            behind = time.monotonic() - start - args.seconds
            docs = wait_until_ended(orders, offered, 300)
            report(f"{args.rate:g}/s", docs, args.seconds)
            cpu.report(len(docs))
            if behind > 0.5:
                print(f"(creating the orders fell {behind:.1f} s behind the offered rate)")
            print(f"median pickup under load: {statistics.median(seconds_between(d['orderDate'], d['startDate']) for d in docs if d.get('startDate')) * 1000:.0f} ms")
        finally:
            for process in workers:
                process.terminate()
                process.join(10)
            server.stop()
            platform.close()
    finally:
        lab.down()
        if not args.keep:
            drop_database(args.database_url)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""API throughput of tmf-oss on PostgreSQL, next to the in-memory ceiling of the stack it is built on.

1. recreates a benchmark database and starts `tmf-oss serve` as in production (gunicorn, uvicorn workers);
2. loads N realistic resources: a slice through the HTTP API, the rest built in parallel with the collection's
   own helpers and written with COPY (resource_data.py; checked against a row the API wrote);
3. measures create / retrieve / list / filtered list with wrk;
4. serves the same two read operations from memory with a bare connexion app (benchmarks/ceiling_app.py)
   under the same server settings, and prints every read figure as a ratio to that ceiling;
5. prints a table and writes it as JSON to benchmarks/results/<timestamp>.json.

Everything it starts is stopped (process groups, by PID) on exit, Ctrl-C or failure; the benchmark database is
dropped unless --keep-database. See benchmarks/README.md.

    python benchmarks/api_throughput.py              # 100,000 resources, 10 s per scenario
    python benchmarks/api_throughput.py --quick      # 10,000 resources, 5 s per scenario
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from common import drop_database, free_port, recreate_database  # benchmarks/common.py
from resource_data import FILTER_VLAN, ResourceFactory, load  # benchmarks/resource_data.py

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
WRK_DIR = HERE / "wrk"
API = "/tmf-api/resourceInventoryManagement/v5"
DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/tmf_oss_bench"

# Read scenarios are held to these (README): on 2 cores, with wrk on the same cores.
TARGET_RPS = 1500
TARGET_RATIO = 0.80
# Share of the machine that may go to processes outside the measurement before a figure is marked.
OTHER_LOAD_WARNING = 0.05


# --- options --------------------------------------------------------------------------------------------

@dataclass
class Options:
    database_url: str
    resources: int
    duration: int
    connections: int
    threads: int
    workers: int
    warmup: int
    http_slice: int
    keep_database: bool
    quick: bool
    profile: bool
    profile_format: str
    seed: int
    quiet_wait: int
    repeat: int
    page_cache_mb: int | None = None


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL,
                        help="PostgreSQL URL of the benchmark database; it is DROPPED and recreated, so its name "
                             "must contain 'bench' (default: %(default)s)")
    parser.add_argument("--resources", type=int, default=None, help="resources to load (default 100000)")
    parser.add_argument("--duration", type=int, default=None, help="seconds measured per scenario (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default %(default)s)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=None, help="seconds of unmeasured load before each scenario")
    parser.add_argument("--http-slice", type=int, default=500,
                        help="resources created through POST before the bulk load (default %(default)s)")
    parser.add_argument("--quick", action="store_true", help="10,000 resources, 5 s per scenario")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the benchmark database at the end")
    parser.add_argument("--profile", action="store_true",
                        help="also record each server worker with py-spy (--gil: Python CPU time) during each "
                             "measured scenario, into benchmarks/results/<run>-profiles/ (figures are then "
                             "lower: py-spy shares the cores)")
    parser.add_argument("--profile-format", default="flamegraph", choices=("flamegraph", "speedscope", "raw"))
    parser.add_argument("--seed", type=int, default=639, help="seed of the generated data (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure every scenario this many times, in interleaved rounds, and report the "
                             "median run (default %(default)s)")
    parser.add_argument("--quiet-wait", type=int, default=60,
                        help="before each scenario, wait up to this many seconds for other work on the machine "
                             "to stop (default %(default)s)")
    parser.add_argument("--page-cache-mb", type=int, default=None,
                        help="the server's TMF_OSS_LIST_PAGE_CACHE_MB (default: the server's default); 0 measures "
                             "every list page read from the database")
    args = parser.parse_args(argv)
    resources = args.resources if args.resources is not None else (10_000 if args.quick else 100_000)
    duration = args.duration if args.duration is not None else (5 if args.quick else 10)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    if args.threads > args.connections:
        parser.error("--threads cannot exceed --connections")
    if resources < 100:
        parser.error("--resources must be at least 100")
    url = make_url(args.database_url)
    if url.get_backend_name() != "postgresql":
        parser.error("--database-url must be a PostgreSQL URL (postgresql+psycopg2://...)")
    database = url.database or ""
    if "bench" not in database:
        parser.error(f"refusing to drop database '{database}': the benchmark database name must contain 'bench'")
    return Options(database_url=args.database_url, resources=resources, duration=duration,
                   connections=args.connections, threads=args.threads, workers=args.workers, warmup=warmup,
                   http_slice=max(1, min(args.http_slice, resources // 2)), keep_database=args.keep_database,
                   quick=args.quick, profile=args.profile, profile_format=args.profile_format, seed=args.seed,
                   quiet_wait=args.quiet_wait, repeat=max(1, args.repeat), page_cache_mb=args.page_cache_mb)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the benchmark database -----------------------------------------------------------------------------

# --- machine facts --------------------------------------------------------------------------------------

def machine_facts(database_url: str) -> dict:
    facts: dict = {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
    engine = create_engine(database_url, poolclass=NullPool)
    with engine.connect() as connection:
        facts["postgresql"] = connection.execute(text("SHOW server_version")).scalar_one()
        facts["postgresql_settings"] = {
            name: connection.execute(text(f"SHOW {name}")).scalar_one()
            for name in ("shared_buffers", "max_connections", "synchronous_commit", "work_mem")}
    engine.dispose()
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
    facts["wrk"] = ((wrk.stdout or wrk.stderr).splitlines() or ["?"])[0].strip()
    facts["packages"] = {}
    for package in ("tmf-oss", "connexion", "starlette", "uvicorn", "gunicorn", "uvloop", "httptools", "SQLAlchemy",
                    "psycopg2-binary", "orjson"):
        try:
            facts["packages"][package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            facts["packages"][package] = None
    facts["git"] = _git_state()
    return facts


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _git_state() -> dict | None:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=HERE,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return {"commit": commit, "uncommitted_changes": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return None


# --- the servers we start -------------------------------------------------------------------------------

@dataclass
class Server:
    name: str
    process: subprocess.Popen
    log_path: Path
    base_url: str

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def workers(self) -> list[int]:
        """PIDs of the gunicorn workers (the children of the process we started, which is the master)."""
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                children.append(int(entry.name))
        return sorted(children)


class Servers:
    """Starts servers in their own process group and stops the whole group, whatever happens to us."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.running: list[Server] = []

    def start(self, name: str, argv: list[str], env: dict, base_url: str, ready_path: str, workers: int,
              timeout: float = 120) -> Server:
        log_path = self.workdir / f"{name}.log"
        with open(log_path, "wb") as log_file:
            # start_new_session: the server leads its own process group (pgid == pid), so the master and its
            # workers can be signalled together, and a Ctrl-C in our terminal reaches only us.
            process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log_file,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        server = Server(name, process, log_path, base_url)
        self.running.append(server)
        log(f"started {name} (pid {process.pid}): {' '.join(argv)}")
        self._wait_ready(server, ready_path, workers, timeout)
        return server

    def _wait_ready(self, server: Server, ready_path: str, workers: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5) as client:
            while True:
                if server.process.poll() is not None:
                    raise RuntimeError(f"{server.name} exited with status {server.process.returncode}:\n"
                                       f"{server.log_tail()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{server.name} did not answer within {timeout:.0f} s:\n{server.log_tail()}")
                try:
                    if client.get(server.base_url + ready_path).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.25)
        # One worker answering does not mean every worker has built its app: wait until all of them are idle.
        while time.monotonic() < deadline:
            pids = server.workers()
            if len(pids) >= workers and _all_idle(pids):
                return
            time.sleep(0.25)
        raise RuntimeError(f"{server.name}: workers did not settle within {timeout:.0f} s")

    def stop(self, server: Server) -> None:
        if server not in self.running:
            return
        self.running.remove(server)
        pgid = server.process.pid
        for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            try:
                server.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                continue
            # The master is gone; its workers exit with it, but make sure none lingers in the group.
            time.sleep(0.2)
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            break
        log(f"stopped {server.name} (pid {pgid})")

    def stop_all(self) -> None:
        for server in list(reversed(self.running)):
            try:
                self.stop(server)
            except Exception as exc:  # keep stopping the others
                log(f"could not stop {server.name} (pid {server.process.pid}): {exc!r}")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _all_idle(pids: list[int], window: float = 0.5) -> bool:
    before = [_cpu_seconds(pid) for pid in pids]
    time.sleep(window)
    return all(_cpu_seconds(pid) - start < 0.05 for pid, start in zip(pids, before))


def _machine_cpu() -> tuple[int, int]:
    """(busy, total) clock ticks of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = values
    busy = user + nice + system + irq + softirq
    return busy, busy + idle + iowait + steal


def wait_until_quiet(limit_s: float, threshold: float = 0.10) -> float:
    """Wait (at most limit_s) until the machine is idle while our servers are; returns the busy fraction seen.

    Other work on the same cores (a test suite, another benchmark) lowers our figures without telling us."""
    deadline = time.monotonic() + limit_s
    while True:
        busy0, total0 = _machine_cpu()
        time.sleep(1.0)
        busy1, total1 = _machine_cpu()
        busy = (busy1 - busy0) / max(1, total1 - total0)
        if busy < threshold or time.monotonic() >= deadline:
            return busy
        log(f"  waiting for the machine to be quiet: {busy:.0%} of the CPUs busy with other work")


POSTGRES_SHARED = ("walwriter", "checkpointer", "background writer", "autovacuum launcher",
                   "logical replication launcher", "archiver", "stats collector")


class CpuWatch:
    """Where the CPU time went while a measurement ran: the server (master and workers), its PostgreSQL backends,
    PostgreSQL's shared processes (WAL writer, checkpointer...), wrk, and everything else on the machine. Per
    request, the first two say what a request costs; "other" says whether the cores were really ours."""

    def __init__(self, server_pids: list[int], database: str | None):
        self.server_pids = server_pids
        # Backend titles read "postgres: 15/main: user database host(port) state".
        self.marker = f" {database} " if database else None

    def _sample(self) -> dict[str, dict[int, float]]:
        groups: dict[str, dict[int, float]] = {"server": {pid: _cpu_seconds(pid) for pid in self.server_pids},
                                               "postgresql": {}, "postgresql_shared": {}}
        for entry in Path("/proc").iterdir() if self.marker else ():
            if not entry.name.isdigit():
                continue
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if not title.startswith("postgres:"):
                continue
            if self.marker in title + " ":
                groups["postgresql"][int(entry.name)] = _cpu_seconds(int(entry.name))
            elif any(f": {name}" in title for name in POSTGRES_SHARED):
                groups["postgresql_shared"][int(entry.name)] = _cpu_seconds(int(entry.name))
        return groups

    def __enter__(self):
        self.machine = _machine_cpu()
        self.children = _children_cpu_seconds()  # wrk (and py-spy), once waited for
        self.before = self._sample()
        return self

    def __exit__(self, *_exc):
        after = self._sample()
        busy1, total1 = _machine_cpu()
        ticks = os.sysconf("SC_CLK_TCK")
        # Processes that appeared during the run (a new pooled connection) count from zero.
        self.seconds = {group: sum(cpu - self.before[group].get(pid, 0.0) for pid, cpu in pids.items())
                        for group, pids in after.items()}
        self.seconds["wrk"] = _children_cpu_seconds() - self.children
        machine_busy = (busy1 - self.machine[0]) / ticks
        capacity = (total1 - self.machine[1]) / ticks
        self.seconds["other"] = max(0.0, machine_busy - sum(self.seconds.values()))
        self.other_fraction = self.seconds["other"] / max(capacity, 1e-9)
        self.busy_fraction = machine_busy / max(capacity, 1e-9)
        return False


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def server_env(page_cache_mb: int | None = None) -> dict:
    # Production settings: the defaults, except quieter logs. Other TMF_OSS_* variables from the caller's shell
    # (e.g. TMF_OSS_VALIDATE_RESPONSES) would change what is measured, so they are left out.
    env = {name: value for name, value in os.environ.items() if not name.startswith("TMF_OSS_")}
    env["TMF_OSS_LOG_LEVEL"] = "warning"
    if page_cache_mb is not None:
        env["TMF_OSS_LIST_PAGE_CACHE_MB"] = str(page_cache_mb)
    return env


def tmf_oss_command() -> list[str]:
    beside_python = Path(sys.executable).parent / "tmf-oss"
    if beside_python.exists():
        return [str(beside_python)]
    found = shutil.which("tmf-oss")
    return [found] if found else [sys.executable, "-m", "tmf_oss.cli"]


# --- wrk --------------------------------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _milliseconds(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value)
    if not match:
        raise ValueError(f"unexpected wrk duration {value!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> dict:
    def find(pattern: str) -> re.Match:
        match = re.search(pattern, output, re.MULTILINE)
        if not match:
            raise ValueError(f"wrk output without {pattern!r}:\n{output}")
        return match

    result = {
        "requests_per_s": float(find(r"^Requests/sec:\s+([\d.]+)").group(1)),
        "p50_ms": _milliseconds(find(r"^\s+50%\s+(\S+)").group(1)),
        "p90_ms": _milliseconds(find(r"^\s+90%\s+(\S+)").group(1)),
        "p99_ms": _milliseconds(find(r"^\s+99%\s+(\S+)").group(1)),
        "requests": int(find(r"^\s+(\d+) requests in").group(1)),
        "non_2xx": 0,
        "socket_errors": 0,
    }
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non_2xx:
        result["non_2xx"] = int(non_2xx.group(1))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket_errors:
        result["socket_errors"] = sum(int(n) for n in socket_errors.groups())
    return result


@dataclass
class Scenario:
    key: str
    title: str
    path: str  # with the query; for scripted scenarios, what the script is pointed at
    probe_path: str | None = None  # the request checked before measuring, when `path` is not one
    script: str | None = None
    script_args: tuple[str, ...] = ()
    expect_status: int = 200
    ceiling: str | None = None  # key of the ceiling scenario it is compared with
    target: bool = False  # held to the README targets
    note: str = ""


def run_wrk(base_url: str, scenario: Scenario, duration: int, options: Options) -> dict:
    command = ["wrk", f"-t{options.threads}", f"-c{options.connections}", f"-d{duration}s", "--latency",
               "--timeout", "10s"]  # slow answers count in the latency figures instead of being dropped
    if scenario.script:
        command += ["-s", str(WRK_DIR / scenario.script)]
    command.append(base_url + scenario.path)
    if scenario.script_args:
        command += ["--", *scenario.script_args]
    # subprocess.run kills wrk if we are interrupted; the timeout bounds a wrk that hangs.
    finished = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    if finished.returncode != 0:
        raise RuntimeError(f"wrk failed ({finished.returncode}): {finished.stderr or finished.stdout}")
    return parse_wrk(finished.stdout)


def probe(base_url: str, scenario: Scenario, body_file: Path | None) -> dict:
    """One request before measuring: the scenario must answer what we think it answers."""
    path = scenario.probe_path or scenario.path
    with httpx.Client(timeout=30) as client:
        if scenario.expect_status == 201:
            response = client.post(base_url + path, content=body_file.read_bytes(),
                                   headers={"content-type": "application/json"})
        else:
            response = client.get(base_url + path)
    if response.status_code != scenario.expect_status:
        raise RuntimeError(f"{scenario.title}: {path} answered {response.status_code}: "
                           f"{response.text[:500]}")
    facts = {"response_bytes": len(response.content)}
    if "x-total-count" in response.headers:
        facts["total_count"] = int(response.headers["x-total-count"])
        facts["result_count"] = int(response.headers["x-result-count"])
    return facts


def measure(base_url: str, scenario: Scenario, options: Options, server: Server, database: str | None,
            profile_dir: Path | None = None, body_file: Path | None = None, round_number: int = 1) -> dict:
    facts = probe(base_url, scenario, body_file)
    run_wrk(base_url, scenario, options.warmup, options)  # warm-up: caches, pools, lazy imports
    facts["busy_before"] = round(wait_until_quiet(options.quiet_wait), 3)
    workers = server.workers()
    with CpuWatch([server.process.pid, *workers], database) as watch:
        name = scenario.key if options.repeat == 1 else f"{scenario.key}-round{round_number}"
        profilers = start_profilers(profile_dir, name, workers, options) if profile_dir else []
        try:
            result = run_wrk(base_url, scenario, options.duration, options)
        finally:
            for profiler in profilers:
                try:
                    profiler.wait(timeout=options.duration + 30)
                except subprocess.TimeoutExpired:
                    profiler.kill()
                    profiler.wait()
    result.update(facts)
    result["machine_busy"] = round(watch.busy_fraction, 3)
    result["other_load"] = round(watch.other_fraction, 3)
    # CPU milliseconds per completed request, by process group: what a request costs, load-independent.
    result["cpu_ms_per_request"] = {group: round(seconds * 1000 / max(result["requests"], 1), 3)
                                    for group, seconds in watch.seconds.items()}
    errors = result["non_2xx"] + result["socket_errors"]
    cpu = result["cpu_ms_per_request"]
    log(f"{scenario.title}: {result['requests_per_s']:,.0f} req/s, p50 {result['p50_ms']:.2f} ms, "
        f"p99 {result['p99_ms']:.2f} ms; CPU ms/request: server {cpu['server']:.2f}, PostgreSQL "
        f"{cpu['postgresql'] + cpu['postgresql_shared']:.2f}, wrk {cpu['wrk']:.2f}; other work "
        f"{watch.other_fraction:.0%} of the machine" + (f", {errors} ERRORS" if errors else ""))
    return result


def start_profilers(profile_dir: Path, key: str, workers: list[int], options: Options) -> list[subprocess.Popen]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    suffix = {"flamegraph": "svg", "speedscope": "json", "raw": "txt"}[options.profile_format]
    profilers = []
    for pid in workers:
        output = profile_dir / f"{key}-worker{pid}.{suffix}"
        profilers.append(subprocess.Popen(
            # --gil: sample only while the worker runs Python, so waiting for PostgreSQL is not counted.
            [py_spy, "record", "--nonblocking", "--gil", "-d", str(options.duration), "-p", str(pid),
             "-f", options.profile_format, "-o", str(output)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return profilers


# --- report -------------------------------------------------------------------------------------------

def ratio_to_ceiling(results: dict, scenario: Scenario) -> float | None:
    """Real req/s over ceiling req/s, round by round (each real run next to its ceiling run); the median."""
    if scenario.ceiling is None or scenario.ceiling not in results:
        return None
    pairs = zip(results[scenario.key]["runs_requests_per_s"], results[scenario.ceiling]["runs_requests_per_s"])
    ratios = sorted(real / ceiling for real, ceiling in pairs)
    return ratios[(len(ratios) - 1) // 2]


def print_report(report: dict, scenarios: list[Scenario]) -> None:
    facts, results, dataset = report["machine"], report["results"], report["dataset"]
    settings = report["settings"]
    print()
    print(f"tmf-oss API throughput: {dataset['resources']:,} resources, wrk {settings['threads']} threads x "
          f"{settings['connections']} connections, {settings['duration_s']} s per scenario "
          f"(+{settings['warmup_s']} s warm-up), {settings['workers']} server workers")
    print(f"machine: {facts['usable_cpus']} CPUs ({facts['cpu_model']}), {facts['memory_gib']} GiB, "
          f"Python {facts['python']}, PostgreSQL {facts['postgresql']}, {facts['wrk']}")
    print("wrk runs on the same cores as the server and PostgreSQL: the figures are conservative.")
    if settings["profile"]:
        print("py-spy was recording during the measurements: the figures are lower than without it.")
    if settings.get("page_cache_mb") is not None:
        print(f"server list page cache: {settings['page_cache_mb']} MB per process"
              + (" (off: every page is read from the database)" if settings["page_cache_mb"] == 0 else ""))
    print()
    headers = ("scenario", "req/s", "p50 ms", "p99 ms", "ratio to in-memory ceiling", "target",
               "CPU ms/req server + PG", "notes")
    rows = []
    disturbed = False
    for scenario in scenarios:
        result = results.get(scenario.key)
        if result is None:
            continue
        ratio = report["ratios"].get(scenario.key)
        ratio_text = "-"
        if ratio is not None:
            ceiling_rps = results[scenario.ceiling]["requests_per_s"]
            ratio_text = f"{ratio:.0%} (ceiling {ceiling_rps:,.0f})"
        target = "-"
        if scenario.target:
            target = "met" if report["targets"][scenario.key] else "MISSED"
        notes = [scenario.note] if scenario.note else []
        if len(result["runs_requests_per_s"]) > 1:
            notes.append("runs " + " / ".join(f"{rps:,.0f}" for rps in result["runs_requests_per_s"]))
        errors = result["non_2xx"] + result["socket_errors"]
        if errors:
            notes.append(f"{errors} ERRORS")
        if result["other_load"] > OTHER_LOAD_WARNING:
            notes.append(f"DISTURBED: other work took {result['other_load']:.0%} of the CPUs")
            disturbed = True
        cpu = result["cpu_ms_per_request"]
        cpu_text = f"{cpu['server']:.2f} + {cpu['postgresql'] + cpu['postgresql_shared']:.2f}"
        rows.append((scenario.title, f"{result['requests_per_s']:,.0f}", f"{result['p50_ms']:.2f}",
                     f"{result['p99_ms']:.2f}", ratio_text, target, cpu_text, "; ".join(notes)))
    widths = [max(len(str(row[i])) for row in rows + [headers]) for i in range(len(headers))]
    aligns = ("<", ">", ">", ">", "<", "<", ">", "<")

    def line(cells) -> str:
        return " | ".join(f"{cell:{align}{width}}" for cell, align, width in zip(cells, aligns, widths))

    print(line(headers).rstrip())
    print("-+-".join("-" * width for width in widths))
    for row in rows:
        print(line(row).rstrip())
    print()
    if disturbed:
        print("Other processes used the CPUs during some measurements (DISTURBED): rerun on a quiet machine.")
    print("CPU ms/req: CPU time per completed request of the server processes and of PostgreSQL (its backends "
          "for this database and its shared processes); wrk's share is in the JSON.")
    print(f"targets for retrieve and list pages: >= {TARGET_RPS:,} req/s and >= {TARGET_RATIO:.0%} of the "
          "in-memory ceiling")
    print(f"data: {dataset['http_created']:,} created through the API, {dataset['bulk_inserted']:,} bulk loaded "
          f"({dataset['links']:,} topology links) in {dataset['load_seconds']:.0f} s")


def write_json(report: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{report['run_id']}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


# --- the run ------------------------------------------------------------------------------------------

def scenarios_for(ids_file: Path, first_id: str, body_file: Path) -> list[Scenario]:
    collection = f"{API}/resource"
    return [
        Scenario("create", "create  POST /resource", collection, script="post_body.lua",
                 script_args=(str(body_file),), expect_status=201),
        Scenario("retrieve", "retrieve  GET /resource/{id}", collection + "/", script="rotate_paths.lua",
                 script_args=(str(ids_file), collection + "/"), probe_path=f"{collection}/{first_id}",
                 ceiling="ceiling_retrieve", target=True),
        Scenario("list", "list  GET /resource?limit=20", collection + "?limit=20", ceiling="ceiling_list",
                 target=True),
        Scenario("list_nested_filter", f"list  ?resourceCharacteristic.value={FILTER_VLAN}&limit=20",
                 f"{collection}?resourceCharacteristic.value={FILTER_VLAN}&limit=20", ceiling="ceiling_list",
                 target=True),
        Scenario("list_typed_filter", "list  ?operationalState=enabled&limit=20",
                 f"{collection}?operationalState=enabled&limit=20", ceiling="ceiling_list", target=True),
        Scenario("ceiling_retrieve", "ceiling: retrieve from memory", collection + "/", script="rotate_paths.lua",
                 script_args=(str(ids_file), collection + "/"), probe_path=f"{collection}/{first_id}"),
        Scenario("ceiling_list", "ceiling: list page from memory", collection + "?limit=20"),
    ]


def run(options: Options, servers: Servers, workdir: Path, report: dict) -> None:
    log(f"recreating database {make_url(options.database_url).database}")
    recreate_database(options.database_url)
    report["database_created"] = True
    report["machine"] = machine_facts(options.database_url)

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = servers.start(
        "tmf-oss", tmf_oss_command() + ["serve", "--workers", str(options.workers), "--host", "127.0.0.1",
                                        "--port", str(port), "--database-url", options.database_url,
                                        "--no-dispatcher"],
        server_env(options.page_cache_mb), base_url, f"{API}/resource?limit=1", options.workers)

    started = time.monotonic()
    data = load(options.database_url, base_url, options.resources, options.http_slice, options.seed,
                processes=max(1, min(os.cpu_count() or 1, 4)), log=log)
    report["dataset"] = {
        "resources": options.resources, "http_created": data.http_created, "bulk_inserted": data.bulk_inserted,
        "links": data.links, "http_seconds": round(data.http_seconds, 1), "bulk_seconds": round(data.bulk_seconds, 1),
        "vacuum_seconds": round(data.vacuum_seconds, 1), "load_seconds": round(time.monotonic() - started, 1),
        "nested_filter": f"resourceCharacteristic.value={FILTER_VLAN}",
    }

    numbers = random.Random(options.seed).sample(range(options.resources), min(options.resources, 20_000))
    ids = [data.ids.of(number) for number in numbers]
    ids_file = workdir / "ids.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    body_file = workdir / "create.json"
    body_file.write_text(json.dumps(ResourceFactory(options.seed, "create", data.ids.of).payload(options.resources)))
    scenarios = scenarios_for(ids_file, ids[0], body_file)
    by_key = {scenario.key: scenario for scenario in scenarios}
    profile_dir = None
    if options.profile:
        profile_dir = RESULTS_DIR / f"{report['run_id']}-profiles"
        profile_dir.mkdir(parents=True, exist_ok=True)
        report["profiles"] = str(profile_dir)

    # The ceiling answers with the very bytes the real server sent, so both move the same payloads.
    with httpx.Client(base_url=base_url + API, timeout=30) as client:
        retrieve_body = client.get(f"/resource/{ids[0]}").content
        list_response = client.get("/resource?limit=20")
    (workdir / "retrieve.json").write_bytes(retrieve_body)
    (workdir / "list.json").write_bytes(list_response.content)
    port = free_port()
    ceiling_url = f"http://127.0.0.1:{port}"
    ceiling = servers.start(
        "ceiling", [sys.executable, str(HERE / "ceiling_app.py"), "--host", "127.0.0.1", "--port", str(port),
                    "--workers", str(options.workers), "--retrieve-body", str(workdir / "retrieve.json"),
                    "--list-body", str(workdir / "list.json"),
                    "--list-total", list_response.headers.get("x-total-count", "0")],
        server_env(), ceiling_url, f"{API}/resource/{ids[0]}", options.workers)

    # Both servers stay up (the one not measured is idle) and each real figure is taken next to its ceiling:
    # on a shared or virtualised host the speed of the cores drifts, and a ratio is only fair between
    # neighbours. Reads go first, on the freshly loaded table; create last, as it adds rows and WAL.
    order = ("retrieve", "ceiling_retrieve", "list", "ceiling_list", "list_nested_filter", "list_typed_filter",
             "create")
    database = make_url(options.database_url).database
    runs: dict[str, list[dict]] = {key: [] for key in order}
    for round_number in range(1, options.repeat + 1):
        if options.repeat > 1:
            log(f"round {round_number} of {options.repeat}")
        for key in order:
            scenario = by_key[key]
            if key.startswith("ceiling"):
                run_result = measure(ceiling_url, scenario, options, ceiling, None, profile_dir, None, round_number)
            else:
                run_result = measure(base_url, scenario, options, server, database, profile_dir, body_file,
                                     round_number)
            runs[key].append(run_result)
    results = report["results"]
    for key, measured in runs.items():
        # The median run by throughput (of one run: that run); every run's figure is kept as well.
        ranked = sorted(measured, key=lambda r: r["requests_per_s"])
        results[key] = dict(ranked[(len(ranked) - 1) // 2],
                            runs_requests_per_s=[r["requests_per_s"] for r in measured])
        if "total_count" in results[key] and key.startswith("list_"):
            by_key[key].note = f"{results[key]['total_count']:,} matching rows"
    servers.stop(ceiling)
    servers.stop(server)

    for scenario in scenarios:
        ratio = ratio_to_ceiling(results, scenario)
        if ratio is not None:
            report["ratios"][scenario.key] = round(ratio, 3)
        if scenario.target:
            report["targets"][scenario.key] = (results[scenario.key]["requests_per_s"] >= TARGET_RPS
                                               and ratio is not None and ratio >= TARGET_RATIO)
    report["scenarios"] = {s.key: {"title": s.title, "path": s.path, "note": s.note} for s in scenarios}
    report["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    print_report(report, scenarios)
    path = write_json(report)
    print(f"written to {path.relative_to(HERE.parent) if path.is_relative_to(HERE.parent) else path}")


def _exit_on_signal(signum, _frame):
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the servers


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian/Ubuntu: apt-get install wrk)", file=sys.stderr)
        return 2
    if options.profile and not (shutil.which("py-spy") or (Path(sys.executable).parent / "py-spy").exists()):
        print("--profile needs py-spy (pip install py-spy)", file=sys.stderr)
        return 2
    # Ctrl-C raises KeyboardInterrupt even where SIGINT was inherited as ignored (e.g. started with `&`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    now = dt.datetime.now(dt.timezone.utc)
    report: dict = {
        "run_id": now.strftime("%Y%m%dT%H%M%SZ"),
        "started_at": now.isoformat(timespec="seconds"),
        "settings": {"resources": options.resources, "duration_s": options.duration, "warmup_s": options.warmup,
                     "connections": options.connections, "threads": options.threads, "workers": options.workers,
                     "http_slice": options.http_slice, "quick": options.quick, "profile": options.profile,
                     "repeat": options.repeat, "page_cache_mb": options.page_cache_mb,
                     "seed": options.seed,
                     "database": make_url(options.database_url).render_as_string(hide_password=True)},
        "results": {}, "ratios": {}, "targets": {},
    }
    status = 0
    with tempfile.TemporaryDirectory(prefix="tmf-oss-bench-") as workdir:
        servers = Servers(Path(workdir))
        try:
            run(options, servers, Path(workdir), report)
        except KeyboardInterrupt:
            log("interrupted")
            status = 130
        except SystemExit as exc:
            log(f"stopped by signal {exc.code - 128}" if isinstance(exc.code, int) and exc.code > 128 else "exiting")
            status = exc.code if isinstance(exc.code, int) else 1
        except Exception as exc:
            log(f"failed: {exc}")
            status = 1
            if not isinstance(exc, RuntimeError):
                raise
        finally:
            # A second Ctrl-C must not cut the clean-up short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            servers.stop_all()
            if report.get("database_created") and not options.keep_database:
                try:
                    drop_database(options.database_url)
                    log(f"dropped database {make_url(options.database_url).database}")
                except Exception as exc:
                    log(f"could not drop the benchmark database: {exc!r}")
    return status


if __name__ == "__main__":
    sys.exit(main())

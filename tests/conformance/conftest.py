"""Fixtures of the conformance harness: which server to check, and clients bound to the official documents.

Target server:
* ``--tmf-base-url=http://host:port`` or ``TMF_CONFORMANCE_BASE_URL``: check that running server.  pytest
  reads ``pytest_addoption`` only from conftest files it loads at start-up, which includes this one when
  ``tests/conformance`` (or a file in it) is named on the command line; run from the repository root
  without that path, use the environment variable.
* otherwise our own server is started as a real process (``tmf-oss serve``) once per database of
  tests/conftest.py (SQLite and, when reachable, PostgreSQL) and stopped again by its PID.

Official documents: ``$TMF_OFFICIAL_DIR`` (default ``<repo>/../shared/tmf-official``); tests skip when absent.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from .harness import Created, OfficialSpec, TmfClient

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = float(os.environ.get("TMF_CONFORMANCE_STARTUP_TIMEOUT", "300"))


def pytest_addoption(parser):
    parser.addoption("--tmf-base-url", default=None,
                     help="root URL of a running TMF server to check (e.g. http://127.0.0.1:8080); "
                          "default: start our own [TMF_CONFORMANCE_BASE_URL]")


def external_base_url(config) -> str | None:
    # getoption with a default also works when pytest did not load this conftest early enough to register it.
    return config.getoption("tmf_base_url", default=None) or os.environ.get("TMF_CONFORMANCE_BASE_URL") or None


def _shared_conftest(config):
    """tests/conftest.py as loaded by pytest (its module name depends on the import mode)."""
    path = REPO_ROOT / "tests" / "conftest.py"
    for plugin in config.pluginmanager.get_plugins():
        if getattr(plugin, "__file__", None) and Path(plugin.__file__).resolve() == path:
            return plugin
    raise RuntimeError(f"{path} is not loaded")


def pytest_generate_tests(metafunc):
    if "tmf_root_url" in metafunc.fixturenames:
        # Package scope: the server lives while tests/conformance runs, on each database in turn.
        targets = ["external"] if external_base_url(metafunc.config) else _shared_conftest(metafunc.config).DATABASES
        metafunc.parametrize("tmf_root_url", targets, indirect=True, scope="package")
    api = getattr(metafunc.cls, "api", None)
    if api is not None and "tmf_version" in metafunc.fixturenames:
        metafunc.parametrize("tmf_version", [v.version for v in api.versions], indirect=True, scope="class")


# --------------------------------------------------------------------------- our server as a process


def _fresh_database(config, kind: str, tmp_path_factory):
    """(url, cleanup) of an empty database; `serve` migrates it."""
    shared = _shared_conftest(config)
    if kind == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('conformance') / 'conformance.db'}", None
    return shared.scratch_postgres_database("conformance")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _command() -> list[str]:
    script = Path(sys.executable).with_name("tmf-oss")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tmf_oss.cli"]


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class ServerProcess:
    """`tmf-oss serve` on a free loopback port; stopped by its own PID."""

    def __init__(self, database_url: str, log_path: Path):
        self.database_url = database_url
        self.log_path = log_path
        self.port = _free_port()
        self.root_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = _command() + ["serve", "--host", "127.0.0.1", "--port", str(self.port),
                                "--database-url", self.database_url]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tmf-oss serve exited with {self.process.returncode}:\n{_log_tail(self.log_path)}")
            try:
                httpx.get(self.root_url + "/", timeout=2)  # any HTTP answer means it is serving
                return
            except httpx.TransportError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"tmf-oss serve did not answer within {STARTUP_TIMEOUT:.0f}s:\n{_log_tail(self.log_path)}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


# Root URL -> database URL of the servers started here.  Some checks need data no API of the server creates
# (the managed devices' ports a service order runs on are found by discovery): on our own server they write it
# to the database; on an external one they take it from the operator or skip.
OUR_SERVER_DATABASES: dict[str, str] = {}


@pytest.fixture(scope="package")
def tmf_root_url(request, tmp_path_factory):
    """Root URL (scheme://host:port) of the server under test; parametrized in pytest_generate_tests."""
    kind = request.param
    if kind == "external":
        yield external_base_url(request.config).rstrip("/")
        return
    database_url, drop = _fresh_database(request.config, kind, tmp_path_factory)
    log_path = tmp_path_factory.mktemp("conformance-server") / f"tmf-oss-{kind}.log"
    server = ServerProcess(database_url, log_path)
    server.start()
    OUR_SERVER_DATABASES[server.root_url] = database_url
    try:
        yield server.root_url
    finally:
        OUR_SERVER_DATABASES.pop(server.root_url, None)
        server.stop()
        if drop is not None:
            drop()


@pytest.fixture(scope="package")
def tmf_database_url(tmf_root_url) -> str | None:
    """The database of the server under test when it is our own (started here); None for an external one."""
    return OUR_SERVER_DATABASES.get(tmf_root_url)


# --------------------------------------------------------------------------- per API version


@pytest.fixture(scope="session")
def official_root() -> Path:
    root = Path(os.environ.get("TMF_OFFICIAL_DIR") or REPO_ROOT.parent / "shared" / "tmf-official")
    if not root.is_dir():
        pytest.skip(f"official TM Forum files not found: {root} is absent (set TMF_OFFICIAL_DIR)")
    return root


@pytest.fixture(scope="session")
def run_tag() -> str:
    """Prefix of every value this run creates, so that checks also work against a busy foreign server."""
    return f"tmfc{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="class")
def tmf_version(request) -> str:
    return request.param


@pytest.fixture(scope="class")
def client(request, tmf_root_url, tmf_version, official_root):
    api = request.cls.api.version(tmf_version)
    path = official_root / api.official_file
    if not path.is_file():
        pytest.skip(f"official file {api.official_file} not found under {official_root}")
    tmf_client = TmfClient(tmf_root_url, api, OfficialSpec.load(path))
    yield tmf_client
    tmf_client.close()


@pytest.fixture
def created(client):
    """Collects what a test creates and deletes it afterwards."""
    registry = Created(client, [])
    yield registry
    registry.cleanup()

"""The real `tmf-oss` command: serve on loopback, deliver events to a real listener, manage the schema."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.api.helpers import V4, V5, Listener
from tests.e2e.processes import TmfOssProcess
from tests.conftest import truncate_all
from tmf_oss.config import Settings


def tmf_oss(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tmf_oss.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120, **kwargs)


@pytest.fixture
def server(database_url, tmp_path):
    """`tmf-oss serve` as a separate process; configured through TMF_OSS_* variables."""
    truncate_all(database_url)
    process = TmfOssProcess(["serve"], database_url, tmp_path).wait_until_serving()
    yield process.base
    process.stop()


def test_serve_delivers_events_to_a_loopback_listener(server):
    with Listener() as listener:
        hub = httpx.post(f"{server}{V5}/hub", json={"@type": "Hub", "callback": listener.url,
                                                    "query": "eventType=ResourceCreateEvent"})
        assert hub.status_code == 201
        created = httpx.post(f"{server}{V5}/resource", json={"@type": "LogicalResource", "name": "e2e"}).json()
        deadline = time.monotonic() + 20
        while not listener.received and time.monotonic() < deadline:
            time.sleep(0.1)
    assert [e["eventType"] for e in listener.received] == ["ResourceCreateEvent"]
    assert listener.received[0]["event"]["resource"]["id"] == created["id"]
    assert listener.received[0]["event"]["resource"]["href"] == f"{server}{V5}/resource/{created['id']}"


def test_serve_answers_both_versions_and_swagger_ui(server):
    for base in (V4, V5):
        assert httpx.get(f"{server}{base}/resource").status_code == 200
        ui = httpx.get(f"{server}{base}/ui/")
        assert ui.status_code == 200 and "swagger" in ui.text.lower()
        assert httpx.get(f"{server}{base}/openapi.json").json()["paths"]["/resource"]


def test_forwarded_headers_shape_hrefs(server):
    response = httpx.post(f"{server}{V5}/resource", json={"@type": "Resource", "name": "proxied"},
                          headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "oss.example.net"})
    assert response.json()["href"].startswith(f"https://oss.example.net{V5}/resource/")


def test_help_explains_every_command():
    top = tmf_oss("--help")
    assert top.returncode == 0
    for command in ("serve", "worker", "db", "events"):
        assert command in top.stdout
        assert tmf_oss(command, "--help").returncode == 0
    serve_help = tmf_oss("serve", "--help").stdout
    for flag in ("--host", "--port", "--database-url", "--workers", "TMF_OSS_PORT"):
        assert flag in serve_help
    assert "upgrade" in tmf_oss("db", "--help").stdout


def test_db_upgrade_creates_the_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = tmf_oss("db", "upgrade", "--database-url", url)
    assert result.returncode == 0, result.stderr
    assert "head" in result.stdout
    current = tmf_oss("db", "current", "--database-url", url)
    assert "(head)" in current.stdout + current.stderr


def test_settings_from_environment():
    settings = Settings.from_env({"TMF_OSS_PORT": "9999", "TMF_OSS_DATABASE_URL": "postgresql+psycopg2://x/y",
                                  "TMF_OSS_RUN_DISPATCHER": "false", "TMF_OSS_DELIVERY_TIMEOUT_SECONDS": "2.5"})
    assert settings.port == 9999 and settings.database_url == "postgresql+psycopg2://x/y"
    assert settings.run_dispatcher is False and settings.delivery_timeout_seconds == 2.5
    assert Settings.from_env({"TMF_OSS_PORT": "9999"}, port=7000).port == 7000


def test_root_lists_the_served_apis(server):
    index = httpx.get(f"{server}/").json()
    assert {(a["api"], a["version"]) for a in index["apis"]} >= {("tmf639", "v4"), ("tmf639", "v5")}
    for entry in index["apis"]:
        assert httpx.get(f"{server}{entry['ui']}").status_code == 200

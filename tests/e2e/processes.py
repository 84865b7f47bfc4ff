"""Real `tmf-oss` processes for end-to-end tests: started on loopback, stopped by their own process group."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.api.helpers import V5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TmfOssProcess:
    """`tmf-oss <command>` in its own session, so it and its children can be signalled together."""

    def __init__(self, command: list[str], database_url: str, cwd: Path, env: dict | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, "TMF_OSS_DATABASE_URL": database_url, "TMF_OSS_PORT": str(self.port),
                    "TMF_OSS_LOG_LEVEL": "warning", "TMF_OSS_DISPATCH_INTERVAL_SECONDS": "0.1", **(env or {})}
        self.log = open(cwd / f"tmf-oss-{command[0]}-{self.port}.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([sys.executable, "-m", "tmf_oss.cli", *command], env=full_env, cwd=cwd,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_until_serving(self, timeout: float = 60.0) -> "TmfOssProcess":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.base}{V5}/resource?limit=1", timeout=1)
                return self
            except httpx.HTTPError:
                if self.process.poll() is not None:
                    raise RuntimeError(Path(self.log.name).read_text()) from None
                time.sleep(0.2)
        raise TimeoutError(f"tmf-oss did not start on {self.base}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()

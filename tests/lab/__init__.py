"""The device lab (scripts/lab) as a pytest fixture: real SNMP agents and NETCONF servers in network namespaces on
loopback."""
from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LAB_SCRIPT = REPO_ROOT / "scripts" / "lab"
DEVICES = 3
# Overridable, so that two test runs on one machine each have a lab of their own.
TEST_PREFIX = os.environ.get("TMF_OSS_TEST_LAB_PREFIX", "127.77.1")
TEST_NAMESPACE = os.environ.get("TMF_OSS_TEST_LAB_NAMESPACE", "tmfoss-test-d")


@dataclass
class Lab:
    addresses: list[str]
    trap_port: int
    env: dict = field(repr=False)

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(LAB_SCRIPT), *args], env=self.env, capture_output=True, text=True, timeout=180)

    @property
    def ssh_key(self) -> Path:
        """The client key the devices' NETCONF servers accept for root."""
        return Path(self.env["LAB_DIR"]) / "ssh" / "client_key"

    @property
    def known_hosts(self) -> Path:
        """The devices' SSH host keys, one line per management address and NETCONF port."""
        return Path(self.env["LAB_DIR"]) / "ssh" / "known_hosts"

    def set_link(self, device: int, interface: str, state: str) -> None:
        """Take one of a device's links up or down, as pulling a cable would."""
        subprocess.run(["ip", "-n", f"{TEST_NAMESPACE}{device}", "link", "set", interface, state], check=True)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_lab(tmp_dir: Path):
    """Bring the lab up, or skip (fail in CI) with the reason it cannot run here."""
    check = subprocess.run([str(LAB_SCRIPT), "can-run"], capture_output=True, text=True)
    if check.returncode != 0:
        reason = f"device lab unavailable: {check.stdout.strip() or check.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    trap_port = _free_udp_port()
    # Its own addresses and namespace names, so a lab someone started by hand can keep running.
    env = {**os.environ, "LAB_DIR": str(tmp_dir), "LAB_TRAP_DEST": f"127.0.0.1:{trap_port}",
           "LAB_PREFIX": TEST_PREFIX, "LAB_NAMESPACE": TEST_NAMESPACE}
    lab = Lab([f"{TEST_PREFIX}.{n}" for n in range(1, DEVICES + 1)], trap_port, env)
    started = lab.run("up", str(DEVICES))
    if started.returncode != 0:
        lab.run("down")
        pytest.fail(f"the device lab did not start: {started.stderr[-2000:]}")
    return lab

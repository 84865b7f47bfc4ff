"""`tmf-oss receive` as a process: traps and syslog messages from real senders end up as visible fault records."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import truncate_all
from tests.e2e.test_serve import tmf_oss

pytestmark = pytest.mark.skipif(shutil.which("snmptrap") is None or shutil.which("logger") is None,
                                reason="needs net-snmp's snmptrap and util-linux's logger (scripts/lab install)")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("processes", [1, 2])
def test_receive_records_traps_and_syslog_and_they_are_listed(database_url, client, tmp_path, processes):
    truncate_all(database_url)
    trap_port, syslog_port = free_udp_port(), free_udp_port()
    env = {**os.environ, "TMF_OSS_DATABASE_URL": database_url, "TMF_OSS_LOG_LEVEL": "warning"}
    process = subprocess.Popen([sys.executable, "-m", "tmf_oss.cli", "receive", "--trap-port", str(trap_port),
                                "--syslog-port", str(syslog_port), "--processes", str(processes)],
                               env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert b"receiving SNMP traps" in process.stdout.readline()
        subprocess.run(["snmptrap", "-v", "2c", "-c", "public", f"127.0.0.1:{trap_port}", "",
                        "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.4", "i", "4"],
                       check=True, env={**os.environ, "MIBS": ""})
        subprocess.run(["logger", "--server", "127.0.0.1", "--port", str(syslog_port), "--udp", "--rfc5424",
                        "-t", "router", "Interface ge-0/0/4 is down"], check=True)
        deadline = time.monotonic() + 15
        while True:
            listed = json.loads(tmf_oss("faults", "--json", "--database-url", database_url).stdout)
            if len(listed) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    assert sorted((f["source"], f["kind"]) for f in listed) == [("snmp-trap", "linkDown"), ("syslog", "linkDown")]
    syslog = [f for f in listed if f["source"] == "syslog"][0]
    assert syslog["interface"] == "ge-0/0/4" and syslog["device_address"] == "127.0.0.1"
    served = client.get("/admin/v1/faults", params={"kind": "linkDown", "limit": 10}).json()
    assert [f["source"] for f in served] == [f["source"] for f in listed]
    assert client.get("/admin/v1/faults", params={"limit": 0}).status_code == 400
    assert client.get("/admin/v1/faults", params={"since": "yesterday"}).status_code == 400


def test_receive_subscribes_to_netconf_devices_and_reads_v3_traps(database_url, lab, tmp_path):
    """The devices file drives the receivers: NETCONF notifications from a lab device (and a device that is not
    there, which is retried without stopping anything else) and SNMPv3 traps checked with the file's keys."""
    truncate_all(database_url)
    trap_port = free_udp_port()
    devices = tmp_path / "devices.yaml"
    devices.write_text(f"""
defaults:
  netconf: {{user: root, key_file: "{lab.ssh_key}"}}
devices:
  - address: {lab.addresses[1]}
    snmp: {{version: "3", user: tmfoss, auth_key: {{env: V3_AUTH}}, priv_key: {{env: V3_PRIV}}}}
  - address: 127.77.1.250
""")
    env = {**os.environ, "TMF_OSS_DATABASE_URL": database_url, "TMF_OSS_LOG_LEVEL": "warning",
           "TMF_OSS_NETCONF_KNOWN_HOSTS": str(lab.known_hosts), "V3_AUTH": "tmfoss-auth-pass",
           "V3_PRIV": "tmfoss-priv-pass"}
    process = subprocess.Popen([sys.executable, "-m", "tmf_oss.cli", "receive", "--trap-port", str(trap_port),
                                "--syslog-port", "0", "--devices", str(devices)], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)

    def faults(**criteria) -> list[dict]:
        listed = json.loads(tmf_oss("faults", "--json", "--database-url", database_url).stdout)
        return [f for f in listed if all(f[key] == value for key, value in criteria.items())]

    def wait_for(what: str, **criteria) -> dict:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = faults(**criteria)
            if found:
                return found[0]
            time.sleep(0.3)
        pytest.fail(f"no {what} within 30 s; fault records: {faults()}")

    lines: list[bytes] = []
    try:
        # The absent device's first "retrying" warning may come before the start-up line.
        lines = []
        while len(lines) < 5 and not any(b"receiving SNMP traps" in line for line in lines):
            lines.append(process.stdout.readline())
        started = [line for line in lines if b"receiving SNMP traps" in line]
        assert started and b"NETCONF notifications from 2 device(s)" in started[0], lines
        time.sleep(3)  # the subscription is set up in the background
        lab.set_link(2, "d2-ge1", "down")
        try:
            down = wait_for("NETCONF link-down", source="netconf-notification", kind="link-down")
        finally:
            lab.set_link(2, "d2-ge1", "up")
        wait_for("NETCONF link-up", source="netconf-notification", kind="link-up")
        subprocess.run(["snmptrap", "-v", "3", "-u", "tmfoss", "-l", "authPriv", "-a", "SHA", "-A",
                        "tmfoss-auth-pass", "-x", "AES", "-X", "tmfoss-priv-pass", "-e", "0x80001f8880aabbccdd09",
                        f"127.0.0.1:{trap_port}", "", "1.3.6.1.6.3.1.1.5.1"], check=True,
                       env={**os.environ, "MIBS": ""})
        cold = wait_for("SNMPv3 coldStart", source="snmp-trap", kind="coldStart")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = b"".join(lines).decode() + process.communicate(timeout=20)[0].decode()
    assert down["device_address"] == lab.addresses[1] and down["interface"] == "d2-ge1"
    assert cold["details"]["version"] == "3"
    assert "127.77.1.250" in output and "retrying" in output  # the absent device: said, and retried
    assert "tmfoss-auth-pass" not in output

"""The trap receiver with real senders: net-snmp's snmptrap/snmpinform, and the lab's agents on link changes."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest

from tests.southbound.receiving import Collected, InThread
from tmf_oss.southbound.adapter import Secret, SnmpCredentials
from tmf_oss.southbound.traps import TrapReceiver

LINK_DOWN = "1.3.6.1.6.3.1.1.5.3"
needs_net_snmp = pytest.mark.skipif(shutil.which("snmptrap") is None,
                                    reason="net-snmp's snmptrap is not installed (scripts/lab install)")


def send(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=30,
                          env={**os.environ, "MIBS": ""})


@needs_net_snmp
def test_v2c_trap_v1_trap_and_inform_from_net_snmp():
    collected = Collected()
    with InThread(TrapReceiver(collected, communities=frozenset({"public"})), host="127.0.0.1", port=0) as receiver:
        target = f"127.0.0.1:{receiver.port}"
        send("snmptrap", "-v", "2c", "-c", "public", target, "", LINK_DOWN,
             "1.3.6.1.2.1.2.2.1.1.7", "i", "7", "1.3.6.1.2.1.2.2.1.2.7", "s", "ge-0/0/7")
        send("snmptrap", "-v", "1", "-c", "public", target, "1.3.6.1.4.1.8072.3.2.10", "127.0.0.1", "2", "0", "",
             "1.3.6.1.2.1.2.2.1.1.3", "i", "3")
        inform = send("snmpinform", "-v", "2c", "-c", "public", "-t", "2", "-r", "0", target, "",
                      "1.3.6.1.6.3.1.1.5.1")
        records = collected.wait_for(lambda got: len(got) >= 3)
    assert inform.returncode == 0, inform.stderr  # the inform was acknowledged
    down, v1_down, cold = records
    assert (down.kind, down.severity, down.interface, down.interface_index) == ("linkDown", "major", "ge-0/0/7", 7)
    assert down.device_address == "127.0.0.1" and down.details["version"] == "2c"
    assert (v1_down.kind, v1_down.interface_index, v1_down.details["version"]) == ("linkDown", 3, "1")
    assert (cold.kind, cold.severity) == ("coldStart", "warning")
    assert receiver.stats.recorded == 3 and receiver.stats.malformed == 0


@needs_net_snmp
def test_garbage_and_unknown_communities_are_counted_and_the_receiver_goes_on():
    collected = Collected()
    with InThread(TrapReceiver(collected, communities=frozenset({"public"})), host="127.0.0.1", port=0) as receiver:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for junk in (b"", b"\x30\x03\x02\x01", b"not snmp at all", bytes(range(256))):
                sock.sendto(junk, ("127.0.0.1", receiver.port))
        send("snmptrap", "-v", "2c", "-c", "guessed", f"127.0.0.1:{receiver.port}", "", LINK_DOWN)
        send("snmptrap", "-v", "2c", "-c", "public", f"127.0.0.1:{receiver.port}", "", LINK_DOWN)
        records = collected.wait_for(lambda got: len(got) >= 1)
        stats = receiver.stats
    assert [r.kind for r in records] == ["linkDown"]
    assert (stats.malformed, stats.refused, stats.recorded) == (4, 1, 1)


def test_lab_link_down_and_up_reach_the_receiver_from_both_ends(lab):
    # The standard link traps name the interface by ifIndex (IF-MIB); discovery maps it to the interface:
    # d2-ge1 is ifIndex 3 on d2, its peer d3-ge0 is ifIndex 2 on d3.
    both_ends = {(lab.addresses[1], 3), (lab.addresses[2], 2)}
    collected = Collected()
    with InThread(TrapReceiver(collected), host="127.0.0.1", port=lab.trap_port):
        lab.set_link(2, "d2-ge1", "down")
        try:
            downs = collected.wait_for(lambda got: {(r.device_address, r.interface_index) for r in got
                                                    if r.kind == "linkDown"} >= both_ends, timeout=20)
        finally:
            lab.set_link(2, "d2-ge1", "up")
        ups = collected.wait_for(lambda got: {(r.device_address, r.interface_index) for r in got
                                              if r.kind == "linkUp"} >= both_ends, timeout=20)
    assert {(r.device_address, r.interface_index) for r in downs if r.kind == "linkDown"} >= both_ends
    assert {(r.device_address, r.interface_index) for r in ups if r.kind == "linkUp"} >= both_ends
    down = [r for r in downs if r.kind == "linkDown" and r.device_address == lab.addresses[1]][0]
    assert down.severity == "major" and down.details["uptime_seconds"] > 0
    assert down.details["varbinds"]["1.3.6.1.2.1.2.2.1.8.3"] == "2"  # ifOperStatus down


V3_DEVICE = SnmpCredentials(version="3", user="tmfoss", auth_key=Secret("tmfoss-auth-pass"),
                            priv_key=Secret("tmfoss-priv-pass"), auth_protocol="SHA", priv_protocol="AES")


def v3_args(user: str = "tmfoss", auth: str = "tmfoss-auth-pass") -> list[str]:
    return ["-v", "3", "-u", user, "-l", "authPriv", "-a", "SHA", "-A", auth, "-x", "AES", "-X", "tmfoss-priv-pass"]


@needs_net_snmp
def test_v3_auth_priv_traps_and_informs_are_read_and_forgeries_refused():
    collected = Collected()
    receiver = TrapReceiver(collected, v3_credentials={"127.0.0.1": V3_DEVICE})
    with InThread(receiver, host="127.0.0.1", port=0) as receiver:
        target = f"127.0.0.1:{receiver.port}"
        send("snmptrap", *v3_args(), "-e", "0x80001f8880aabbccdd01", target, "", LINK_DOWN,
             "1.3.6.1.2.1.2.2.1.1.4", "i", "4", "1.3.6.1.2.1.31.1.1.1.1.4", "s", "ge-0/0/4")
        # A forger knows the user name and makes up an engine ID, but not the key; another makes up the user.
        send("snmptrap", *v3_args(auth="guessed-password"), "-e", "0x80001f8880aabbccdd02", target, "", LINK_DOWN)
        send("snmptrap", *v3_args(user="intruder"), "-e", "0x80001f8880aabbccdd03", target, "", LINK_DOWN)
        inform = send("snmpinform", *v3_args(), "-t", "2", "-r", "1", target, "", "1.3.6.1.6.3.1.1.5.1")
        send("snmptrap", *v3_args(), "-e", "0x80001f8880aabbccdd01", target, "", "1.3.6.1.6.3.1.1.5.4",
             "1.3.6.1.2.1.2.2.1.1.4", "i", "4")
        records = collected.wait_for(lambda got: len(got) >= 3)
        stats = receiver.stats
    assert inform.returncode == 0, inform.stderr  # engine-ID discovery answered, then the inform acknowledged
    down, cold, up = records
    assert (down.kind, down.interface, down.interface_index) == ("linkDown", "ge-0/0/4", 4)
    assert down.details["version"] == "3" and down.details["user"] == "tmfoss"
    assert down.details["engine_id"] == "80001f8880aabbccdd01"
    assert (cold.kind, up.kind) == ("coldStart", "linkUp")
    assert (stats.recorded, stats.refused, stats.malformed) == (3, 2, 0)
    assert len(receiver.v3._learned) == 1  # the forged engine ID was not kept


@needs_net_snmp
def test_without_v3_credentials_v3_traps_are_refused():
    collected = Collected()
    with InThread(TrapReceiver(collected), host="127.0.0.1", port=0) as receiver:
        send("snmptrap", *v3_args(), "-e", "0x80001f8880aabbccdd01", f"127.0.0.1:{receiver.port}", "", LINK_DOWN)
        send("snmptrap", "-v", "2c", "-c", "public", f"127.0.0.1:{receiver.port}", "", LINK_DOWN)
        collected.wait_for(lambda got: len(got) >= 1)
        stats = receiver.stats
    assert (stats.recorded, stats.refused) == (1, 1)

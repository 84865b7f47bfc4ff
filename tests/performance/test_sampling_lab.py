"""Reading raw values from real SNMP agents (net-snmp in the device lab), and indicators computed from them over
real traffic sent across the d1-d2 link."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from tests.lab import TEST_NAMESPACE, TEST_PREFIX
from tmf_oss.performance.builtin_indicators import builtin_indicator_specs
from tmf_oss.performance.counters import COUNTERS
from tmf_oss.performance.derivation import Missing, parse
from tmf_oss.performance.sampling import VARBINDS_PER_GET, interface_indexes, read_device
from tmf_oss.southbound.adapter import DeviceError, DeviceTarget
from tmf_oss.southbound.snmp import SnmpAdapter

# UDP datagrams sent from d1 to d2: each leaves d1-ge1 as payload + 8 (UDP) + 20 (IPv4) + 14 (Ethernet) octets.
DATAGRAMS, PAYLOAD = 2000, 1400
FRAME = PAYLOAD + 8 + 20 + 14
SENDER = """
import socket, sys, time
address, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sender.sendto(b"", (address, 9))  # resolves the neighbour first, so that no datagram waits for ARP and is dropped
time.sleep(0.2)
payload = bytes(size)
for _ in range(count):
    sender.sendto(payload, (address, 9))
"""


def run(coroutine_factory):
    async def main():
        adapter = SnmpAdapter()
        try:
            return await coroutine_factory(adapter)
        finally:
            adapter.close()

    return asyncio.run(main())


def builtin(ident: str):
    return parse({spec["id"]: spec for spec in builtin_indicator_specs()}[ident]["derivationAlgorithm"])


def test_interfaces_are_found_by_name(lab):
    assert run(lambda adapter: interface_indexes(adapter, DeviceTarget(lab.addresses[0]))) == {"lo": 1, "d1-ge1": 2}
    assert set(run(lambda adapter: interface_indexes(adapter, DeviceTarget(lab.addresses[1])))) == {
        "lo", "d2-ge0", "d2-ge1"}


def test_read_device_returns_every_registered_value_of_the_interfaces_and_the_device(lab):
    target = DeviceTarget(lab.addresses[0])
    before = datetime.now(timezone.utc)
    reading = run(lambda adapter: read_device(adapter, target, set(COUNTERS), {1, 2}))
    interface_keys = {(name, index) for name, counter in COUNTERS.items() if counter.scope == "interface"
                      for index in (1, 2)}
    assert len(interface_keys) > VARBINDS_PER_GET  # so the values came in more than one GET
    assert interface_keys <= reading.values.keys()
    assert {("sysUpTime", None), ("memTotalReal", None), ("memAvailReal", None)} <= reading.values.keys()
    assert before <= reading.taken_at <= datetime.now(timezone.utc)
    assert reading.uptime > 0 and reading.monotonic <= time.monotonic()
    assert reading.values[("ifHighSpeed", 2)] == 10_000 and reading.values[("ifOperStatus", 2)] == 1
    assert reading.values[("ifSpeed", 2)] == 4_294_967_295  # 10 Gbit/s saturates the 32-bit ifSpeed
    assert reading.values[("memTotalReal", None)] > reading.values[("memAvailReal", None)] > 0
    assert 0 < builtin("memoryUsed").evaluate(None, reading) < 100
    # net-snmp measures processor load over a minute: a younger agent has no hrProcessorLoad yet.
    load = builtin("cpuLoad").evaluate(None, reading)
    if isinstance(load, Missing):
        assert load.reason == "counter hrProcessorLoad not available on the device"
    else:
        rows = run(lambda adapter: adapter.walk(target, "1.3.6.1.2.1.25.3.3.1"))
        assert rows and 0 <= load <= 100


def test_a_value_the_agent_does_not_have_is_absent_and_named_when_needed(lab):
    target = DeviceTarget(lab.addresses[0])
    readings = [run(lambda adapter: read_device(adapter, target, {"ifHCOutOctets"}, {2, 99})) for _ in range(2)]
    assert ("ifHCOutOctets", 2) in readings[1].values and ("ifHCOutOctets", 99) not in readings[1].values
    assert parse("8 * rate(ifHCOutOctets)").evaluate(*readings, 99) == Missing(
        "counter ifHCOutOctets not available on ifIndex 99")


@pytest.fixture
def d1_d2_link():
    """Addresses on the link from d1-ge1 to d2-ge0, removed afterwards (other tests read interface addresses)."""
    ends = [(f"{TEST_NAMESPACE}1", "d1-ge1", "10.99.0.1/30"), (f"{TEST_NAMESPACE}2", "d2-ge0", "10.99.0.2/30")]
    for namespace, interface, address in ends:
        subprocess.run(["ip", "-n", namespace, "addr", "replace", address, "dev", interface], check=True)
    yield "10.99.0.2"
    for namespace, interface, address in ends:
        subprocess.run(["ip", "-n", namespace, "addr", "del", address, "dev", interface], check=False)


def test_bit_rate_and_utilisation_follow_real_traffic(lab, d1_d2_link):
    d1, d2 = DeviceTarget(lab.addresses[0]), DeviceTarget(lab.addresses[1])
    d2_ge0 = run(lambda adapter: interface_indexes(adapter, d2))["d2-ge0"]
    d1_counters = builtin("ifOutBitRate").counters | builtin("ifOutUtilisation").counters
    d2_counters = builtin("ifInBitRate").counters

    def read_both():
        async def both(adapter):
            return await asyncio.gather(read_device(adapter, d1, d1_counters, {2}),
                                        read_device(adapter, d2, d2_counters, {d2_ge0}))
        return run(both)

    d1_before, d2_before = read_both()
    sent = subprocess.run(["ip", "netns", "exec", f"{TEST_NAMESPACE}1", sys.executable, "-c", SENDER, d1_d2_link,
                           str(DATAGRAMS), str(PAYLOAD)], capture_output=True, text=True, timeout=60)
    assert sent.returncode == 0, sent.stderr
    expected = DATAGRAMS * FRAME
    deadline = time.monotonic() + 20  # the agent caches its interface tables for a few seconds
    while True:
        d1_after, d2_after = read_both()
        sent_octets = d1_after.values[("ifHCOutOctets", 2)] - d1_before.values[("ifHCOutOctets", 2)]
        received_octets = d2_after.values[("ifHCInOctets", d2_ge0)] - d2_before.values[("ifHCInOctets", d2_ge0)]
        if (sent_octets >= expected and received_octets >= expected) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    # Besides our datagrams, only the odd ARP, neighbour discovery or ICMP frame crosses the link.
    assert expected <= sent_octets <= expected + 20_000
    assert expected <= received_octets <= expected + 20_000

    elapsed = d1_after.monotonic - d1_before.monotonic
    bit_rate = builtin("ifOutBitRate").evaluate(d1_before, d1_after, 2)
    assert bit_rate == pytest.approx(8 * sent_octets / elapsed)
    assert 8 * expected / elapsed <= bit_rate <= 8 * (expected + 20_000) / elapsed
    utilisation = builtin("ifOutUtilisation").evaluate(d1_before, d1_after, 2)
    assert utilisation == pytest.approx(100 * bit_rate / 10_000e6)  # d1-ge1 is a 10 Gbit/s veth
    assert 0 < utilisation < 100
    received = builtin("ifInBitRate").evaluate(d2_before, d2_after, d2_ge0)
    d2_elapsed = d2_after.monotonic - d2_before.monotonic
    assert received == pytest.approx(8 * received_octets / d2_elapsed)
    assert 8 * expected / d2_elapsed <= received


def test_an_unreachable_device_raises_device_error_quickly():
    silent = DeviceTarget(f"{TEST_PREFIX}.250", timeout=0.5, retries=0)  # nothing listens there

    async def twice(adapter):
        """Each attempt's error and duration; the adapter's first request also loads pysnmp's MIB modules."""
        attempts = []
        for _ in range(2):
            started = time.monotonic()
            try:
                await read_device(adapter, silent, {"ifHCInOctets", "memTotalReal", "hrProcessorLoad"}, {1, 2})
            except DeviceError as error:
                attempts.append((error, time.monotonic() - started))
        return attempts

    attempts = run(twice)
    assert len(attempts) == 2
    error, seconds = attempts[1]
    assert seconds < 1.5  # one timeout of 0.5 s: the first request fails alone, the rest are never sent
    assert f"{TEST_PREFIX}.250" in str(error) and "timeout" in str(error)


def test_device_indicators_alone_read_no_interface_table(lab):
    from tmf_oss.performance.measure import ReadingMemory, _read

    target, memory = DeviceTarget(lab.addresses[0]), ReadingMemory()
    reading, indexes = run(lambda adapter: _read(adapter, target, {"memTotalReal"}, set(), memory))
    assert indexes == {} and memory.indexes(target.address) is None  # nothing walked, nothing remembered
    assert reading.uptime is not None and reading.values[("memTotalReal", None)] > 0
    reading, indexes = run(lambda adapter: _read(adapter, target, {"ifHCInOctets"}, {"d1-ge1"}, memory))
    assert indexes == {"lo": 1, "d1-ge1": 2} and ("ifHCInOctets", 2) in reading.values

"""The SNMP adapter against real agents (net-snmp in the device lab), v2c and v3 authPriv."""
from __future__ import annotations

import asyncio
import time

import pytest

from tmf_oss.southbound.adapter import DeviceError, DeviceTarget, Secret, SnmpCredentials
from tmf_oss.southbound.snmp import SnmpAdapter

V3 = SnmpCredentials(version="3", user="tmfoss", auth_key=Secret("tmfoss-auth-pass"),
                     priv_key=Secret("tmfoss-priv-pass"), auth_protocol="SHA", priv_protocol="AES")


def run(coroutine_factory):
    async def main():
        adapter = SnmpAdapter()
        try:
            return await coroutine_factory(adapter)
        finally:
            adapter.close()

    return asyncio.run(main())


def test_discovers_identity_and_interfaces_over_v2c(lab):
    found = run(lambda adapter: adapter.discover(DeviceTarget(lab.addresses[1])))
    assert found.identity.name == "d2"
    assert "d2" in found.identity.description and found.identity.location == "lab rack 2"
    assert found.identity.object_id == "1.3.6.1.4.1.8072.3.2.10" and found.identity.uptime_seconds > 0
    by_name = {interface.name: interface for interface in found.interfaces}
    assert set(by_name) == {"lo", "d2-ge0", "d2-ge1"}
    assert by_name["d2-ge0"].oper_status == "up" and by_name["d2-ge0"].admin_status == "up"
    assert by_name["d2-ge0"].mac_address.count(":") == 5 and by_name["d2-ge0"].mtu == 1500
    assert found.components == [] and found.neighbours == []  # this agent has no ENTITY-MIB or LLDP


def test_v3_auth_priv_reads_the_same_device(lab):
    target = DeviceTarget(lab.addresses[0], snmp=V3)
    identity = run(lambda adapter: adapter.identity(target))
    assert identity.name == "d1"


def test_interface_state_follows_the_link(lab):
    def state() -> str:
        interfaces = run(lambda adapter: adapter.interfaces(DeviceTarget(lab.addresses[2])))
        return {i.name: i.oper_status for i in interfaces}["d3-ge0"]

    lab.set_link(3, "d3-ge0", "down")
    try:
        deadline = time.monotonic() + 15  # the agent caches its interface table for a few seconds
        while state() == "up" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert state() in ("down", "lowerLayerDown")
    finally:
        lab.set_link(3, "d3-ge0", "up")


def test_counters_move_with_traffic(lab):
    target = DeviceTarget(lab.addresses[0])
    before = run(lambda adapter: adapter.read_counters(target))
    time.sleep(0.2)
    after = run(lambda adapter: adapter.read_counters(target))
    assert after.uptime_seconds >= before.uptime_seconds
    assert all(counter.high_capacity for counter in after.interfaces)
    loopback = [c for c in after.interfaces if c.index == 1][0]
    assert loopback.oper_status == "up" and loopback.in_octets >= 0


def test_wrong_credentials_and_unreachable_devices_give_clear_errors(lab):
    wrong = DeviceTarget(lab.addresses[0], snmp=SnmpCredentials(version="3", user="tmfoss",
                                                                auth_key=Secret("not-the-password"),
                                                                priv_key=Secret("tmfoss-priv-pass")),
                         timeout=0.5, retries=0)
    with pytest.raises(DeviceError) as refused:
        run(lambda adapter: adapter.identity(wrong))
    assert lab.addresses[0] in str(refused.value) and "not-the-password" not in str(refused.value)
    silent = DeviceTarget("127.77.1.250", timeout=0.3, retries=0)  # nothing listens there
    with pytest.raises(DeviceError) as timed_out:
        run(lambda adapter: adapter.discover(silent))
    assert "127.77.1.250" in str(timed_out.value)


def test_secrets_do_not_show(lab):
    secret = Secret("tmfoss-auth-pass")
    assert "tmfoss-auth-pass" not in repr(V3) and "tmfoss-auth-pass" not in f"{secret} {secret!s} %s" % secret
    assert secret.reveal() == "tmfoss-auth-pass"


def test_many_devices_are_read_concurrently(lab):
    async def all_devices(adapter):
        return await asyncio.gather(*(adapter.discover(DeviceTarget(address)) for address in lab.addresses * 5))

    found = run(all_devices)
    assert [d.identity.name for d in found] == ["d1", "d2", "d3"] * 5


class SlowPath:
    """A UDP relay on loopback that holds every request for `delay` seconds before passing it to a real agent:
    a device that answers slowly."""

    def __init__(self, agent: tuple[str, int], delay: float):
        import socket
        import threading

        self.agent, self.delay = agent, delay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._relay, daemon=True)
        self.thread.start()

    def _relay(self) -> None:
        import socket
        import threading

        while self.running:
            try:
                data, client = self.sock.recvfrom(65535)
            except OSError:
                return

            def answer(data=data, client=client):
                time.sleep(self.delay)
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as upstream:
                    upstream.settimeout(5)
                    upstream.sendto(data, self.agent)
                    try:
                        reply, _ = upstream.recvfrom(65535)
                    except OSError:
                        return
                if self.running:
                    self.sock.sendto(reply, client)

            threading.Thread(target=answer, daemon=True).start()

    def close(self) -> None:
        self.running = False
        self.sock.close()


def test_a_slow_device_times_out_cleanly_or_is_waited_for(lab):
    relay = SlowPath((lab.addresses[0], 161), delay=0.6)
    try:
        impatient = DeviceTarget("127.0.0.1", port=relay.port, timeout=0.3, retries=0)
        with pytest.raises(DeviceError, match="No SNMP response"):
            run(lambda adapter: adapter.identity(impatient))
        patient = DeviceTarget("127.0.0.1", port=relay.port, timeout=2.0, retries=0)
        assert run(lambda adapter: adapter.identity(patient)).name == "d1"
    finally:
        relay.close()


WRITER = SnmpCredentials(community=Secret("private"))
D1_GE0 = 2  # ifIndex of d1-ge0 (lo is 1)


def test_set_changes_the_interface_and_returns_what_it_replaced(lab):
    target = DeviceTarget(lab.addresses[0], snmp=WRITER)
    previous = run(lambda adapter: adapter.configure_interface(target, D1_GE0, alias="to d2"))
    assert previous == {f"1.3.6.1.2.1.31.1.1.1.18.{D1_GE0}": ""}
    after = run(lambda adapter: adapter.interfaces(DeviceTarget(lab.addresses[0])))
    assert {i.index: i.alias for i in after}[D1_GE0] == "to d2"
    run(lambda adapter: adapter.set(target, previous))  # the undo the caller was handed
    after = run(lambda adapter: adapter.interfaces(DeviceTarget(lab.addresses[0])))
    assert {i.index: i.alias for i in after}[D1_GE0] == ""


def test_set_over_v3_takes_an_interface_down_and_up(lab):
    target = DeviceTarget(lab.addresses[0], snmp=V3)
    admin = f"1.3.6.1.2.1.2.2.1.7.{D1_GE0}"
    try:
        run(lambda adapter: adapter.configure_interface(target, D1_GE0, admin_status="down"))
        assert run(lambda adapter: adapter.get(target, [admin])) == {admin: 2}
    finally:
        run(lambda adapter: adapter.configure_interface(target, D1_GE0, admin_status="up"))
    assert run(lambda adapter: adapter.get(target, [admin])) == {admin: 1}


def test_a_refused_set_changes_nothing_and_names_the_object(lab):
    target = DeviceTarget(lab.addresses[0], snmp=WRITER)
    alias, description = f"1.3.6.1.2.1.31.1.1.1.18.{D1_GE0}", "1.3.6.1.2.1.1.1.0"
    with pytest.raises(DeviceError) as refused:  # sysDescr is read-only: the whole PDU is refused
        run(lambda adapter: adapter.set(target, {alias: "half done?", description: "renamed"}))
    assert "notWritable" in refused.value.reason and description in refused.value.reason
    assert run(lambda adapter: adapter.get(target, [alias])) == {alias: ""}
    read_only = DeviceTarget(lab.addresses[0], timeout=1, retries=0)  # community public may only read
    with pytest.raises(DeviceError) as no_access:
        run(lambda adapter: adapter.set(read_only, {alias: "nope"}))
    assert "private" not in str(no_access.value)
    with pytest.raises(ValueError):
        run(lambda adapter: adapter.configure_interface(target, D1_GE0, admin_status="sideways"))

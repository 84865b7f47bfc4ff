"""The NETCONF adapter against real servers (yuma123 netconfd behind OpenSSH in the device lab)."""
from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from pathlib import Path

import pytest
from lxml import etree

from tmf_oss.southbound.adapter import DeviceError, Secret
from tmf_oss.southbound.faults import NETCONF_NOTIFICATION, FaultRecord
from tmf_oss.southbound.netconf import NetconfAdapter, NetconfCredentials, fault_record

SERVICES_NS = "urn:tmf-oss:lab-services"
SERVICES_FILTER = f'<services xmlns="{SERVICES_NS}"/>'


def vlan(vlan_id: int | str, interface: str, name: str | None = None, description: str | None = None) -> str:
    leaves = f"<id>{vlan_id}</id><interface>{interface}</interface>"
    if name is not None:
        leaves += f"<name>{name}</name>"
    if description is not None:
        leaves += f"<description>{description}</description>"
    return f"<vlan>{leaves}</vlan>"


def services(*vlans: str) -> str:
    return f'<services xmlns="{SERVICES_NS}">{"".join(vlans)}</services>'


@pytest.fixture(scope="module")
def adapter(lab) -> NetconfAdapter:
    return NetconfAdapter(known_hosts=str(lab.known_hosts), connect_timeout=5, rpc_timeout=20)


@pytest.fixture(scope="module")
def root(lab) -> NetconfCredentials:
    return NetconfCredentials(user="root", key_file=str(lab.ssh_key))


def running_vlans(adapter: NetconfAdapter, address: str, creds: NetconfCredentials) -> dict[int, dict[str, str]]:
    data = asyncio.run(adapter.get_config(address, creds, filter_xml=SERVICES_FILTER))
    found = {}
    for entry in etree.fromstring(data.encode()).iter(f"{{{SERVICES_NS}}}vlan"):
        leaves = {etree.QName(leaf).localname: leaf.text for leaf in entry}
        found[int(leaves.pop("id"))] = leaves
    return found


def test_reads_the_running_configuration_and_interface_state(lab, adapter, root):
    running = asyncio.run(adapter.get_config(lab.addresses[0], root))
    assert etree.QName(etree.fromstring(running.encode())).localname == "data"
    interfaces = {entry["name"]: entry for entry in asyncio.run(adapter.interfaces(lab.addresses[0], root))}
    assert {"lo", "d1-ge1"} <= set(interfaces)
    assert interfaces["d1-ge1"]["oper-status"] == "up"


def test_a_vlan_service_applied_shows_in_the_running_configuration(lab, adapter, root):
    address = lab.addresses[0]
    asyncio.run(adapter.apply_config(address, root, services(vlan(100, "d1-ge1", "customer-a", "lab service"))))
    assert running_vlans(adapter, address, root)[100] == {
        "name": "customer-a", "interface": "d1-ge1", "description": "lab service"}


@pytest.mark.parametrize("bad_change, server_reason", [
    (services(vlan(121, "d1-ge1", "ok"), vlan(122, "d1-ge1")), "required value instance not found"),
    (services(vlan(123, "d1-ge1", "ok"), vlan(5000, "d1-ge1", "too-high")), "value not in range"),
], ids=["missing-mandatory-name", "id-out-of-range"])
def test_a_rejected_change_leaves_the_running_configuration_as_it_was(lab, adapter, root, bad_change, server_reason):
    address = lab.addresses[0]
    asyncio.run(adapter.apply_config(address, root, services(vlan(110, "d1-ge1", "kept"))))
    before = running_vlans(adapter, address, root)

    with pytest.raises(DeviceError) as rejected:
        asyncio.run(adapter.apply_config(address, root, bad_change))

    assert rejected.value.address == address
    assert server_reason in rejected.value.reason and "unchanged" in rejected.value.reason
    assert running_vlans(adapter, address, root) == before  # the valid half of the change was not applied either
    assert before[110]["name"] == "kept"
    # Nothing was left locked or pending: the next change goes through.
    asyncio.run(adapter.apply_config(address, root, services(vlan(111, "d1-ge1", "after"))))
    assert 111 in running_vlans(adapter, address, root)


def test_a_key_the_device_does_not_accept_fails_authentication(lab, adapter, tmp_path: Path):
    stranger = tmp_path / "stranger_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    with pytest.raises(DeviceError, match="authentication"):
        asyncio.run(adapter.get_config(lab.addresses[0], NetconfCredentials(user="root", key_file=str(stranger))))


def test_a_wrong_password_fails_authentication_and_is_not_shown(lab, adapter):
    password = "not-the-password-4711"
    with pytest.raises(DeviceError, match="authentication") as failed:
        asyncio.run(adapter.get_config(lab.addresses[0], NetconfCredentials(user="root", password=Secret(password))))
    assert password not in str(failed.value) and password not in repr(failed.value)


def test_an_address_without_a_device_is_unreachable(adapter, root):
    with pytest.raises(DeviceError, match="unreachable") as failed:
        asyncio.run(adapter.get_config("127.77.1.250", root))
    assert failed.value.address == "127.77.1.250"


def test_a_host_key_not_in_known_hosts_is_refused(lab, root, tmp_path: Path):
    empty_known_hosts = tmp_path / "known_hosts"
    empty_known_hosts.write_text("")
    strict = NetconfAdapter(known_hosts=str(empty_known_hosts), connect_timeout=5)
    with pytest.raises(DeviceError, match="host key"):
        asyncio.run(strict.get_config(lab.addresses[0], root))


def test_link_down_and_up_arrive_as_fault_records(lab, adapter, root):
    address = lab.addresses[1]
    records: list[FaultRecord] = []
    stop, subscribed = threading.Event(), threading.Event()

    def wait_for(kind: str) -> FaultRecord:
        deadline = time.monotonic() + 15  # the server polls the interfaces every few seconds
        while time.monotonic() < deadline:
            for record in records:
                if record.kind == kind and record.interface == "d2-ge1":
                    return record
            time.sleep(0.2)
        pytest.fail(f"no {kind} notification for d2-ge1 within 15 s; got {[(r.kind, r.interface) for r in records]}")

    listener = threading.Thread(
        target=lambda: asyncio.run(adapter.notifications(address, root, records.append, stop, subscribed)))
    listener.start()
    try:
        assert subscribed.wait(15), "the subscription was not set up"
        lab.set_link(2, "d2-ge1", "down")
        try:
            down = wait_for("link-down")
        finally:
            lab.set_link(2, "d2-ge1", "up")
        up = wait_for("link-up")
    finally:
        stop.set()
        listener.join(10)
    assert not listener.is_alive()

    assert down.source == NETCONF_NOTIFICATION and down.device_address == address
    assert down.severity == "major" and up.severity == "cleared"
    assert down.device_time is not None and down.device_time <= up.device_time
    assert "<link-down" in down.details["xml"] and down.details["values"]["if-name"] == "d2-ge1"


def test_a_notification_without_an_interface_is_kept_as_indeterminate():
    change = """<notification xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0">
      <eventTime>2026-01-02T03:04:05Z</eventTime>
      <netconf-config-change xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-notifications">
        <changed-by><username>root</username><session-id>3</session-id></changed-by>
        <datastore>running</datastore>
        <edit><target>/services/vlan[id='100']</target><operation>create</operation></edit>
      </netconf-config-change>
    </notification>"""
    record = fault_record("127.77.1.1", change)
    assert record.kind == "netconf-config-change" and record.severity == "indeterminate"
    assert record.interface is None and record.source == NETCONF_NOTIFICATION
    assert record.device_time.isoformat() == "2026-01-02T03:04:05+00:00"
    assert record.details["values"]["datastore"] == "running" and record.details["xml"] == change
    assert fault_record("127.77.1.1", "<not-xml") is None

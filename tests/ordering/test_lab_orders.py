"""TMF641 end to end on real devices: VLAN services ordered, changed and removed on the device lab's NETCONF
servers (yuma123 netconfd, our YANG module), read back from the devices' running configuration; a device that
refuses; a long order cancelled half way. The orchestrator runs in this process against the test's database; the
inventory comes from `tmf-oss discover`; a hub subscriber on loopback hears the order's events.
"""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from lxml import etree

from tests.api.helpers import Listener
from tests.e2e.test_serve import tmf_oss
from tests.ordering.support import ORDERING, SERVICES, depends_on, order, seed_catalog, vlan_item
from tmf_oss.events.loop import DispatchLoop
from tmf_oss.inventory.model import DiscoveredResource
from tmf_oss.ordering.model import OrderDeviceChange
from tmf_oss.ordering.orchestrator import Orchestrator
from tmf_oss.southbound.adapter import NetconfCredentials
from tmf_oss.southbound.netconf import NetconfAdapter

INVENTORY = "/tmf-api/resourceInventoryManagement/v5"
LAB_NS = "urn:tmf-oss:lab-services"
DEADLINE = 60.0


@pytest.fixture
def network(client, app, settings, lab, tmp_path: Path):
    """The lab's devices discovered into the inventory, the catalog loaded, an orchestrator and a dispatcher
    running, and a listener subscribed to the ordering API's events."""
    devices_file = tmp_path / "devices.yaml"
    devices_file.write_text(f'defaults:\n  netconf: {{user: root, key_file: "{lab.ssh_key}"}}\ndevices:\n'
                            + "".join(f"  - address: {address}\n" for address in lab.addresses))
    discovered = tmf_oss("discover", "--devices", str(devices_file), "--database-url", settings.database_url,
                         "--json")
    assert discovered.returncode == 0, discovered.stdout + discovered.stderr
    assert [outcome["error"] for outcome in json.loads(discovered.stdout)] == [None] * len(lab.addresses)
    seed_catalog(app.platform)
    lab_settings = settings.with_overrides(devices_file=str(devices_file), netconf_known_hosts=str(lab.known_hosts),
                                           device_lock_wait_seconds=1.0, dispatch_interval_seconds=0.05)
    with Listener() as listener:
        assert client.post(f"{ORDERING}/hub", json={"callback": listener.url}).status_code == 201
        orchestrator = Orchestrator(app.platform, lab_settings).start()
        dispatcher = DispatchLoop(app.platform, settings=lab_settings).start()
        try:
            yield Network(client, app.platform, lab, listener)
        finally:
            orchestrator.close()
            dispatcher.close()


class Network:
    def __init__(self, client, platform, lab, listener):
        self.client, self.platform, self.lab, self.listener = client, platform, lab, listener
        self.adapter = NetconfAdapter(known_hosts=str(lab.known_hosts), connect_timeout=5, rpc_timeout=20)
        self.creds = NetconfCredentials(user="root", key_file=str(lab.ssh_key))

    def port(self, device: int, interface: str) -> str:
        """The TMF639 id discovery gave a device's interface."""
        key = f"device:{self.lab.addresses[device - 1]}/interface:{interface}"
        with self.platform.db.reading() as session:
            return session.get(DiscoveredResource, key).resource_id

    def vlans(self, device: int) -> dict[int, str]:
        """The VLANs in the device's running configuration: id -> interface."""
        data = asyncio.run(self.adapter.get_config(self.lab.addresses[device - 1], self.creds,
                                                   filter_xml=f'<services xmlns="{LAB_NS}"/>'))
        root = etree.fromstring(data.encode())
        return {int(vlan.findtext(f"{{{LAB_NS}}}id")): vlan.findtext(f"{{{LAB_NS}}}interface")
                for vlan in root.iter(f"{{{LAB_NS}}}vlan")}

    def submit(self, body: dict) -> dict:
        response = self.client.post(f"{ORDERING}/serviceOrder", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def order(self, ident: str) -> dict:
        return self.client.get(f"{ORDERING}/serviceOrder/{ident}").json()

    def wait_for(self, ident: str, *states: str, deadline: float = DEADLINE) -> dict:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            found = self.order(ident)
            if found["state"] in states:
                return found
            time.sleep(0.1)
        pytest.fail(f"order {ident} did not reach {states}: {json.dumps(self.order(ident), indent=1)}")

    def states_heard(self, ident: str) -> list[str]:
        return [event["event"]["serviceOrder"]["state"] for event in self.listener.received
                if event["eventType"] == "ServiceOrderStateChangeEvent"
                and event["event"]["serviceOrder"]["id"] == ident]


def test_a_vlan_is_ordered_changed_and_removed_on_the_devices(network: Network):
    near, far = network.port(1, "d1-ge1"), network.port(2, "d2-ge0")
    created = network.submit(order(vlan_item("1", [near, far], 100, service={"name": "vlan 100 d1-d2"})))
    done = network.wait_for(created["id"], "completed", "failed", "partial")
    assert done["state"] == "completed", done
    assert network.vlans(1)[100] == "d1-ge1" and network.vlans(2)[100] == "d2-ge0"
    item = done["serviceOrderItem"][0]
    assert item["state"] == "completed" and done["milestone"][0]["name"] == "itemCompleted"
    service = network.client.get(f"{SERVICES}/service/{item['service']['id']}").json()
    assert service["state"] == "active" and service["name"] == "vlan 100 d1-d2"
    assert {"name": "vlanId", "value": 100} .items() <= service["serviceCharacteristic"][0].items()
    supporting = {ref["id"] for ref in service["supportingResource"]}
    assert {near, far} < supporting
    vlan_resources = network.client.get(f"{INVENTORY}/resource", params={"category": "vlan"}).json()
    assert sorted(resource["name"] for resource in vlan_resources) == sorted(
        ["vlan 100 on d1/d1-ge1", "vlan 100 on d2/d2-ge0"])  # the ports' names as discovery gave them
    assert {resource["id"] for resource in vlan_resources} == supporting - {near, far}
    end = time.monotonic() + 15
    while "completed" not in network.states_heard(created["id"]) and time.monotonic() < end:
        time.sleep(0.1)
    assert network.states_heard(created["id"])[-2:] == ["inProgress", "completed"]
    with network.platform.db.reading() as session:  # an ended order keeps no way back
        assert session.query(OrderDeviceChange).filter_by(order_id=created["id"]).count() == 0

    changed = network.submit(order({"id": "1", "action": "modify", "service": {
        "id": service["id"], "serviceCharacteristic": [{"name": "vlanId", "value": 200}]}}))
    assert network.wait_for(changed["id"], "completed", "failed")["state"] == "completed"
    assert 100 not in network.vlans(1) and network.vlans(1)[200] == "d1-ge1" and network.vlans(2)[200] == "d2-ge0"
    service = network.client.get(f"{SERVICES}/service/{service['id']}").json()
    assert service["serviceCharacteristic"][0]["value"] == 200
    names = sorted(r["name"] for r in network.client.get(f"{INVENTORY}/resource", params={"category": "vlan"}).json())
    assert names and all(name.startswith("vlan 200 on") for name in names)

    removed = network.submit(order({"id": "1", "action": "delete", "service": {"id": service["id"]}}))
    assert network.wait_for(removed["id"], "completed", "failed")["state"] == "completed"
    assert 200 not in network.vlans(1) and 200 not in network.vlans(2)
    assert network.client.get(f"{SERVICES}/service/{service['id']}").json()["state"] == "terminated"
    assert network.client.get(f"{INVENTORY}/resource", params={"category": "vlan"}).json() == []


def test_a_device_that_refuses_fails_the_order_and_the_other_device_is_rolled_back(network: Network):
    near, far = network.port(1, "d1-ge1"), network.port(2, "d2-ge0")
    # Another manager holds the far device's configuration lock: the device refuses our change.
    with network.adapter._session(network.lab.addresses[1], network.creds) as other_manager:
        other_manager.lock("candidate")
        try:
            created = network.submit(order(vlan_item("1", [near, far], 300)))
            failed = network.wait_for(created["id"], "failed", "completed", "partial")
        finally:
            other_manager.unlock("candidate")
    assert failed["state"] == "failed"
    item = failed["serviceOrderItem"][0]
    assert item["state"] == "failed"
    message = item["errorMessage"][0]["message"]
    assert network.lab.addresses[1] in message and "lock" in message.lower(), message
    assert network.lab.addresses[1] in failed["errorMessage"][0]["message"]
    assert 300 not in network.vlans(1) and 300 not in network.vlans(2)  # the near device was rolled back
    assert network.client.get(f"{SERVICES}/service").json() == []


def test_cancelling_a_long_order_undoes_what_it_did(network: Network):
    near, far = network.port(2, "d2-ge1"), network.port(3, "d3-ge0")
    items = [vlan_item(str(n), [near, far], 1000 + n,
                       **({"serviceOrderItemRelationship": depends_on(str(n - 1))} if n else {}))
             for n in range(120)]  # long enough to be caught half way: about 40 ms an item when the machine is idle
    created = network.submit(order(*items))
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        states = [item["state"] for item in network.order(created["id"])["serviceOrderItem"]]
        if states.count("completed") >= 2:
            break
        time.sleep(0.05)
    task = network.client.post(f"{ORDERING}/cancelServiceOrder",
                               json={"serviceOrder": {"id": created["id"]}, "cancellationReason": "not needed"})
    assert task.status_code == 201, task.text
    cancelled = network.wait_for(created["id"], "cancelled", "failed")
    assert cancelled["state"] == "cancelled", cancelled
    assert {item["state"] for item in cancelled["serviceOrderItem"]} == {"cancelled"}
    assert not [vlan for vlan in network.vlans(2) if vlan >= 1000]
    assert not [vlan for vlan in network.vlans(3) if vlan >= 1000]
    assert network.client.get(f"{SERVICES}/service", params={"state": "active"}).json() == []
    assert network.client.get(f"{INVENTORY}/resource", params={"category": "vlan"}).json() == []
    finished = network.client.get(f"{ORDERING}/cancelServiceOrder/{task.json()['id']}").json()
    assert finished["state"] == "done"
    end = time.monotonic() + 15
    while "cancelled" not in network.states_heard(created["id"]) and time.monotonic() < end:
        time.sleep(0.1)  # events are delivered after the commit, by the dispatcher
    heard = network.states_heard(created["id"])
    assert heard.index("assessingCancellation") < heard.index("pendingCancellation") < heard.index("cancelled")

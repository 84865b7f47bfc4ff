"""Workers as separate processes: one killed in the middle of an order, others taking it over and finishing it,
the devices ending up exactly as the order says, every item done once.

`tmf-oss worker` processes run the orchestrator against the test's database (NOTIFY wakes them on PostgreSQL;
on SQLite they look every second). Leases are short here so the takeover happens within the test.
"""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from lxml import etree

from tests.e2e.processes import TmfOssProcess
from tests.e2e.test_serve import tmf_oss
from tests.ordering.support import ORDERING, SERVICES, depends_on, order, seed_catalog, vlan_item
from tmf_oss.inventory.model import DiscoveredResource
from tmf_oss.southbound.adapter import NetconfCredentials
from tmf_oss.southbound.netconf import NetconfAdapter

LAB_NS = "urn:tmf-oss:lab-services"
ITEMS = 30
FIRST_VLAN = 2000
LEASE_SECONDS = 3


def _vlans(adapter, creds, address: str) -> set[int]:
    data = asyncio.run(adapter.get_config(address, creds, filter_xml=f'<services xmlns="{LAB_NS}"/>'))
    return {int(vlan.findtext(f"{{{LAB_NS}}}id")) for vlan in etree.fromstring(data.encode()).iter(f"{{{LAB_NS}}}vlan")}


def _remove_vlans(adapter, creds, address: str, vlans) -> None:
    if vlans:
        entries = "".join(f'<vlan nc:operation="remove"><id>{vlan}</id></vlan>' for vlan in vlans)
        asyncio.run(adapter.apply_config(address, creds, f'<services xmlns="{LAB_NS}" '
                                         f'xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">{entries}</services>'))


def test_a_killed_workers_order_is_finished_by_the_others(client, app, settings, lab, tmp_path: Path):
    devices_file = tmp_path / "devices.yaml"
    devices_file.write_text(f'defaults:\n  netconf: {{user: root, key_file: "{lab.ssh_key}"}}\ndevices:\n'
                            + "".join(f"  - address: {address}\n" for address in lab.addresses))
    discovered = tmf_oss("discover", "--devices", str(devices_file), "--database-url", settings.database_url, "--json")
    assert discovered.returncode == 0, discovered.stdout + discovered.stderr
    seed_catalog(app.platform)
    with app.platform.db.reading() as session:
        near, far = (session.get(DiscoveredResource, f"device:{lab.addresses[n]}/interface:{name}").resource_id
                     for n, name in ((1, "d2-ge1"), (2, "d3-ge0")))
    adapter = NetconfAdapter(known_hosts=str(lab.known_hosts), connect_timeout=5, rpc_timeout=20)
    creds = NetconfCredentials(user="root", key_file=str(lab.ssh_key))
    env = {"TMF_OSS_DEVICES_FILE": str(devices_file), "TMF_OSS_NETCONF_KNOWN_HOSTS": str(lab.known_hosts),
           "TMF_OSS_ORDER_LEASE_SECONDS": str(LEASE_SECONDS), "TMF_OSS_LOG_LEVEL": "info"}
    workers = [TmfOssProcess(["worker"], settings.database_url, tmp_path, env)]
    try:
        items = [vlan_item(str(n), [near, far], FIRST_VLAN + n,
                           **({"serviceOrderItemRelationship": depends_on(str(n - 1))} if n else {}))
                 for n in range(ITEMS)]
        created = client.post(f"{ORDERING}/serviceOrder", json=order(*items)).json()

        def completed() -> int:
            found = client.get(f"{ORDERING}/serviceOrder/{created['id']}").json()
            return sum(item["state"] == "completed" for item in found["serviceOrderItem"])

        deadline = time.monotonic() + 60
        while completed() < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert 3 <= completed() < ITEMS, "the order should be half done when the worker dies"
        workers[0].kill()
        stranded = client.get(f"{ORDERING}/serviceOrder/{created['id']}").json()
        assert stranded["state"] == "inProgress"

        # Two new workers; the dead one's lease lapses and exactly one of them takes the order over.
        workers += [TmfOssProcess(["worker"], settings.database_url, tmp_path, env) for _ in range(2)]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            finished = client.get(f"{ORDERING}/serviceOrder/{created['id']}").json()
            if finished["state"] not in ("inProgress", "acknowledged"):
                break
            time.sleep(0.2)
        assert finished["state"] == "completed", json.dumps(finished, indent=1)
        assert [item["state"] for item in finished["serviceOrderItem"]] == ["completed"] * ITEMS
        assert sorted(milestone["serviceOrderItem"][0]["itemId"] for milestone in finished["milestone"]) == sorted(
            str(n) for n in range(ITEMS))  # each item delivered once
        wanted = set(range(FIRST_VLAN, FIRST_VLAN + ITEMS))
        for address in lab.addresses[1:]:
            assert {vlan for vlan in _vlans(adapter, creds, address) if vlan >= FIRST_VLAN} == wanted
        services = client.get(f"{SERVICES}/service", params={"state": "active", "limit": 1000}).json()
        assert len(services) == ITEMS
        assert len({item["service"]["id"] for item in finished["serviceOrderItem"]}) == ITEMS
    finally:
        for worker in workers:
            worker.stop()
        for address in lab.addresses[1:]:
            _remove_vlans(adapter, creds, address, {v for v in _vlans(adapter, creds, address) if v >= FIRST_VLAN})

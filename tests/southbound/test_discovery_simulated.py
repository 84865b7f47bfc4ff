"""Discovery of simulated devices (snmpsim): physical components (ENTITY-MIB) and their containment."""
from __future__ import annotations


import pytest

from tests.southbound.test_discovery import by_name, characteristic, find
from tmf_oss.inventory.discovery import discover_and_sync
from tmf_oss.inventory.topology import descendants
from tmf_oss.southbound.devices import parse_devices
from tmf_oss.southbound.simulation import SimulatedNetwork, simulator_path

pytestmark = pytest.mark.skipif(simulator_path() is None, reason="snmpsim is not installed")


@pytest.fixture(scope="module")
def network():
    simulated = SimulatedNetwork(devices=2, interfaces=3, processes=1, prefix="127.0.3").start()
    yield simulated
    simulated.stop()


def test_chassis_card_ports_and_interfaces(client, app, network):
    devices = parse_devices(network.devices_document())
    outcomes = discover_and_sync(app.platform, devices, base_url="http://testserver")
    assert [o.error for o in outcomes] == [None, None]
    device = by_name(client, "sim001")
    assert characteristic(device, "serialNumber") == "SN000001"
    card = by_name(client, "sim001/line card 0")
    assert card["@type"] == "PhysicalResource" and card["category"] == "module"
    assert characteristic(card, "serialNumber") == "LC000001"
    ports = [by_name(client, f"sim001/port ge-0/0/{n}") for n in (1, 2, 3)]
    interfaces = [by_name(client, f"sim001/ge-0/0/{n}") for n in (1, 2, 3)]
    contained = {r["resource"]["id"] for r in device["resourceRelationship"] if r["relationshipType"] == "contains"}
    assert contained == {card["id"]} | {i["id"] for i in interfaces}
    assert {r["resource"]["id"] for r in card["resourceRelationship"]} == {p["id"] for p in ports}
    with app.platform.db.reading() as session:
        assert set(descendants(session, device["id"])) == contained | {p["id"] for p in ports}
    assert len(find(client, category="port")) == 6 and characteristic(interfaces[0], "ifAlias") == "uplink 1"
    # LLDP: sim001's ge-0/0/1 is cabled to sim002's ge-0/0/2, and each end says so.
    near, far = by_name(client, "sim001/ge-0/0/1"), by_name(client, "sim002/ge-0/0/2")
    assert [(r["relationshipType"], r["resource"]["id"]) for r in near["resourceRelationship"]] == [
        ("connectedTo", far["id"])]
    assert [(r["relationshipType"], r["resource"]["id"]) for r in far["resourceRelationship"]] == [
        ("connectedTo", near["id"])]

    network.report_down({2})
    try:
        outcomes = discover_and_sync(app.platform, devices, base_url="http://testserver")
        assert [len(o.report.updated) for o in outcomes] == [1, 1]
        assert by_name(client, "sim001/ge-0/0/2")["operationalState"] == "disabled"
    finally:
        network.report_down(set())


def test_the_demo_command_serves_a_discovered_network(tmp_path):
    import httpx

    from tests.e2e.processes import TmfOssProcess

    demo = TmfOssProcess(["demo", "--devices", "2", "--interfaces", "2"], f"sqlite:///{tmp_path / 'demo.db'}",
                         tmp_path).wait_until_serving(timeout=90)
    try:
        resources = httpx.get(f"{demo.base}/tmf-api/resourceInventoryManagement/v5/resource",
                              params={"limit": 100}).json()
    finally:
        demo.stop()
    # Per device: itself, a line card, 2 ports, 2 interfaces.
    assert len(resources) == 12
    assert sorted(r["name"] for r in resources if r.get("category") == "module") == ["sim001/line card 0",
                                                                                     "sim002/line card 0"]


def test_the_worker_schedule_rediscovers_and_follows_the_devices_file(client, app, network, tmp_path):
    import time

    import yaml

    from tmf_oss.inventory.discovery_schedule import DiscoverySchedule

    document = network.devices_document()
    first_only = {"defaults": {"rediscover_seconds": 1}, "devices": document["devices"][:1]}
    devices_file = tmp_path / "devices.yaml"
    devices_file.write_text(yaml.safe_dump(first_only))
    schedule = DiscoverySchedule(app.platform, str(devices_file), base_url="http://testserver").start()
    try:
        deadline = time.monotonic() + 60
        while schedule.passes < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert schedule.passes >= 2  # discovered, then again a second later
        assert [d["name"] for d in find(client, name="sim001")] == ["sim001"]
        assert find(client, name="sim002") == []
        devices_file.write_text(yaml.safe_dump({"defaults": {"rediscover_seconds": 1}, **document}))
        deadline = time.monotonic() + 60
        while not find(client, name="sim002") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [d["name"] for d in find(client, name="sim002")] == ["sim002"]
    finally:
        schedule.close()

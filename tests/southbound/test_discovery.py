"""Discovery of the lab's devices into the TMF639 inventory, and reconciliation on rediscovery."""
from __future__ import annotations

import time
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from tests.api.helpers import V5
from tmf_oss.events.model import OutboxEvent
from tmf_oss.inventory.discovery import InventorySync, discover_and_sync
from tmf_oss.inventory.topology import descendants
from tmf_oss.southbound.adapter import DeviceTarget
from tmf_oss.southbound.devices import DeviceFileError, parse_devices
from tmf_oss.southbound.snmp import SnmpAdapter

MERGE = {"content-type": "application/merge-patch+json"}


def discover(app, lab, addresses=None, **device_settings):
    devices = parse_devices({"devices": [{"address": address, **device_settings}
                                         for address in (addresses or lab.addresses)]})
    return discover_and_sync(app.platform, devices, base_url="http://testserver")


def find(client, **query) -> list[dict]:
    return client.get(f"{V5}/resource", params={"limit": 1000, **query}).json()


def by_name(client, name: str) -> dict:
    [found] = find(client, name=name)
    return found


def characteristic(resource: dict, name: str):
    return {c["name"]: c["value"] for c in resource.get("resourceCharacteristic", [])}.get(name)


def events_count(app) -> int:
    with app.platform.db.reading() as session:
        return session.execute(select(func.count()).select_from(OutboxEvent)).scalar()


def wait_for_interfaces(lab, device: int, predicate) -> None:
    """The agent caches its interface table for a few seconds; wait until what it reports satisfies `predicate`
    ({interface name: oper status} -> bool)."""
    import asyncio

    async def interfaces():
        adapter = SnmpAdapter()
        try:
            found = await adapter.interfaces(DeviceTarget(lab.addresses[device - 1]))
        finally:
            adapter.close()
        return {i.name: i.oper_status for i in found}

    deadline = time.monotonic() + 30
    while not predicate(asyncio.run(interfaces())):
        assert time.monotonic() < deadline, "the agent never reported the change"
        time.sleep(0.5)


def wait_for_oper_status(lab, device: int, interface: str, wanted: set[str]) -> None:
    wait_for_interfaces(lab, device, lambda found: found.get(interface) in wanted)


def test_devices_interfaces_and_containment(client, app, lab):
    outcomes = discover(app, lab)
    assert [outcome.error for outcome in outcomes] == [None, None, None]
    devices = find(client, **{"@type": "PhysicalResource"})
    assert sorted(d["name"] for d in devices) == ["d1", "d2", "d3"]
    interfaces = find(client, category="interface")
    assert sorted(i["name"] for i in interfaces) == ["d1/d1-ge1", "d1/lo", "d2/d2-ge0", "d2/d2-ge1", "d2/lo",
                                                      "d3/d3-ge0", "d3/lo"]
    d2 = by_name(client, "d2")
    assert characteristic(d2, "managementAddress") == lab.addresses[1]
    assert characteristic(d2, "systemLocation") == "lab rack 2" and d2["operationalState"] == "enabled"
    port = by_name(client, "d2/d2-ge1")
    assert port["@type"] == "LogicalResource" and port["operationalState"] == "enabled"
    assert port["administrativeState"] == "unlocked" and characteristic(port, "ifIndex") == 3
    assert characteristic(port, "macAddress").count(":") == 5
    contained = {r["resource"]["id"] for r in d2["resourceRelationship"] if r["relationshipType"] == "contains"}
    assert contained == {i["id"] for i in interfaces if i["name"].startswith("d2/")}
    with app.platform.db.reading() as session:
        assert set(descendants(session, d2["id"])) == contained
    # The filter language finds devices by what discovery recorded.
    assert [d["name"] for d in find(client, **{"resourceCharacteristic.value": lab.addresses[2]})] == ["d3"]


def test_rediscovery_without_change_writes_nothing(client, app, lab):
    discover(app, lab)
    before = events_count(app)
    [outcome, *_] = discover(app, lab)
    assert (outcome.report.created, outcome.report.updated, outcome.report.missing) == ([], [], [])
    assert events_count(app) == before


def test_a_link_going_down_changes_the_interface_state(client, app, lab):
    discover(app, lab, [lab.addresses[0]])
    lab.set_link(1, "d1-ge1", "down")
    try:
        wait_for_oper_status(lab, 1, "d1-ge1", {"down", "lowerLayerDown"})
        [outcome] = discover(app, lab, [lab.addresses[0]])
        port = by_name(client, "d1/d1-ge1")
        assert outcome.report.updated == [port["id"]]
        assert port["operationalState"] == "disabled" and port["administrativeState"] == "locked"
        with app.platform.db.reading() as session:
            latest = session.execute(select(OutboxEvent.event_type, OutboxEvent.entity_id)
                                     .order_by(OutboxEvent.seq.desc()).limit(1)).one()
        assert tuple(latest) == ("ResourceStateChangeEvent", port["id"])
    finally:
        lab.set_link(1, "d1-ge1", "up")
    wait_for_oper_status(lab, 1, "d1-ge1", {"up"})
    discover(app, lab, [lab.addresses[0]])
    assert by_name(client, "d1/d1-ge1")["operationalState"] == "enabled"


def test_what_people_edit_survives_rediscovery(client, app, lab):
    discover(app, lab, [lab.addresses[2]])
    d3 = by_name(client, "d3")
    edited = client.patch(f"{V5}/resource/{d3['id']}", headers=MERGE, json={
        "@type": "PhysicalResource", "description": "spare router, rack 7",
        "resourceCharacteristic": d3["resourceCharacteristic"] + [
            {"name": "owner", "value": "noc", "@type": "StringCharacteristic"}],
        "resourceRelationship": d3["resourceRelationship"] + [
            {"@type": "ResourceRelationship", "relationshipType": "reliesOn",
             "resource": {"@type": "ResourceRef", "id": by_name(client, "d3/lo")["id"]}}]})
    assert edited.status_code == 200, edited.text
    [outcome] = discover(app, lab, [lab.addresses[2]])
    assert outcome.report.updated == []
    d3 = by_name(client, "d3")
    assert d3["description"] == "spare router, rack 7" and characteristic(d3, "owner") == "noc"
    assert characteristic(d3, "managementAddress") == lab.addresses[2]
    assert "reliesOn" in {r["relationshipType"] for r in d3["resourceRelationship"]}


def test_a_vanished_interface_is_marked_not_deleted_and_comes_back(client, app, lab):
    # net-snmp keeps a removed interface in its ifTable until it restarts, so the disappearance is made in what
    # the (real) discovery returned; the reconciliation is what this test is about.
    import asyncio

    async def discover_d3():
        adapter = SnmpAdapter()
        try:
            return await adapter.discover(DeviceTarget(lab.addresses[2]))
        finally:
            adapter.close()

    found = asyncio.run(discover_d3())
    sync = InventorySync(app.platform, base_url="http://testserver")
    sync.reconcile(found)
    loopback = by_name(client, "d3/lo")
    without = replace(found, interfaces=[i for i in found.interfaces if i.name != "lo"])
    report = sync.reconcile(without)
    assert report.missing == [loopback["id"]]
    gone = by_name(client, "d3/lo")
    assert gone["operationalState"] == "disabled" and characteristic(gone, "discoveryState") == "missing"
    assert gone["id"] in {r["resource"]["id"] for r in by_name(client, "d3")["resourceRelationship"]}
    assert sync.reconcile(without).missing == []  # reported once, not on every pass
    back = sync.reconcile(found)
    assert back.updated == [loopback["id"]] and back.created == []
    again = by_name(client, "d3/lo")
    assert again["operationalState"] == "enabled" and characteristic(again, "discoveryState") == "present"


def test_unreachable_devices_and_wrong_credentials_leave_the_inventory_alone(client, app, lab):
    outcomes = discover(app, lab, ["127.77.1.250"], timeout=0.3, retries=0)
    assert outcomes[0].address == "127.77.1.250" and "No SNMP response" in outcomes[0].error
    assert outcomes[0].report is None
    outcomes = discover(app, lab, [lab.addresses[0]], timeout=0.5, retries=0,
                        snmp={"version": "3", "user": "tmfoss", "auth_key": "wrong-password-1",
                              "priv_key": "tmfoss-priv-pass"})
    assert outcomes[0].error and "wrong-password-1" not in outcomes[0].error
    assert find(client) == [] and events_count(app) == 0


def test_device_files_are_checked(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_COMMUNITY", "public")
    (tmp_path / "community").write_text("private\n")
    devices = parse_devices({"defaults": {"snmp": {"community": {"env": "LAB_COMMUNITY"}}},
                             "devices": [{"address": "192.0.2.1"},
                                         {"address": "192.0.2.2", "snmp": {"community": {"file":
                                                                           str(tmp_path / "community")}}}]})
    assert [d.target.snmp.community.reveal() for d in devices] == ["public", "private"]
    assert "public" not in repr(devices)
    for document, complaint in [({}, "'devices' list"), ({"devices": [{}]}, "needs an 'address'"),
                                ({"devices": [{"address": "a"}, {"address": "a"}]}, "listed twice"),
                                ({"devices": [{"address": "a", "snmp": {"version": "1"}}]}, "version"),
                                ({"devices": [{"address": "a", "snmp": {"version": "3"}}]}, "needs a user"),
                                ({"devices": [{"address": "a", "snmp": {"community": {"env": "NOPE_X"}}}]},
                                 "NOPE_X"),
                                ({"devices": [{"address": "a", "colour": "red"}]}, "unknown settings")]:
        with pytest.raises(DeviceFileError, match=complaint):
            parse_devices(document)


def test_netconf_sections_are_inherited_checked_and_keep_their_secrets(monkeypatch):
    monkeypatch.setenv("NC_PASSWORD", "s3cret-nc")
    devices = parse_devices({"defaults": {"netconf": {"user": "oss", "password": {"env": "NC_PASSWORD"}}},
                             "devices": [{"address": "192.0.2.1"},
                                         {"address": "192.0.2.2", "netconf": {"port": 2830, "notifications": False}},
                                         {"address": "192.0.2.3", "netconf": None}]})
    first, second, third = devices
    assert (first.target.netconf.user, first.target.netconf.port, first.netconf_notifications) == ("oss", 830, True)
    assert first.target.netconf.password.reveal() == "s3cret-nc"
    assert (second.target.netconf.port, second.netconf_notifications) == (2830, False)
    assert third.target.netconf is None and not third.netconf_notifications
    assert "s3cret-nc" not in repr(devices)
    for section, complaint in [({"password": "x"}, "needs a user"), ({"user": "oss"}, "key_file or a password"),
                               ({"user": "oss", "key_file": "k", "notifications": "yes"}, "true or false"),
                               ({"user": "oss", "key_file": "k", "colour": "red"}, "unknown netconf"),
                               ("oss", "must be a mapping")]:
        with pytest.raises(DeviceFileError, match=complaint):
            parse_devices({"devices": [{"address": "a", "netconf": section}]})


def test_the_discover_command(client, app, lab, database_url, tmp_path):
    from tests.e2e.test_serve import tmf_oss

    devices = tmp_path / "devices.yaml"
    devices.write_text("defaults:\n  snmp: {version: \"2c\", community: {env: LAB_COMMUNITY}}\n"
                       f"devices:\n  - address: {lab.addresses[0]}\n  - address: 127.77.1.250\n    timeout: 0.3\n"
                       "    retries: 0\n")
    result = tmf_oss("discover", "--devices", str(devices), "--database-url", database_url,
                     env={"LAB_COMMUNITY": "public"})
    assert result.returncode == 1  # one device failed, and it says which
    assert f"{lab.addresses[0]}: device " in result.stdout and "3 created, 0 updated" in result.stdout
    assert "127.77.1.250: FAILED: SNMP GET failed: No SNMP response" in result.stdout
    assert sorted(r["name"] for r in find(client)) == ["d1", "d1/d1-ge1", "d1/lo"]
    missing_env = tmf_oss("discover", "--devices", str(devices), "--database-url", database_url)
    assert missing_env.returncode == 2 and "LAB_COMMUNITY" in missing_env.stderr


def test_a_resource_someone_deleted_is_created_again(client, app, lab):
    discover(app, lab, [lab.addresses[0]])
    port = by_name(client, "d1/d1-ge1")
    assert client.delete(f"{V5}/resource/{port['id']}").status_code == 204
    [outcome] = discover(app, lab, [lab.addresses[0]])
    again = by_name(client, "d1/d1-ge1")
    assert again["id"] != port["id"] and outcome.report.created == [again["id"]]
    contained = {r["resource"]["id"] for r in by_name(client, "d1")["resourceRelationship"]}
    assert again["id"] in contained and port["id"] not in contained

"""Alarms name the services they affect: the fault engine looks up the services the alarmed resource, or anything
it contains, supports (TMF642 affectedService / serviceAffecting)."""
from __future__ import annotations

from tests.alarms import test_fault_engine
from tests.alarms.test_fault_engine import alarms, engine_for, trap
from tests.services.test_service_api import V5, create, service_document

ALARMS_V4 = "/tmf-api/alarmManagement/v4"
network = test_fault_engine.network  # the fault engine tests' two routers, as a fixture here too


def by_cause(client) -> dict[str, dict]:
    return {a["probableCause"]: a for a in alarms(client)}


def test_an_alarm_on_a_port_names_the_services_the_port_supports(client, network, app):
    service = create(client, service_document("vlan 100 r1-r2", network["ports"]["r1"], network["ports"]["r2"]))
    _, store = engine_for(app)
    store.record_many([trap("linkDown", "192.0.2.1")])
    (alarm,) = alarms(client)
    assert alarm["serviceAffecting"] is True
    assert alarm["affectedService"] == [{"@type": "ServiceRef", "@referredType": "Service", "id": service["id"],
                                         "name": "vlan 100 r1-r2"}]
    assert alarms(client, f"affectedService.id={service['id']}") == [alarm]
    v4 = client.get(f"{ALARMS_V4}/alarm/{alarm['id']}")  # the v4 view shows the same list
    assert v4.status_code == 200 and v4.json()["affectedService"][0]["id"] == service["id"]


def test_an_alarm_on_the_device_names_the_services_of_its_ports(client, network, app):
    on_port = create(client, service_document("on r1 port", network["ports"]["r1"]))
    on_device = create(client, service_document("on r1 itself", network["devices"]["r1"]))
    create(client, service_document("on r2 port", network["ports"]["r2"]))
    _, store = engine_for(app)
    store.record_many([trap("coldStart", "192.0.2.1", index=None)])
    (alarm,) = alarms(client)
    assert alarm["alarmedObject"]["id"] == network["devices"]["r1"] and alarm["serviceAffecting"] is True
    assert sorted(ref["id"] for ref in alarm["affectedService"]) == sorted([on_port["id"], on_device["id"]])


def test_terminated_services_and_resources_without_services_are_not_affecting(client, network, app):
    create(client, service_document("old", network["ports"]["r1"], state="terminated"))
    _, store = engine_for(app)
    store.record_many([trap("linkDown", "192.0.2.1"), trap("linkDown", "198.51.100.7", index=9)])
    found = {a["alarmedObjectResolved"]: a for a in alarms(client)}
    for alarm in found.values():  # resolved (a terminated service only) and unresolved alike
        assert alarm["serviceAffecting"] is False and "affectedService" not in alarm


def test_a_repeat_brings_the_list_up_to_date(client, network, app):
    _, store = engine_for(app)
    store.record_many([trap("linkDown", "192.0.2.1")])
    assert alarms(client)[0]["serviceAffecting"] is False
    service = create(client, service_document("new", network["ports"]["r1"]))
    store.record_many([trap("linkDown", "192.0.2.1")])  # the engine notices the service written meanwhile
    (alarm,) = alarms(client)
    assert alarm["occurrenceCount"] == 2 and [ref["id"] for ref in alarm["affectedService"]] == [service["id"]]
    response = client.patch(f"{V5}/service/{service['id']}", json={"@type": "Service", "state": "terminated"},
                            headers={"Content-Type": "application/merge-patch+json"})
    assert response.status_code == 200
    store.record_many([trap("linkDown", "192.0.2.1")])
    (alarm,) = alarms(client)
    assert alarm["serviceAffecting"] is False and "affectedService" not in alarm

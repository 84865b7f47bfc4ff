"""TMF638 v5 service inventory over HTTP and from domain code, on SQLite and PostgreSQL."""
from __future__ import annotations

from sqlalchemy import select

from tests.api.helpers import assert_tmf_error
from tmf_oss.events.model import OutboxEvent
from tmf_oss.services.impact import ServiceImpact, affected_services
from tmf_oss.services.model import ServiceResourceRow
from tmf_oss.tmf.collection import RowUpdate

V5 = "/tmf-api/serviceInventoryManagement/v5"
MERGE = {"Content-Type": "application/merge-patch+json"}


def service_document(name: str, *resource_ids: str, state: str = "active", **more) -> dict:
    """A service as the orchestrator records it once an order has completed."""
    return {
        "@type": "Service", "name": name, "state": state, "startDate": "2025-03-01T10:00:00Z",
        "serviceSpecification": {"@type": "ServiceSpecificationRef", "id": "vlan-service", "name": "VLAN",
                                 "version": "1.0"},
        "serviceCharacteristic": [{"@type": "IntegerCharacteristic", "name": "vlanId", "value": 100,
                                   "valueType": "integer"}],
        "supportingResource": [{"@type": "ResourceRef", "@referredType": "LogicalResource", "id": ident}
                               for ident in resource_ids],
        "serviceOrderItem": [{"@type": "RelatedServiceOrderItem", "@referredType": "ServiceOrderItem",
                              "serviceOrderId": "order-1", "itemId": "1", "itemAction": "add"}],
        **more,
    }


def create(client, body: dict) -> dict:
    response = client.post(f"{V5}/service", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def listed(client, query: str) -> list[dict]:
    response = client.get(f"{V5}/service?{query}")
    assert response.status_code == 200, response.text
    return response.json()


def events(app) -> list[tuple[str, str]]:
    with app.platform.db.read() as connection:
        return [tuple(row) for row in connection.execute(
            select(OutboxEvent.event_type, OutboxEvent.entity_id).where(OutboxEvent.api == "tmf638")
            .order_by(OutboxEvent.seq))]


def impacts(app, *resource_ids: str) -> dict[str, list[ServiceImpact]]:
    with app.platform.db.transaction() as session:
        return affected_services(session, resource_ids)


def test_create_read_change_delete(client, app):
    created = create(client, service_document("vlan 100 r1-r2", "port-a", "port-b"))
    ident = created["id"]
    assert created["href"] == f"http://testserver{V5}/service/{ident}"
    assert created["serviceDate"] and created["name"] == "vlan 100 r1-r2"
    assert created["supportingResource"][0] == {"@type": "ResourceRef", "@referredType": "LogicalResource",
                                                "id": "port-a"}
    read = client.get(f"{V5}/service/{ident}")
    assert read.status_code == 200 and read.json() == created and read.headers["ETag"]
    changed = client.patch(f"{V5}/service/{ident}", json={"@type": "Service", "operatingStatus": "running"},
                           headers=MERGE)
    assert changed.status_code == 200, changed.text
    assert changed.json()["operatingStatus"] == "running"
    assert client.delete(f"{V5}/service/{ident}").status_code == 204
    assert_tmf_error(client.get(f"{V5}/service/{ident}"), 404)
    assert impacts(app, "port-a") == {"port-a": []}  # the links went with the service
    assert [kind for kind, _ in events(app)] == [
        "ServiceCreateEvent", "ServiceOperatingStatusChangeEvent", "ServiceDeleteEvent"]


def test_each_kind_of_change_has_its_event(client, app):
    ident = create(client, service_document("svc", "port-a"))["id"]
    for change in ({"name": "renamed"}, {"state": "suspended"}, {"operatingStatus": "degraded"},
                   {"state": "active", "operatingStatus": "running", "category": "CFS"}):
        response = client.patch(f"{V5}/service/{ident}", json={"@type": "Service", **change}, headers=MERGE)
        assert response.status_code == 200, response.text
    assert [kind for kind, _ in events(app)] == [
        "ServiceCreateEvent", "ServiceAttributeValueChangeEvent", "ServiceStateChangeEvent",
        "ServiceOperatingStatusChangeEvent", "ServiceAttributeValueChangeEvent", "ServiceStateChangeEvent",
        "ServiceOperatingStatusChangeEvent"]


def test_filters_on_state_supporting_resource_and_more(client):
    first = create(client, service_document("first", "port-a", "port-b", operatingStatus="running",
                                            serviceType="vlan"))
    second = create(client, service_document("second", "port-b", state="inactive", category="RFS",
                                             startDate="2025-06-01T00:00:00Z"))
    create(client, service_document("third", "port-c", state="terminated"))

    def names(query: str) -> list[str]:
        return sorted(s["name"] for s in listed(client, query))

    assert names("state=active") == ["first"]
    assert names("state=active,inactive") == ["first", "second"]
    assert names("supportingResource.id=port-b") == ["first", "second"]
    assert names("supportingResource.id=port-a") == ["first"]
    assert names("supportingResource.id=port-b&state=inactive") == ["second"]
    assert names("operatingStatus=running") == ["first"]
    assert names("serviceType=vlan") == ["first"] and names("category=RFS") == ["second"]
    assert names("startDate.gt=2025-04-01T00:00:00Z") == ["second"]
    assert names("serviceSpecification.id=vlan-service") == ["first", "second", "third"]
    assert names("serviceCharacteristic.value=100&name=second") == ["second"]
    assert [s["name"] for s in listed(client, "sort=-name&state.ne=terminated")] == ["second", "first"]
    response = client.get(f"{V5}/service?state=active&limit=1")
    assert response.headers["X-Total-Count"] == "1" and response.headers["X-Result-Count"] == "1"
    only = listed(client, f"fields=name&id={first['id']}")
    assert only == [{"id": first["id"], "href": first["href"], "@type": "Service", "name": "first"}]
    retrieved = client.get(f"{V5}/service/{second['id']}?fields=state,supportingResource").json()
    assert set(retrieved) == {"id", "href", "@type", "state", "supportingResource"}


def test_bad_input_gets_a_tmf_error(client):
    missing_state = service_document("x")
    del missing_state["state"]
    assert_tmf_error(client.post(f"{V5}/service", json=missing_state), 400)
    assert_tmf_error(client.post(f"{V5}/service", json=service_document("x", state="broken")), 400)
    no_type = service_document("x")
    del no_type["@type"]
    assert_tmf_error(client.post(f"{V5}/service", json=no_type), 400)
    assert_tmf_error(client.get(f"{V5}/service?colour=blue"), 400)
    assert_tmf_error(client.get(f"{V5}/service/nothing-here"), 404)
    assert_tmf_error(client.patch(f"{V5}/service/nothing-here", json={"@type": "Service", "name": "y"},
                                  headers=MERGE), 404)
    ident = create(client, service_document("x"))["id"]
    assert_tmf_error(client.patch(f"{V5}/service/{ident}", json={"@type": "Service", "state": "gone"},
                                  headers=MERGE), 400)
    assert_tmf_error(client.patch(f"{V5}/service/{ident}", json={"@type": "Service",
                                                                 "serviceDate": "2020-01-01T00:00:00Z"},
                                  headers=MERGE), 400)
    assert_tmf_error(client.patch(f"{V5}/service/{ident}", json={"@type": "Service", "name": "y"},
                                  headers={"Content-Type": "application/merge-patch+json",
                                           "If-Match": '"999"'}), 412)
    assert_tmf_error(client.post(f"{V5}/service", json={**service_document("dup"), "id": ident}), 409)


def test_supporting_resources_are_rewritten_on_patch(client, app):
    ident = create(client, service_document("svc", "port-a", "port-b"))["id"]
    assert [i.id for i in impacts(app, "port-a")["port-a"]] == [ident]
    patched = client.patch(f"{V5}/service/{ident}", json={
        "@type": "Service", "supportingResource": [{"@type": "ResourceRef", "id": "port-c"},
                                                   {"@type": "ResourceRef", "id": "port-c"}]}, headers=MERGE)
    assert patched.status_code == 200, patched.text
    found = impacts(app, "port-a", "port-b", "port-c")
    assert found["port-a"] == [] and found["port-b"] == []
    assert found["port-c"] == [ServiceImpact(ident, "svc", "active")]
    # JSON Patch removing the supporting resources
    removed = client.patch(f"{V5}/service/{ident}", json=[{"op": "remove", "path": "/supportingResource"}],
                           headers={"Content-Type": "application/json-patch+json"})
    assert removed.status_code == 200, removed.text
    assert impacts(app, "port-c") == {"port-c": []}
    assert listed(client, "supportingResource.id=port-c") == []


def test_the_orchestrator_writes_services_inside_its_own_transaction(client, app):
    """What the ordering engine does: insert with a canonical document, later update_rows."""
    services = app.platform.collection("tmf638", "service")
    document = service_document("vlan 100 r1-r2", "port-a", serviceDate="2025-03-01T10:00:00.000Z")
    with app.platform.db.transaction() as session:
        (row,) = services.insert(session, [("svc-1", document)], base_url="http://testserver",
                                 correlation_id="order-1")
    stored = client.get(f"{V5}/service/svc-1").json()
    assert stored["serviceDate"] == "2025-03-01T10:00:00.000Z" and stored["state"] == "active"
    assert [s["id"] for s in listed(client, "supportingResource.id=port-a&state=active")] == ["svc-1"]
    assert [i.id for i in impacts(app, "port-a")["port-a"]] == ["svc-1"]

    terminated = {**document, "state": "terminated", "supportingResource": [
        {"@type": "ResourceRef", "id": "port-b"}]}
    with app.platform.db.transaction() as session:
        services.update_rows(session, [RowUpdate(row.seq, row.id, 1, document, terminated)],
                             base_url="http://testserver", correlation_id="order-2")
    assert [s["id"] for s in listed(client, "state=terminated")] == ["svc-1"]
    with app.platform.db.read() as connection:
        links = connection.execute(select(ServiceResourceRow.resource_id)).scalars().all()
    assert links == ["port-b"]
    assert impacts(app, "port-a", "port-b") == {"port-a": [], "port-b": []}  # terminated: affects nothing
    assert events(app) == [("ServiceCreateEvent", "svc-1"), ("ServiceAttributeValueChangeEvent", "svc-1"),
                           ("ServiceStateChangeEvent", "svc-1")]


def test_affected_services_answers_many_resources_at_once(client, app):
    idents = {f"port-{n}": create(client, service_document(f"svc {n}", f"port-{n}", "shared"))["id"]
              for n in range(3)}
    wanted = [f"port-{n}" for n in range(1200)] + ["shared"]  # more than one IN list
    found = impacts(app, *wanted)
    assert set(found) == set(wanted)
    assert {port: [i.id for i in found[port]] for port in idents} == {port: [i] for port, i in idents.items()}
    assert sorted(i.name for i in found["shared"]) == ["svc 0", "svc 1", "svc 2"]
    assert found["port-999"] == []

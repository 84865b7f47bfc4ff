"""TMF641 service orders through the API: creation checks, the life-cycle a client may drive, cancellation."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from tests.api.helpers import assert_tmf_error
from tests.ordering.support import ORDERING, add_port, depends_on, order, seed_catalog, vlan_item
from tmf_oss.ordering.model import ServiceOrderRow


@pytest.fixture
def ports(app):
    seed_catalog(app.platform)
    return [add_port(app.platform, "192.0.2.1", "eth1"), add_port(app.platform, "192.0.2.2", "eth1"),
            add_port(app.platform, "192.0.2.3", "eth2")]


def _create(client, body) -> dict:
    response = client.post(f"{ORDERING}/serviceOrder", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _refused(client, body, *fragments: str) -> dict:
    error = assert_tmf_error(client.post(f"{ORDERING}/serviceOrder", json=body), 400)
    for fragment in fragments:
        assert fragment in error["message"], error["message"]
    return error


def _set_state(app, ident: str, state: str) -> None:
    with app.platform.db.transaction() as session:
        row = session.query(ServiceOrderRow).filter_by(id=ident).one()
        doc = dict(row.doc)
        doc["state"] = state
        session.execute(update(ServiceOrderRow).where(ServiceOrderRow.id == ident).values(doc=doc, state=state,
                                                                                           body=None))


def test_a_valid_order_is_acknowledged(client, ports):
    created = _create(client, order(vlan_item("1", ports[:2], 100), externalId="bss-1", priority="1",
                                    category="vlan"))
    assert created["state"] == "acknowledged"
    assert created["orderDate"]
    assert created["href"].endswith(f"{ORDERING}/serviceOrder/{created['id']}")
    assert [item["state"] for item in created["serviceOrderItem"]] == ["acknowledged"]
    assert created["@type"] == "ServiceOrder"
    read = client.get(f"{ORDERING}/serviceOrder/{created['id']}")
    assert read.status_code == 200 and read.json() == created
    listed = client.get(f"{ORDERING}/serviceOrder", params={"state": "acknowledged", "externalId": "bss-1"})
    assert [entry["id"] for entry in listed.json()] == [created["id"]]
    assert listed.headers["X-Total-Count"] == "1"
    only = client.get(f"{ORDERING}/serviceOrder/{created['id']}", params={"fields": "state,serviceOrderItem"})
    assert set(only.json()) == {"id", "href", "state", "serviceOrderItem"}


def test_server_owned_members_are_not_taken_from_the_client(client, ports):
    created = _create(client, order(vlan_item("1", ports[:2], 100), state="completed",
                                    completionDate="2020-01-01T00:00:00Z", milestone=[{"name": "x"}]))
    assert created["state"] == "acknowledged"
    assert "completionDate" not in created and "milestone" not in created


@pytest.mark.parametrize("case", [
    "duplicate ids", "unknown dependency", "cycle", "self dependency", "nested items", "no items"])
def test_item_structure_is_checked(client, ports, case):
    a, b = ports[:2]
    bodies = {
        "duplicate ids": (order(vlan_item("1", [a, b], 100), vlan_item("1", [a, b], 101)),
                          "item id '1' is used by more than one item"),
        "unknown dependency": (order(vlan_item("1", [a, b], 100, serviceOrderItemRelationship=depends_on("9"))),
                               "names item '9', which is not in this order"),
        "cycle": (order(vlan_item("1", [a, b], 100, serviceOrderItemRelationship=depends_on("2")),
                        vlan_item("2", [a, b], 101, serviceOrderItemRelationship=depends_on("1"))),
                  "forms a cycle: 1 -> 2 -> 1"),
        "self dependency": (order(vlan_item("1", [a, b], 100, serviceOrderItemRelationship=depends_on("1"))),
                            "forms a cycle: 1 -> 1"),
        "nested items": (order(vlan_item("1", [a, b], 100, serviceOrderItem=[vlan_item("1.1", [a, b], 101)])),
                         "nested serviceOrderItem are not supported"),
        "no items": ({"serviceOrderItem": []}, "should be non-empty"),
    }
    body, message = bodies[case]
    _refused(client, body, message)


@pytest.mark.parametrize("case", [
    "unknown specification", "required characteristic missing", "not an integer", "out of range",
    "unknown characteristic", "unknown port", "wrong number of ports", "no specification"])
def test_items_are_checked_against_the_catalog_and_inventory(client, ports, case):
    a, b = ports[:2]
    item = vlan_item("1", [a, b], 100)
    if case == "unknown specification":
        item["service"]["serviceSpecification"] = {"id": "teleportation"}
        message = "service specification 'teleportation' is not in the service catalog"
    elif case == "required characteristic missing":
        item["service"]["serviceCharacteristic"] = []
        message = "vlanId"
    elif case == "not an integer":
        item["service"]["serviceCharacteristic"] = [{"name": "vlanId", "value": "blue"}]
        message = "vlanId"
    elif case == "out of range":
        item["service"]["serviceCharacteristic"] = [{"name": "vlanId", "value": 5000}]
        message = "4094"
    elif case == "unknown characteristic":
        item["service"]["serviceCharacteristic"].append({"name": "colour", "value": "red"})
        message = "colour"
    elif case == "unknown port":
        item["service"]["supportingResource"] = [{"id": a}, {"id": "no-such-port"}]
        message = "supportingResource 'no-such-port' is not an interface of a managed device"
    elif case == "wrong number of ports":
        item["service"]["supportingResource"] = [{"id": a}]
        message = "'vlan-service' needs 2 supportingResource (ports), got 1"
    else:
        del item["service"]["serviceSpecification"]
        message = "service.serviceSpecification.id is required"
    error = _refused(client, order(item), "item '1'", message)
    assert error["reason"] == "Invalid service order"
    assert client.get(f"{ORDERING}/serviceOrder").json() == []  # nothing stored


def test_actions_must_match_the_service_inventory(client, app, ports):
    a, b = ports[:2]
    _refused(client, order(vlan_item("1", [a, b], 100, action="modify")),
             "action 'modify' needs the id of an existing service")
    _refused(client, order(vlan_item("1", [a, b], 100, action="delete", service={"id": "nope"})),
             "action 'delete' names service 'nope', which is not in the service inventory")
    services = app.platform.collection("tmf638", "service")
    existing, _ = services.create("v5", {"@type": "Service", "name": "s", "state": "active",
                                         "serviceSpecification": {"id": "vlan-service", "@type": "ServiceSpecificationRef"}},
                                  base_url="http://testserver", correlation_id=None)
    _refused(client, order(vlan_item("1", [a, b], 100, service={"id": existing["id"]})),
             f"action 'add' names service '{existing['id']}', which already exists; use 'modify'")
    _refused(client, order(vlan_item("1", [a, b], 100, action="modify", service={"id": existing["id"]}),
                           vlan_item("2", [a, b], 100, action="delete", service={"id": existing["id"]})),
             f"service '{existing['id']}' is already changed by item '1'")
    _refused(client, order({"id": "1", "action": "modify", "service": {
        "id": existing["id"], "supportingResource": [{"id": a}, {"id": "no-such-port"}]}}),
        "supportingResource 'no-such-port' is not an interface of a managed device")


def test_every_problem_is_reported_at_once(client, ports):
    a, b = ports[:2]
    error = _refused(client, order(vlan_item("1", [a], 5000), vlan_item("1", [a, b], 7)))
    assert "item id '1' is used by more than one item" in error["message"]
    assert "4094" in error["message"] and "got 1" in error["message"]


def test_a_client_may_hold_and_release_an_order_that_has_not_started(client, ports):
    created = _create(client, order(vlan_item("1", ports[:2], 100)))
    url = f"{ORDERING}/serviceOrder/{created['id']}"
    held = client.patch(url, json={"state": "held"})
    assert held.status_code == 200 and held.json()["state"] == "held"
    released = client.patch(url, json={"state": "acknowledged"})
    assert released.json()["state"] == "acknowledged"


@pytest.mark.parametrize("wanted, fragment", [
    ("completed", "state cannot change from 'acknowledged' to 'completed'"),
    ("inProgress", "the rest of the life-cycle is the server's"),
    ("cancelled", "cancelServiceOrder"),
])
def test_other_state_changes_are_refused_with_the_reason(client, ports, wanted, fragment):
    created = _create(client, order(vlan_item("1", ports[:2], 100)))
    error = assert_tmf_error(client.patch(f"{ORDERING}/serviceOrder/{created['id']}", json={"state": wanted}), 409)
    assert fragment in error["message"]
    assert client.get(f"{ORDERING}/serviceOrder/{created['id']}").json()["state"] == "acknowledged"


def test_items_change_only_before_the_order_starts(client, app, ports):
    a, b, c = ports
    created = _create(client, order(vlan_item("1", [a, b], 100)))
    url = f"{ORDERING}/serviceOrder/{created['id']}"
    changed = client.patch(url, json={"serviceOrderItem": [vlan_item("1", [a, c], 200)]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["serviceOrderItem"][0]["state"] == "acknowledged"
    error = assert_tmf_error(client.patch(url, json={"serviceOrderItem": [vlan_item("1", [a, c], 9999)]}), 400)
    assert "4094" in error["message"]  # the same checks as at creation
    error = assert_tmf_error(client.patch(url, json={"serviceOrderItem": [{**vlan_item("1", [a, c], 200),
                                                                          "state": "completed"}]}), 409)
    assert "set by the server" in error["message"]
    _set_state(app, created["id"], "inProgress")
    error = assert_tmf_error(client.patch(url, json={"serviceOrderItem": [vlan_item("1", [a, b], 300)]}), 409)
    assert "can only change before the order starts" in error["message"]
    assert client.patch(url, json={"description": "still fine"}).status_code == 200


def test_notes_are_only_added(client, ports):
    created = _create(client, order(vlan_item("1", ports[:2], 100), note=[{"text": "first"}]))
    url = f"{ORDERING}/serviceOrder/{created['id']}"
    added = client.patch(url, json={"note": [{"text": "first"}, {"text": "second"}]})
    assert added.status_code == 200
    assert_tmf_error(client.patch(url, json={"note": [{"text": "second"}]}), 409)


def test_server_owned_members_cannot_be_patched(client, ports):
    created = _create(client, order(vlan_item("1", ports[:2], 100)))
    url = f"{ORDERING}/serviceOrder/{created['id']}"
    for body in ({"orderDate": "2020-01-01T00:00:00Z"}, {"completionDate": "2020-01-01T00:00:00Z"},
                 {"category": "other"}):
        assert client.patch(url, json=body).status_code in (400, 409)


def test_delete_only_when_not_running(client, app, ports):
    running = _create(client, order(vlan_item("1", ports[:2], 100)))
    _set_state(app, running["id"], "inProgress")
    error = assert_tmf_error(client.delete(f"{ORDERING}/serviceOrder/{running['id']}"), 409)
    assert "cannot be deleted" in error["message"]
    waiting = _create(client, order(vlan_item("1", ports[:2], 101)))
    assert client.delete(f"{ORDERING}/serviceOrder/{waiting['id']}").status_code == 204
    assert_tmf_error(client.get(f"{ORDERING}/serviceOrder/{waiting['id']}"), 404)


def test_cancellation_task(client, app, ports):
    created = _create(client, order(vlan_item("1", ports[:2], 100)))
    task = client.post(f"{ORDERING}/cancelServiceOrder",
                       json={"serviceOrder": {"id": created["id"]}, "cancellationReason": "customer changed mind"})
    assert task.status_code == 201, task.text
    assert task.json()["state"] == "inProgress"
    assert task.json()["serviceOrder"]["href"].endswith(f"/serviceOrder/{created['id']}")
    cancelling = client.get(f"{ORDERING}/serviceOrder/{created['id']}").json()
    assert cancelling["state"] == "assessingCancellation"
    assert cancelling["cancellationReason"] == "customer changed mind"
    again = assert_tmf_error(client.post(f"{ORDERING}/cancelServiceOrder",
                                         json={"serviceOrder": {"id": created["id"]}}), 409)
    assert "already being cancelled" in again["message"]
    assert client.get(f"{ORDERING}/cancelServiceOrder/{task.json()['id']}").json()["state"] == "inProgress"


def test_cancellation_is_refused_when_there_is_nothing_to_cancel(client, app, ports):
    assert_tmf_error(client.post(f"{ORDERING}/cancelServiceOrder", json={"serviceOrder": {"id": "nope"}}), 400)
    assert_tmf_error(client.post(f"{ORDERING}/cancelServiceOrder", json={}), 400)
    created = _create(client, order(vlan_item("1", ports[:2], 100)))
    _set_state(app, created["id"], "completed")
    error = assert_tmf_error(client.post(f"{ORDERING}/cancelServiceOrder",
                                         json={"serviceOrder": {"id": created["id"]}}), 409)
    assert "it has ended" in error["message"]
    assert client.get(f"{ORDERING}/cancelServiceOrder").json() == []

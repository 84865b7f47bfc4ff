"""TMF633 serviceSpecification over HTTP, on SQLite and PostgreSQL."""
from __future__ import annotations

import copy

import pytest
import yaml
from sqlalchemy import select

from tests.api.helpers import assert_tmf_error
from tmf_oss.catalog.orderable import orderable_specs
from tmf_oss.catalog.seed import DEFAULT_CATALOG
from tmf_oss.events.model import OutboxEvent

BASE = "/tmf-api/serviceCatalogManagement/v4"
SHIPPED = {entry["id"]: entry for entry in yaml.safe_load(DEFAULT_CATALOG.read_text())["serviceSpecification"]}


def vlan(**changes) -> dict:
    doc = copy.deepcopy(SHIPPED["vlan-service"])
    doc.pop("id")
    doc.update(changes)
    return doc


def create(client, body: dict) -> dict:
    response = client.post(f"{BASE}/serviceSpecification", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def events(app) -> list[tuple[str, str]]:
    with app.platform.db.reading() as session:
        return [(row.event_type, row.entity_id) for row in session.execute(
            select(OutboxEvent).where(OutboxEvent.api == "tmf633").order_by(OutboxEvent.seq)).scalars()]


def test_crud_with_events(client, app):
    created = create(client, vlan(id="vlan-x", name="vlan-x"))
    assert created["id"] == "vlan-x"
    assert created["href"].endswith(f"{BASE}/serviceSpecification/vlan-x")
    assert created["@type"] == "NetworkServiceSpecification" and created["@baseType"] == "ServiceSpecification"
    assert created["endpoints"] == {"minimum": 2, "maximum": 2, "resourceType": ["LogicalResource"]}
    assert "{{ characteristic.vlanId }}" in created["activation"]["netconf"]["apply"]
    assert created["lastUpdate"]

    got = client.get(f"{BASE}/serviceSpecification/vlan-x")
    assert got.status_code == 200 and got.json() == created
    etag = got.headers["etag"]

    patched = client.patch(f"{BASE}/serviceSpecification/vlan-x", json={"lifecycleStatus": "Retired"},
                           headers={"If-Match": etag})
    assert patched.status_code == 200, patched.text
    assert patched.json()["lifecycleStatus"] == "Retired"
    assert patched.json()["lastUpdate"] >= created["lastUpdate"]
    stale = client.patch(f"{BASE}/serviceSpecification/vlan-x", json={"version": "2"}, headers={"If-Match": etag})
    assert_tmf_error(stale, 412)

    assert client.delete(f"{BASE}/serviceSpecification/vlan-x").status_code == 204
    assert_tmf_error(client.get(f"{BASE}/serviceSpecification/vlan-x"), 404)
    assert events(app) == [("ServiceSpecificationCreateEvent", "vlan-x"),
                           ("ServiceSpecificationChangeEvent", "vlan-x"),
                           ("ServiceSpecificationDeleteEvent", "vlan-x")]


def test_list_filters_and_fields(client):
    create(client, vlan(id="a", name="alpha"))
    create(client, vlan(id="b", name="beta", lifecycleStatus="In design"))
    create(client, {"name": "plain", "lifecycleStatus": "Active", "version": "2.0",
                    "specCharacteristic": [{"name": "speed", "valueType": "integer"}]})

    def ids(query: str) -> list[str]:
        response = client.get(f"{BASE}/serviceSpecification?{query}")
        assert response.status_code == 200, response.text
        return sorted(item["id"] if item.get("id") in ("a", "b") else item["name"] for item in response.json())

    assert ids("name=alpha") == ["a"]
    assert ids("lifecycleStatus=Active") == ["a", "plain"]
    assert ids("lifecycleStatus=Active&name=plain") == ["plain"]
    assert ids("specCharacteristic.name=speed") == ["plain"]
    assert ids("@type=NetworkServiceSpecification") == ["a", "b"]
    assert ids("endpoints.minimum=2") == ["a", "b"]  # the subclass's members filter like standard ones
    assert ids("version=2.0") == ["plain"]
    listed = client.get(f"{BASE}/serviceSpecification?fields=name,lifecycleStatus&sort=-name")
    assert [item["name"] for item in listed.json()] == ["plain", "beta", "alpha"]
    assert set(listed.json()[0]) == {"id", "href", "name", "lifecycleStatus"}
    assert listed.headers["x-total-count"] == "3"
    assert_tmf_error(client.get(f"{BASE}/serviceSpecification?colour=red"), 400)


@pytest.mark.parametrize("body, status, words", [
    ({"lifecycleStatus": "Active"}, 400, "name"),  # name is required by TMF633
    ({"name": "x", "isBundle": "yes"}, 400, "isBundle"),
    ({"name": "x", "@type": "Weird"}, 400, "@baseType"),
])
def test_bad_input_gives_tmf_errors(client, body, status, words):
    assert words in assert_tmf_error(client.post(f"{BASE}/serviceSpecification", json=body), status)["message"]


def test_bad_templates_are_refused_on_create_and_patch(client):
    body = vlan(id="v", name="v")
    body["activation"]["netconf"]["apply"] = "<services>{{ characteristic.vlanid }}</services>"
    error = assert_tmf_error(client.post(f"{BASE}/serviceSpecification", json=body), 400)
    assert error["reason"] == "Invalid service specification"
    assert "service specification 'v', activation.netconf.apply: unknown variable or member" in error["message"]

    create(client, vlan(id="v", name="v"))
    broken = client.patch(f"{BASE}/serviceSpecification/v",
                          json={"activation": {"netconf": {"read": "<services><vlan></services>"}}},
                          headers={"content-type": "application/merge-patch+json"})
    assert "activation.netconf.read: the rendered XML is not well-formed" in assert_tmf_error(broken, 400)["message"]
    missing = client.patch(f"{BASE}/serviceSpecification/v", json=[
        {"op": "remove", "path": "/activation/netconf/remove"}], headers={"content-type": "application/json-patch+json"})
    assert "remove is missing" in assert_tmf_error(missing, 400)["message"]
    assert_tmf_error(client.patch(f"{BASE}/serviceSpecification/v", json={"lastUpdate": "2020-01-01T00:00:00Z"}), 400)
    assert client.get(f"{BASE}/serviceSpecification/v").json()["activation"] == SHIPPED["vlan-service"]["activation"]


def test_duplicate_id_is_a_conflict(client):
    create(client, vlan(id="same", name="same"))
    assert_tmf_error(client.post(f"{BASE}/serviceSpecification", json=vlan(id="same", name="same")), 409)


def test_orderable_specs_reads_in_the_callers_session(client, app):
    create(client, vlan(id="v1", name="v1"))
    db = app.platform.db
    with db.transaction() as session:
        found = orderable_specs(session, ["v1", "nowhere"])
    assert set(found) == {"v1"} and found["v1"].orderable and found["v1"].rule("vlanId").required
    client.patch(f"{BASE}/serviceSpecification/v1", json={"lifecycleStatus": "Retired"})
    with db.transaction() as session:
        assert not orderable_specs(session, ["v1"])["v1"].orderable  # a new row version is parsed again
        assert orderable_specs(session, []) == {}


def test_hub_and_index(client):
    hub = client.post(f"{BASE}/hub", json={"callback": "http://127.0.0.1:9/cb"})
    assert hub.status_code == 201 and hub.json()["callback"] == "http://127.0.0.1:9/cb"
    assert client.delete(f"{BASE}/hub/{hub.json()['id']}").status_code == 204
    listener = client.post(f"{BASE}/listener/serviceSpecificationChangeEvent", json={})
    assert_tmf_error(listener, 501)
    assert any(api["api"] == "tmf633" for api in client.get("/").json()["apis"])

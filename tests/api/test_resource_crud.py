"""TMF639 resource operations through HTTP, in both API versions, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from tests.api.helpers import V4, V5, assert_tmf_error

ROUTER = {
    "@type": "PhysicalResource",
    "name": "router-1",
    "serialNumber": "SN-001",
    "administrativeState": "unlocked",
    "operationalState": "enabled",
    "usageState": "active",
    "resourceCharacteristic": [
        {"@type": "StringCharacteristic", "name": "vlan", "value": "100"},
        {"@type": "IntegerCharacteristic", "name": "mtu", "value": 9000},
    ],
    "relatedParty": [{"@type": "RelatedPartyRefOrPartyRoleRef", "role": "owner",
                      "partyOrPartyRole": {"@type": "PartyRef", "id": "org-1", "@referredType": "Organization"}}],
}


def create(client, base=V5, payload=None, **extra):
    body = dict(payload or ROUTER)
    body.update(extra)
    response = client.post(f"{base}/resource", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_returns_representation_with_id_href_and_location(client):
    response = client.post(f"{V5}/resource", json=ROUTER)
    assert response.status_code == 201
    body = response.json()
    assert body["id"]
    assert body["href"] == f"http://testserver{V5}/resource/{body['id']}"
    assert response.headers["location"] == body["href"]
    assert response.headers["etag"] == '"1"'
    assert body["@type"] == "PhysicalResource"
    assert body["serialNumber"] == "SN-001"
    assert body["creationDate"].endswith("Z")


def test_retrieve_and_etag(client):
    created = create(client)
    response = client.get(f"{V5}/resource/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["etag"] == '"1"'


def test_unknown_id_is_404_error(client):
    assert_tmf_error(client.get(f"{V5}/resource/nope"), 404)
    assert_tmf_error(client.patch(f"{V5}/resource/nope", json={"@type": "Resource", "name": "x"},
                                  headers={"content-type": "application/merge-patch+json"}), 404)
    assert_tmf_error(client.delete(f"{V5}/resource/nope"), 404)


def test_client_supplied_id_and_duplicate_conflict(client):
    create(client, id="router-fixed")
    assert_tmf_error(client.post(f"{V5}/resource", json={**ROUTER, "id": "router-fixed"}), 409)
    assert client.get(f"{V5}/resource/router-fixed").json()["name"] == "router-1"


def test_v4_create_is_readable_in_v5_and_the_reverse(client):
    v4_payload = {"@type": "PhysicalResource", "name": "sw-1", "operationalState": "enable",
                  "administrativeState": "shutdown", "resourceStatus": "available",
                  "place": {"id": "site-9", "role": "installation"},
                  "relatedParty": [{"id": "org-1", "role": "owner", "@referredType": "Organization"}],
                  "resourceCharacteristic": [{"name": "ports", "value": 48}]}
    created = create(client, V4, v4_payload)
    assert created["operationalState"] == "enable"
    as_v5 = client.get(f"{V5}/resource/{created['id']}").json()
    assert as_v5["operationalState"] == "enabled"
    assert as_v5["administrativeState"] == "shuttingDown"
    assert "resourceStatus" not in as_v5
    assert as_v5["place"] == [{"@type": "RelatedPlaceRef", "role": "installation",
                               "place": {"@type": "PlaceRef", "id": "site-9"}}]
    assert as_v5["relatedParty"][0]["partyOrPartyRole"]["id"] == "org-1"
    assert as_v5["resourceCharacteristic"][0]["@type"] == "IntegerCharacteristic"
    assert as_v5["href"].startswith(f"http://testserver{V5}/")

    made_in_v5 = create(client)
    as_v4 = client.get(f"{V4}/resource/{made_in_v5['id']}").json()
    assert as_v4["operationalState"] == "enable"
    assert as_v4["relatedParty"] == [{"id": "org-1", "role": "owner", "@referredType": "Organization"}]
    assert "creationDate" not in as_v4
    assert as_v4["href"].startswith(f"http://testserver{V4}/")


@pytest.mark.parametrize("subtype", ["LogicalResource", "PhysicalResource", "ResourceFunction",
                                     "SoftwareResource", "Resource"])
def test_polymorphic_family(client, subtype):
    created = create(client, payload={"@type": subtype, "name": f"a {subtype}"})
    assert client.get(f"{V5}/resource/{created['id']}").json()["@type"] == subtype


def test_client_defined_subtype_needs_a_standard_base_type(client):
    created = create(client, payload={"@type": "Equipment", "@baseType": "PhysicalResource",
                                      "@schemaLocation": "https://example.test/Equipment.json",
                                      "name": "rack-7", "rackUnits": 42})
    fetched = client.get(f"{V5}/resource/{created['id']}").json()
    assert fetched["rackUnits"] == 42
    assert fetched["@schemaLocation"] == "https://example.test/Equipment.json"
    assert client.get(f"{V5}/resource?@type=Equipment").json()[0]["id"] == created["id"]
    body = assert_tmf_error(client.post(f"{V5}/resource", json={"@type": "Equipment", "name": "x"}), 400)
    assert "@baseType" in body["message"]


def test_v5_requires_type_on_create(client):
    assert_tmf_error(client.post(f"{V5}/resource", json={"name": "no type"}), 400)


def test_invalid_body_is_400_and_nothing_is_stored(client):
    create(client)
    assert_tmf_error(client.post(f"{V5}/resource", json={"@type": "PhysicalResource",
                                                          "operationalState": "sideways"}), 400)
    assert_tmf_error(client.post(f"{V5}/resource", content=b"{not json",
                                 headers={"content-type": "application/json"}), 400)
    assert len(client.get(f"{V5}/resource").json()) == 1


def test_media_type_with_charset_is_accepted(client):
    response = client.post(f"{V4}/resource", content=b'{"name": "cs"}',
                           headers={"content-type": "application/json;charset=utf-8"})
    assert response.status_code == 201, response.text


def test_unknown_path_and_wrong_method_are_tmf_errors(client):
    assert_tmf_error(client.get(f"{V5}/nothing-here"), 404)
    created = create(client)
    assert_tmf_error(client.put(f"{V5}/resource/{created['id']}", json=ROUTER), 405)


def test_delete_then_gone(client):
    created = create(client)
    assert client.delete(f"{V5}/resource/{created['id']}").status_code == 204
    assert_tmf_error(client.get(f"{V5}/resource/{created['id']}"), 404)


def test_if_match_on_delete(client):
    created = create(client)
    assert_tmf_error(client.delete(f"{V5}/resource/{created['id']}", headers={"If-Match": '"7"'}), 412)
    assert client.get(f"{V5}/resource/{created['id']}").status_code == 200
    assert client.delete(f"{V5}/resource/{created['id']}", headers={"If-Match": '"1"'}).status_code == 204


def test_fields_on_retrieve_and_create(client):
    created = create(client)
    body = client.get(f"{V5}/resource/{created['id']}?fields=name,resourceCharacteristic.name").json()
    assert body == {"id": created["id"], "href": created["href"], "@type": "PhysicalResource", "name": "router-1",
                    "resourceCharacteristic": [{"@type": "StringCharacteristic", "name": "vlan"},
                                               {"@type": "IntegerCharacteristic", "name": "mtu"}]}
    v4 = client.get(f"{V4}/resource/{created['id']}?fields=name").json()
    assert set(v4) == {"id", "href", "name"}
    assert_tmf_error(client.get(f"{V5}/resource/{created['id']}?fields=nonsense"), 400)
    response = client.post(f"{V5}/resource?fields=name", json=ROUTER)
    assert set(response.json()) == {"id", "href", "@type", "name"}

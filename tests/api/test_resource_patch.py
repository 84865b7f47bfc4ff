"""PATCH in all its media types, immutability, validation of the result, ETag / If-Match."""
from __future__ import annotations

import pytest

from tests.api.helpers import V4, V5, assert_tmf_error
from tests.api.test_resource_crud import create

MERGE = {"content-type": "application/merge-patch+json"}
JSON_PATCH = {"content-type": "application/json-patch+json"}
JSON_PATCH_QUERY = {"content-type": "application/json-patch-query+json"}


def patch(client, ident, body, headers, base=V5):
    return client.patch(f"{base}/resource/{ident}", json=body, headers=headers)


def test_merge_patch(client):
    created = create(client)
    response = patch(client, created["id"], {"@type": "PhysicalResource", "description": "core router",
                                             "serialNumber": None}, MERGE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["description"] == "core router"
    assert "serialNumber" not in body
    assert response.headers["etag"] == '"2"'
    assert client.get(f"{V5}/resource/{created['id']}").json() == body


def test_plain_json_is_merge_patch(client):
    created = create(client)
    response = patch(client, created["id"], {"@type": "PhysicalResource", "name": "renamed"},
                     {"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "renamed"


def test_v4_patch_with_v4_values(client):
    created = create(client)
    response = patch(client, created["id"], {"operationalState": "disable"}, {"content-type": "application/json"}, V4)
    assert response.status_code == 200, response.text
    assert response.json()["operationalState"] == "disable"
    assert client.get(f"{V5}/resource/{created['id']}").json()["operationalState"] == "disabled"


def test_json_patch(client):
    created = create(client)
    ops = [{"op": "replace", "path": "/administrativeState", "value": "locked"},
           {"op": "add", "path": "/resourceCharacteristic/-",
            "value": {"@type": "StringCharacteristic", "name": "role", "value": "core"}},
           {"op": "remove", "path": "/serialNumber"}]
    response = patch(client, created["id"], ops, JSON_PATCH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["administrativeState"] == "locked"
    assert [c["name"] for c in body["resourceCharacteristic"]] == ["vlan", "mtu", "role"]
    assert "serialNumber" not in body


def test_json_patch_query(client):
    created = create(client)
    ops = [{"op": "replace", "path": "/resourceCharacteristic/value?name=vlan", "value": "200"}]
    response = patch(client, created["id"], ops, JSON_PATCH_QUERY)
    assert response.status_code == 200, response.text
    values = {c["name"]: c["value"] for c in response.json()["resourceCharacteristic"]}
    assert values == {"vlan": "200", "mtu": 9000}


def test_json_patch_query_is_v5_only(client):
    created = create(client)
    response = patch(client, created["id"], [{"op": "remove", "path": "/note?id=1"}], JSON_PATCH_QUERY, V4)
    assert_tmf_error(response, 415)


@pytest.mark.parametrize("body, headers", [
    ({"@type": "PhysicalResource", "id": "other"}, MERGE),
    ([{"op": "replace", "path": "/id", "value": "other"}], JSON_PATCH),
    ([{"op": "replace", "path": "/href", "value": "http://elsewhere/x"}], JSON_PATCH),
    ([{"op": "replace", "path": "/creationDate", "value": "2020-01-01T00:00:00Z"}], JSON_PATCH),
])
def test_read_only_members_cannot_change(client, body, headers):
    created = create(client)
    assert_tmf_error(patch(client, created["id"], body, headers), 400)
    assert client.get(f"{V5}/resource/{created['id']}").json() == created


def test_echoing_id_and_href_is_allowed(client):
    created = create(client)
    response = patch(client, created["id"], {"@type": "PhysicalResource", "id": created["id"],
                                             "href": created["href"], "name": "same id"}, MERGE)
    assert response.status_code == 200, response.text


def test_result_is_validated_before_it_is_stored(client):
    created = create(client)
    response = patch(client, created["id"], [{"op": "replace", "path": "/operationalState", "value": "sideways"}],
                     JSON_PATCH)
    assert_tmf_error(response, 400)
    assert client.get(f"{V5}/resource/{created['id']}").json() == created


def test_failed_test_op_and_bad_path(client):
    created = create(client)
    assert_tmf_error(patch(client, created["id"], [{"op": "test", "path": "/name", "value": "other"}],
                           JSON_PATCH), 409)
    assert_tmf_error(patch(client, created["id"], [{"op": "remove", "path": "/nothing/here"}], JSON_PATCH), 400)


def test_unsupported_patch_media_type(client):
    created = create(client)
    response = client.patch(f"{V5}/resource/{created['id']}", content=b"name=x",
                            headers={"content-type": "text/plain"})
    assert_tmf_error(response, 415)


def test_if_match(client):
    created = create(client)
    ident = created["id"]
    stale = patch(client, ident, {"@type": "PhysicalResource", "name": "a"}, {**MERGE, "If-Match": '"9"'})
    assert_tmf_error(stale, 412)
    fresh = patch(client, ident, {"@type": "PhysicalResource", "name": "a"}, {**MERGE, "If-Match": '"1"'})
    assert fresh.status_code == 200
    again = patch(client, ident, {"@type": "PhysicalResource", "name": "b"}, {**MERGE, "If-Match": '"1"'})
    assert_tmf_error(again, 412)
    assert client.get(f"{V5}/resource/{ident}").json()["name"] == "a"


def test_no_op_patch_keeps_version(client):
    created = create(client)
    response = patch(client, created["id"], {"@type": "PhysicalResource", "name": "router-1"}, MERGE)
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'

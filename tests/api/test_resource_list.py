"""Listing: filters (typed columns and nested JSON), operators, OR, unknown attributes, sort, paging, fields."""
from __future__ import annotations

import pytest

from tests.api.helpers import V4, V5, assert_tmf_error


def seed(client):
    resources = [
        {"@type": "PhysicalResource", "name": "r1", "operationalState": "enabled", "administrativeState": "unlocked",
         "startOperatingDate": "2025-01-01T00:00:00Z", "powerConsumingLevel": 10,
         "resourceCharacteristic": [{"@type": "StringCharacteristic", "name": "vlan", "value": "100"}],
         "relatedParty": [{"@type": "RelatedPartyRefOrPartyRoleRef", "role": "owner",
                           "partyOrPartyRole": {"@type": "PartyRef", "id": "acme"}}],
         "note": [{"@type": "Note", "text": "primary", "author": "ops"}]},
        {"@type": "PhysicalResource", "name": "r2", "operationalState": "disabled", "administrativeState": "locked",
         "startOperatingDate": "2025-06-01T12:00:00+02:00", "powerConsumingLevel": 80,
         "resourceCharacteristic": [{"@type": "StringCharacteristic", "name": "vlan", "value": "200"},
                                    {"@type": "IntegerCharacteristic", "name": "mtu", "value": 1500}]},
        {"@type": "LogicalResource", "name": "if-1/0/1", "operationalState": "enabled", "value": "ge-1/0/1",
         "startOperatingDate": "2026-01-01T00:00:00.500Z",
         "resourceCharacteristic": [{"@type": "IntegerCharacteristic", "name": "mtu", "value": 9000}],
         "relatedParty": [{"@type": "RelatedPartyRefOrPartyRoleRef", "role": "user",
                           "partyOrPartyRole": {"@type": "PartyRef", "id": "globex"}}]},
        {"@type": "SoftwareResource", "name": "os-7", "isDistributedCurrent": True},
    ]
    return [client.post(f"{V5}/resource", json=r).json() for r in resources]


def names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(item["name"] for item in response.json())


@pytest.mark.parametrize("query, expected", [
    ("name=r1", ["r1"]),
    ("name=r1,r2", ["r1", "r2"]),
    ("name=r1;r2", ["r1", "r2"]),
    ("name=r1&name=os-7", ["os-7", "r1"]),
    ("@type=LogicalResource", ["if-1/0/1"]),
    ("operationalState=enabled", ["if-1/0/1", "r1"]),
    ("operationalState=enabled&@type=PhysicalResource", ["r1"]),
    ("operationalState.ne=enabled", ["os-7", "r2"]),
    ("resourceCharacteristic.name=vlan", ["r1", "r2"]),
    ("resourceCharacteristic.name=mtu", ["if-1/0/1", "r2"]),
    ("resourceCharacteristic.value=200", ["r2"]),
    ("resourceCharacteristic.value=9000", ["if-1/0/1"]),
    ("relatedParty.partyOrPartyRole.id=acme", ["r1"]),
    ("relatedParty.role=user", ["if-1/0/1"]),
    ("note.author=ops", ["r1"]),
    ("powerConsumingLevel.gt=50", ["r2"]),
    ("powerConsumingLevel.lte=10", ["r1"]),
    ("powerConsumingLevel>=10", ["r1", "r2"]),
    ("startOperatingDate.gt=2025-06-01T09:00:00Z", ["if-1/0/1", "r2"]),  # r2 is 10:00Z
    ("startOperatingDate.gt=2025-06-01T10:00:00Z", ["if-1/0/1"]),
    ("startOperatingDate.lt=2026-01-01T00:00:00.100Z", ["r1", "r2"]),
    ("startOperatingDate.gte=2026-01-01T00:00:00.500Z", ["if-1/0/1"]),
    ("name.regex=^r[0-9]$", ["r1", "r2"]),
    ("note.text.regex=^pri", ["r1"]),
    ("isDistributedCurrent=true", ["os-7"]),
    ("value=ge-1/0/1", ["if-1/0/1"]),
    ("name=nobody", []),
])
def test_filters(client, query, expected):
    seed(client)
    assert names(client.get(f"{V5}/resource?{query}")) == expected


@pytest.mark.parametrize("query, expected", [
    ("operationalState=enable", ["if-1/0/1", "r1"]),
    ("administrativeState=locked", ["r2"]),
    ("relatedParty.id=globex", ["if-1/0/1"]),
    ("resourceCharacteristic.name=vlan&operationalState=disable", ["r2"]),
])
def test_v4_filters_speak_v4(client, query, expected):
    seed(client)
    assert names(client.get(f"{V4}/resource?{query}")) == expected


@pytest.mark.parametrize("query", [
    "bogus=1", "resourceCharacteristic.bogus=1", "powerConsumingLevel.gt=many", "startOperatingDate.gt=yesterday",
    "name.regex=([", "relatedParty=acme", "isDistributedCurrent=maybe",
])
def test_bad_filters_are_400(client, query):
    seed(client)
    assert_tmf_error(client.get(f"{V5}/resource?{query}"), 400)


def test_v4_only_and_v5_only_attributes(client):
    seed(client)
    assert client.get(f"{V4}/resource?resourceStatus=available").status_code == 200
    assert_tmf_error(client.get(f"{V5}/resource?resourceStatus=available"), 400)
    assert_tmf_error(client.get(f"{V4}/resource?lifecycleState=planned"), 400)


def test_paging_and_counts(client):
    seed(client)
    page = client.get(f"{V5}/resource?limit=2&offset=1&sort=name")
    assert page.status_code == 200
    assert page.headers["x-total-count"] == "4"
    assert page.headers["x-result-count"] == "2"
    assert [r["name"] for r in page.json()] == ["os-7", "r1"]
    filtered = client.get(f"{V5}/resource?operationalState=enabled&limit=1")
    assert filtered.headers["x-total-count"] == "2"
    assert filtered.headers["x-result-count"] == "1"
    beyond = client.get(f"{V5}/resource?offset=10")
    assert beyond.json() == [] and beyond.headers["x-total-count"] == "4"
    only_count = client.get(f"{V5}/resource?limit=0")
    assert only_count.json() == [] and only_count.headers["x-total-count"] == "4"
    assert_tmf_error(client.get(f"{V5}/resource?offset=-1"), 400)
    assert_tmf_error(client.get(f"{V5}/resource?limit=abc"), 400)


def test_counts_follow_creates_and_deletes(client):
    created = seed(client)
    client.delete(f"{V5}/resource/{created[0]['id']}")
    response = client.get(f"{V5}/resource?limit=1")
    assert response.headers["x-total-count"] == "3"


def test_sort(client):
    seed(client)
    assert [r["name"] for r in client.get(f"{V5}/resource?sort=-name").json()] == ["r2", "r1", "os-7", "if-1/0/1"]
    by_level = client.get(f"{V5}/resource?sort=-powerConsumingLevel&powerConsumingLevel.gt=0").json()
    assert [r["name"] for r in by_level] == ["r2", "r1"]
    assert_tmf_error(client.get(f"{V5}/resource?sort=bogus"), 400)
    assert_tmf_error(client.get(f"{V5}/resource?sort=resourceCharacteristic.name"), 400)


def test_fields_on_list(client):
    seed(client)
    items = client.get(f"{V5}/resource?fields=name&name=r1").json()
    assert set(items[0]) == {"id", "href", "@type", "name"}
    v4_items = client.get(f"{V4}/resource?fields=name&name=r1").json()
    assert set(v4_items[0]) == {"id", "href", "name"}


@pytest.mark.parametrize("expression, expected", [
    ("note[?(@.author=='ops')]", ["r1"]),
    ("$.note[?(@.author=='ops' && @.text=='primary')]", ["r1"]),
    ("note[?(@.author=='ops' && @.text=='other')]", []),
    # both conditions on the SAME characteristic: r2 has vlan and a 1500 mtu, but no vlan of 1500
    ("resourceCharacteristic[?(@.name=='vlan' && @.value=='200')]", ["r2"]),
    ("resourceCharacteristic[?(@.name=='vlan' && @.value=='1500')]", []),
    ("resourceCharacteristic[?(@.name=='mtu')]", ["if-1/0/1", "r2"]),
    ('relatedParty[?(@.partyOrPartyRole.id=="globex")]', ["if-1/0/1"]),
    ("relatedParty[?(@.role)]", ["if-1/0/1", "r1"]),
    ("resourceCharacteristic[?(@.name!='vlan')]", ["if-1/0/1", "r2"]),
])
def test_jsonpath_filter(client, expression, expected):
    seed(client)
    from urllib.parse import quote

    assert names(client.get(f"{V5}/resource?filter={quote(expression)}")) == expected


@pytest.mark.parametrize("expression", [
    "note[?(@.author=='ops' || @.author=='x')]", "note", "note[0]", "bogus[?(@.a=='b')]", "note[?(@.bogus=='x')]",
    "name[?(@.x=='y')]",
])
def test_jsonpath_filter_outside_the_subset_is_400(client, expression):
    from urllib.parse import quote

    body = assert_tmf_error(client.get(f"{V5}/resource?filter={quote(expression)}"), 400)
    assert body["message"]


def test_v4_has_no_jsonpath_filter(client):
    assert_tmf_error(client.get(f"{V4}/resource?filter=note[?(@.author=='ops')]"), 400)


def test_cursor_paging_is_refused_with_a_reason(client):
    body = assert_tmf_error(client.get(f"{V5}/resource?after=abc"), 400)
    assert "offset" in body["message"]


def test_creation_date_filters_and_sorts_on_its_column(client):
    created = seed(client)
    first = created[0]["creationDate"]
    after_first = client.get(f"{V5}/resource?creationDate.gt={first}&sort=creationDate")
    assert [r["name"] for r in after_first.json()] == [c["name"] for c in created[1:] if c["creationDate"] > first]
    assert names(client.get(f"{V5}/resource?creationDate.gte={first}")) == sorted(c["name"] for c in created)
    assert_tmf_error(client.get(f"{V5}/resource?creationDate.gt=whenever"), 400)


def test_client_extension_attributes_are_filterable_sortable_and_selectable(client):
    seed(client)
    for units, room in ((42, "A1"), (12, "B7")):
        response = client.post(f"{V5}/resource", json={
            "@type": "Equipment", "@baseType": "PhysicalResource", "name": f"rack-{units}", "rackUnits": units,
            "installedAt": "2025-03-01T00:00:00Z", "location": {"room": room, "rows": [1, 2]}})
        assert response.status_code == 201, response.text
    assert names(client.get(f"{V5}/resource?rackUnits=42")) == ["rack-42"]
    assert names(client.get(f"{V5}/resource?rackUnits.gt=20")) == ["rack-42"]  # a number, not text
    assert names(client.get(f"{V5}/resource?location.room=B7")) == ["rack-12"]
    assert names(client.get(f"{V5}/resource?location.rows=2")) == ["rack-12", "rack-42"]
    assert names(client.get(f"{V5}/resource?installedAt.lt=2025-03-01T02:00:00%2B01:00")) == ["rack-12", "rack-42"]
    assert names(client.get(f"{V5}/resource?installedAt.lt=2025-03-01T00:30:00%2B01:00")) == []  # instants
    assert [r["name"] for r in client.get(f"{V5}/resource?sort=-rackUnits&rackUnits.gt=0").json()] == [
        "rack-42", "rack-12"]
    assert set(client.get(f"{V4}/resource?fields=rackUnits&rackUnits=12").json()[0]) == {"id", "href", "rackUnits"}
    assert_tmf_error(client.get(f"{V5}/resource?rackUnitz=42"), 400)


def test_filtered_counts_stay_exact_across_writes(client):
    """Filtered totals may be reused between writes, never across one."""
    created = seed(client)

    def total(query):
        response = client.get(f"{V5}/resource?{query}&limit=1")
        assert response.status_code == 200
        return int(response.headers["x-total-count"])

    assert total("operationalState=enabled") == 2
    assert total("operationalState=enabled") == 2
    client.patch(f"{V5}/resource/{created[0]['id']}", json={"@type": "PhysicalResource",
                                                            "operationalState": "disabled"},
                 headers={"content-type": "application/merge-patch+json"})
    assert total("operationalState=enabled") == 1
    client.post(f"{V5}/resource", json={"@type": "LogicalResource", "name": "new", "operationalState": "enabled"})
    client.post(f"{V5}/resource", json={"@type": "LogicalResource", "name": "new2", "operationalState": "enabled"})
    assert total("operationalState=enabled") == 3
    client.delete(f"{V5}/resource/{created[2]['id']}")
    assert total("operationalState=enabled") == 2
    assert total("resourceCharacteristic.name=vlan") == 2

"""Equality filters on nested paths the resource value index covers (resource_value, PostgreSQL) answer exactly
what the jsonpath test over the document answers: same matches, same order, same totals, after every write."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import create_engine, select, text

from tests.api.helpers import V4, V5
from tests.api.test_resource_crud import create
from tmf_oss.inventory.model import RESOURCE_VALUE_PATHS, ResourceRow
from tmf_oss.tmf.lru import BoundedCache
from tmf_oss.tmf.page_cache import PageCache
from tmf_oss.tmf.query import Condition
from tmf_oss.tmf.sql_filter import compile_conditions

MERGE = {"Content-Type": "application/merge-patch+json"}
LONG = "x" * 1500  # longer than the longest operand the index is asked about
HUGE = "y" * 3000  # larger than the index keeps


def characteristic(name, value):
    return {"@type": "StringCharacteristic", "name": name, "value": value}


def party(ident):
    return {"@type": "RelatedPartyRefOrPartyRoleRef", "role": "owner",
            "partyOrPartyRole": {"@type": "PartyRef", "id": ident, "@referredType": "Organization"}}


RESOURCES = {
    "text-2042": [characteristic("vlan", "2042")],
    "int-2042": [characteristic("mtu", 2042)],
    "float-2042": [characteristic("mtu", 2042.0), characteristic("speed", 2042.5)],
    "array": [characteristic("ports", ["2042", 7, True, None])],
    "booleans": [characteristic("flag", True), characteristic("label", "true")],
    "object-and-null": [characteristic("nested", {"value": "2042"}), characteristic("empty", None)],
    "nested-arrays": [characteristic("grid", [[2042], [[7]]])],
    "long-strings": [characteristic("note", LONG), characteristic("blob", HUGE)],
    "plain": [characteristic("vlan", "100")],
}

QUERIES = [
    {"resourceCharacteristic.value": "2042"},
    {"resourceCharacteristic.value": "2042.0"},
    {"resourceCharacteristic.value": "2042.5"},
    {"resourceCharacteristic.value": "7"},
    {"resourceCharacteristic.value": "true"},
    {"resourceCharacteristic.value": "false"},
    {"resourceCharacteristic.value": "100,7"},
    {"resourceCharacteristic.value": "nothing"},
    {"resourceCharacteristic.value": LONG},
    {"resourceCharacteristic.value": HUGE},
    {"resourceCharacteristic.value.ne": "2042"},
    {"resourceCharacteristic.name": "mtu"},
    {"resourceCharacteristic.name": "mtu,flag"},
    {"resourceCharacteristic.name": "mtu", "resourceCharacteristic.value": "2042"},
    {"resourceCharacteristic.value": "2042", "operationalState": "enabled"},
    {"resourceCharacteristic.value": "2042", "limit": "2"},
    {"resourceCharacteristic.value": "2042", "limit": "2", "offset": "2"},
    {"resourceCharacteristic.value": "2042", "sort": "-name", "limit": "3"},
    {"relatedParty.partyOrPartyRole.id": "org-2042"},
    {"relatedParty.partyOrPartyRole.id": "org-1,org-2042", "limit": "1"},
]

EXPECTED = {
    0: ["text-2042", "int-2042", "float-2042", "array", "nested-arrays"],
    1: ["int-2042", "float-2042", "nested-arrays"],
    2: ["float-2042"],
    3: ["array"],
    4: ["array", "booleans"],
    6: ["array", "plain"],
    7: [],
    8: ["long-strings"],
    9: ["long-strings"],
    13: ["int-2042", "float-2042"],
}


@pytest.fixture
def collection(app, monkeypatch):
    """The resource collection, keeping no pages: every request below is answered by its query."""
    collection = app.platform.collection("tmf639", "resource")
    monkeypatch.setattr(collection, "_pages", PageCache(0))
    return collection


@pytest.fixture
def resources(client):
    created = {}
    for number, (name, characteristics) in enumerate(RESOURCES.items()):
        owner = "org-2042" if number % 2 else "org-1"
        created[name] = create(client, name=name, resourceCharacteristic=characteristics,
                               relatedParty=[party(owner)])
    return created


def listed(client, params, base=V5):
    response = client.get(f"{base}/resource", params=params)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()], response.headers["X-Total-Count"]


def both_ways(client, collection, monkeypatch, params, base=V5):
    """The list as served (value index where it applies), then as the jsonpath test over documents gives it."""
    served = listed(client, params, base)
    with monkeypatch.context() as patched:
        patched.setattr(collection.target, "value_table", None)
        patched.setattr(collection, "_counts", BoundedCache(16))  # counts are kept per query: count again
        by_documents = listed(client, params, base)
    return served, by_documents


def test_lists_match_the_document_filter(client, collection, resources, monkeypatch, database_url):
    for number, params in enumerate(QUERIES):
        served, by_documents = both_ways(client, collection, monkeypatch, params)
        assert served == by_documents, params
        if number in EXPECTED and database_url.startswith("postgresql"):  # SQLite walks documents its own way
            assert served[0] == EXPECTED[number], params
            assert served[1] == str(len(EXPECTED[number])), params
    assert listed(client, {"resourceCharacteristic.name": "mtu", "limit": "1"}) == (["int-2042"], "2")
    assert listed(client, {"relatedParty.id": "org-2042"}, V4)[1] == "4"
    assert both_ways(client, collection, monkeypatch, {"relatedParty.id": "org-2042"}, V4)[0][1] == "4"


def test_lists_follow_patches_and_deletes(client, collection, resources, monkeypatch, database_url):
    def check(params, expected):
        served, by_documents = both_ways(client, collection, monkeypatch, params)
        assert served == by_documents, params
        if database_url.startswith("postgresql"):  # SQLite walks documents its own way (no value index there)
            assert served == (expected, str(len(expected))), params

    ident = resources["int-2042"]["id"]
    patched = client.patch(f"{V5}/resource/{ident}", headers=MERGE, json={
        "@type": "PhysicalResource", "resourceCharacteristic": [characteristic("mtu", 2043)]})
    assert patched.status_code == 200, patched.text
    check({"resourceCharacteristic.value": "2042"}, ["text-2042", "float-2042", "array", "nested-arrays"])
    check({"resourceCharacteristic.value": "2043"}, ["int-2042"])

    removed = client.patch(f"{V5}/resource/{resources['text-2042']['id']}", headers=MERGE,
                           json={"@type": "PhysicalResource", "resourceCharacteristic": []})
    assert removed.status_code == 200, removed.text
    check({"resourceCharacteristic.value": "2042"}, ["float-2042", "array", "nested-arrays"])
    check({"resourceCharacteristic.name": "vlan"}, ["plain"])

    renamed = client.patch(f"{V5}/resource/{resources['plain']['id']}", headers=MERGE,
                           json={"@type": "PhysicalResource", "name": "plain-renamed"})
    assert renamed.status_code == 200, renamed.text
    check({"resourceCharacteristic.value": "100"}, ["plain-renamed"])

    assert client.delete(f"{V5}/resource/{resources['array']['id']}").status_code == 204
    check({"resourceCharacteristic.value": "2042"}, ["float-2042", "nested-arrays"])
    check({"resourceCharacteristic.value": "7"}, [])


def _postgresql_only(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("the value index is read and kept on PostgreSQL only")


def test_equality_on_an_indexed_path_reads_the_value_index(collection, database_url):
    _postgresql_only(database_url)
    for path, op, values, indexed in [
        (("resourceCharacteristic", "value"), "eq", ("2042",), True),
        (("resourceCharacteristic", "value"), "eq", ("2042", "7"), True),
        (("relatedParty", "partyOrPartyRole", "id"), "eq", ("org-1",), True),
        (("resourceCharacteristic", "value"), "ne", ("2042",), False),
        (("resourceCharacteristic", "value"), "eq", (LONG,), False),
        (("resourceCharacteristic", "value"), "eq", ("nan",), False),
        (("resourceCharacteristic", "@type"), "eq", ("StringCharacteristic",), False),
    ]:
        clause = compile_conditions([Condition(path, op, values)], collection.target)[0]
        statement = select(ResourceRow.id).where(clause).order_by(ResourceRow.seq).limit(20)
        sql = str(statement.compile(collection.db.engine))
        assert ("resource_value" in sql) is indexed, (path, op, values)
        assert ("@?" in sql) is not indexed, (path, op, values)
        if indexed:
            with collection.db.engine.connect() as connection:
                connection.execute(text("SET enable_seqscan = off"))
                plan = "\n".join(row[0] for row in connection.execute(text("EXPLAIN " + str(
                    statement.compile(collection.db.engine, compile_kwargs={"literal_binds": True})))))
            assert "pk_resource_value" in plan, plan


def test_the_value_index_holds_exactly_what_the_jsonpath_filter_matches(client, resources, database_url):
    """For every resource, indexed path and value seen anywhere: a row in resource_value exactly when the jsonpath
    equality filter matches the document; after writes as well. Every listed path is covered by the trigger."""
    _postgresql_only(database_url)
    client.patch(f"{V5}/resource/{resources['array']['id']}", headers=MERGE,
                 json={"@type": "PhysicalResource", "resourceCharacteristic": [characteristic("ports", [8, "9"])]})
    client.delete(f"{V5}/resource/{resources['booleans']['id']}")
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            kept = set(connection.execute(text("SELECT seq, path, value::text FROM resource_value")).all())
            assert {path for _, path, _ in kept} == set(RESOURCE_VALUE_PATHS)
            assert not connection.execute(text(
                "SELECT count(*) FROM resource_value WHERE seq NOT IN (SELECT seq FROM resource)")).scalar()
            documents = connection.execute(text("SELECT seq FROM resource")).scalars().all()
            candidates = {value for _, _, value in kept} | {'"2042"', "2042", "2042.0", "true", "7", "null",
                                                           '"true"', "9", '"9"', "8"}
            for seq, path, value in itertools.product(documents, RESOURCE_VALUE_PATHS, candidates):
                jsonpath = "$" + "".join(f'."{part}"' for part in path.split(".")) + f" ? (@ == {value})"
                matches = connection.execute(text(
                    "SELECT doc @? CAST(:path AS jsonpath) FROM resource WHERE seq = :seq"),
                    {"path": jsonpath, "seq": seq}).scalar()
                held = connection.execute(text(
                    "SELECT count(*) FROM resource_value WHERE seq = :seq AND path = :path "
                    "AND value = CAST(:value AS jsonb)"), {"seq": seq, "path": path, "value": value}).scalar()
                expected = matches and value != "null" and len(value) <= 2000
                assert bool(held) == bool(expected), (seq, path, value)
    finally:
        engine.dispose()

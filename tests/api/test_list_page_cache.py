"""List pages kept while their collection's write generation holds: never older than the last committed write."""
from __future__ import annotations

import pytest

from tests.api.helpers import V4, V5
from tests.api.test_resource_crud import create
from tmf_oss.platform import Platform
from tmf_oss.tmf.collection import Page
from tmf_oss.tmf.page_cache import PageCache


def names(response) -> list[str]:
    return [item["name"] for item in response.json()]


@pytest.fixture
def page_reads(app, monkeypatch):
    """How many times pages were read from the database rather than answered from the cache."""
    collection = app.platform.collection("tmf639", "resource")
    reads = []
    original = collection._read_page

    def counting(*args, **kwargs):
        reads.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(collection, "_read_page", counting)
    return reads


@pytest.mark.parametrize("query, before, patched, deleted", [
    ({"limit": 2}, ["r1", "r2"], ["r1", "r3"], ["r1", "r3"]),
    ({"name": "r2,r3"}, ["r2", "r3"], ["r3", "r3"], ["r3"]),
    ({"resourceCharacteristic.value": "100"}, ["r1", "r2", "r3"], ["r1", "r3", "r3"], ["r1", "r3"]),
    ({"sort": "-name", "fields": "name"}, ["r3", "r2", "r1"], ["r3", "r3", "r1"], ["r3", "r1"]),
])
def test_a_repeated_list_is_answered_from_the_cache_until_a_write(client, page_reads, query, before, patched,
                                                                   deleted):
    created = [create(client, name=f"r{n}") for n in (1, 2, 3)]
    first = client.get(f"{V5}/resource", params=query)
    again = client.get(f"{V5}/resource", params=query)
    assert names(first) == before
    assert again.content == first.content and again.headers["X-Total-Count"] == first.headers["X-Total-Count"]
    assert len(page_reads) == 1

    assert client.patch(f"{V5}/resource/{created[1]['id']}", json={"@type": "PhysicalResource", "name": "r3"},
                        headers={"Content-Type": "application/merge-patch+json"}).status_code == 200
    assert names(client.get(f"{V5}/resource", params=query)) == patched
    assert len(page_reads) == 2
    assert client.delete(f"{V5}/resource/{created[2]['id']}").status_code == 204
    listed = client.get(f"{V5}/resource", params=query)
    assert names(listed) == deleted and listed.headers["X-Total-Count"] == str(len(deleted) if "limit" not in query
                                                                                else 2)
    assert len(page_reads) == 3


def test_a_write_by_another_process_is_seen_at_once(client, app, settings):
    create(client, name="mine")
    assert names(client.get(f"{V5}/resource", params={"name.regex": "^(mine|theirs)$"})) == ["mine"]
    other = Platform(settings)  # another server process on the same database
    try:
        other.collection("tmf639", "resource").create(
            "v5", {"@type": "LogicalResource", "name": "theirs"}, base_url="http://other", correlation_id=None)
    finally:
        other.close()
    listed = client.get(f"{V5}/resource", params={"name.regex": "^(mine|theirs)$"})
    assert names(listed) == ["mine", "theirs"] and listed.headers["X-Total-Count"] == "2"


def test_pages_of_different_requests_are_kept_apart(client):
    create(client, name="r1")
    plain = client.get(f"{V5}/resource").json()[0]
    assert plain["href"].startswith("http://testserver/")
    proxied = client.get(f"{V5}/resource", headers={"X-Forwarded-Host": "oss.example.net"}).json()[0]
    assert proxied["href"].startswith("http://oss.example.net/")
    assert set(client.get(f"{V5}/resource", params={"fields": "name"}).json()[0]) == {"id", "href", "@type", "name"}
    assert "@type" in client.get(f"{V4}/resource").json()[0]
    assert client.get(f"{V5}/resource", params={"offset": 1}).json() == []


def test_bad_queries_are_refused_every_time(client):
    create(client, name="r1")
    for _ in range(2):
        response = client.get(f"{V5}/resource", params={"nosuchattribute": "x"})
        assert response.status_code == 400 and response.json()["code"]


def test_the_cache_keeps_the_most_recently_used_pages_within_its_size():
    cache = PageCache(max_bytes=400)
    for n in range(5):
        cache.put(n, 1, Page(b"x" * 100, 1, 1))
    assert cache.get(0) is None and cache.get(1) is not None  # 0 dropped; 1 is now the most recent
    cache.put(5, 1, Page(b"x" * 100, 1, 1))
    assert cache.get(2) is None and cache.get(1) is not None
    cache.put(6, 1, Page(b"x" * 101, 1, 1))  # more than a quarter of the budget: not kept
    assert cache.get(6) is None
    assert PageCache(0).enabled is False

"""Concurrent requests handled by one server process share their reads, and each still gets its own answer."""
from __future__ import annotations

import asyncio

import httpx

from tests.api.helpers import V5
from tests.api.test_resource_crud import create


def concurrently(app, paths: list[str]) -> list[httpx.Response]:
    """GETs sent at once to the app on one event loop, as a server worker would take them off its sockets."""
    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await asyncio.gather(*(client.get(path) for path in paths))

    return asyncio.run(scenario())


def test_concurrent_retrieves_share_statements_and_each_gets_its_own_resource(client, app):
    created = [create(client, name=f"r{n}") for n in range(6)]
    reads = app.platform.collection("tmf639", "resource")._retrieve_reads["v5"]
    statements, keys = reads.statements, reads.keys

    paths = [f"{V5}/resource/{resource['id']}" for resource in created] + [f"{V5}/resource/no-such-id"]
    answers = concurrently(app, paths)
    asked, read = reads.keys - keys, reads.statements - statements

    assert asked == len(paths)
    assert read < len(paths)  # asked for together, not one by one
    for resource, answer in zip(created, answers):
        assert answer.status_code == 200
        assert answer.json()["name"] == resource["name"]
        assert answer.json()["href"] == f"http://testserver{V5}/resource/{resource['id']}"
        assert answer.headers["ETag"] == client.get(f"{V5}/resource/{resource['id']}").headers["ETag"]
    missing = answers[-1]
    assert missing.status_code == 404 and missing.json()["@type"] == "Error"


def test_concurrent_lists_see_the_last_committed_write(client, app):
    first = create(client, name="first")
    query = f"{V5}/resource?fields=name&limit=5"
    assert [item["name"] for item in client.get(query).json()] == ["first"]  # now kept
    assert client.patch(f"{V5}/resource/{first['id']}", json={"@type": "PhysicalResource", "name": "renamed"},
                        headers={"Content-Type": "application/merge-patch+json"}).status_code == 200

    answers = concurrently(app, [query] * 4)

    assert {answer.status_code for answer in answers} == {200}
    assert all([item["name"] for item in answer.json()] == ["renamed"] for answer in answers)

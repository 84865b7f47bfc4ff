"""Hub registration and event delivery to a real HTTP listener on loopback."""
from __future__ import annotations

import time
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from tests.api.helpers import V4, V5, Listener, assert_tmf_error
from tmf_oss.config import Settings
from tmf_oss.events.dispatcher import Dispatcher
from tmf_oss.events.model import OutboxEvent


def quick(app, **overrides) -> Settings:
    """The app's settings with retries measured in milliseconds, so tests need not wait for real backoff."""
    values = dict(delivery_backoff_base_seconds=0.01, delivery_backoff_max_seconds=0.05, delivery_timeout_seconds=2.0)
    values.update(overrides)
    return replace(app.platform.settings, **values)


def deliver(app, expected: int, listener: Listener, timeout: float = 15.0, **overrides) -> list[dict]:
    """Run dispatcher passes until the listener has `expected` events (or the timeout passes)."""
    dispatcher = Dispatcher(app.platform, settings=quick(app, **overrides))
    deadline = time.monotonic() + timeout
    try:
        while len(listener.received) < expected and time.monotonic() < deadline:
            dispatcher.run_once()
            time.sleep(0.02)
    finally:
        dispatcher.close()
    return listener.received


def test_register_get_list_delete_hub(client):
    response = client.post(f"{V5}/hub", json={"@type": "Hub", "callback": "http://127.0.0.1:9/listener",
                                              "query": "eventType=ResourceCreateEvent"})
    assert response.status_code == 201, response.text
    hub = response.json()
    assert hub["callback"] == "http://127.0.0.1:9/listener"
    assert hub["@type"] == "Hub" and hub["href"].endswith(f"/hub/{hub['id']}")
    assert client.get(f"{V5}/hub/{hub['id']}").json() == hub
    assert [h["id"] for h in client.get(f"{V5}/hub").json()] == [hub["id"]]
    assert client.delete(f"{V5}/hub/{hub['id']}").status_code == 204
    assert_tmf_error(client.get(f"{V5}/hub/{hub['id']}"), 404)
    assert_tmf_error(client.delete(f"{V5}/hub/{hub['id']}"), 404)


def test_v4_hub_shape(client):
    response = client.post(f"{V4}/hub", json={"callback": "http://127.0.0.1:9/listener"})
    assert response.status_code == 201
    assert set(response.json()) == {"id", "callback"}


@pytest.mark.parametrize("callback", ["ftp://127.0.0.1/x", "not a url", "/relative/path"])
def test_invalid_callbacks_are_refused(client, callback):
    assert_tmf_error(client.post(f"{V4}/hub", json={"callback": callback}), 400)


def test_invalid_query_is_refused(client):
    assert_tmf_error(client.post(f"{V4}/hub", json={"callback": "http://127.0.0.1:9/x", "query": "a..b=1"}), 400)


def test_every_change_writes_its_event_in_the_same_transaction(client, app):
    created = client.post(f"{V5}/resource", json={"@type": "LogicalResource", "name": "e1"}).json()
    client.patch(f"{V5}/resource/{created['id']}", json={"@type": "LogicalResource", "description": "d"},
                 headers={"content-type": "application/merge-patch+json"})
    client.patch(f"{V5}/resource/{created['id']}", json={"@type": "LogicalResource", "operationalState": "enabled"},
                 headers={"content-type": "application/merge-patch+json"})
    # A refused change writes no event.
    client.patch(f"{V5}/resource/{created['id']}", json={"@type": "LogicalResource", "operationalState": "bad"},
                 headers={"content-type": "application/merge-patch+json"})
    client.delete(f"{V5}/resource/{created['id']}")
    with app.platform.db.reading() as session:
        types = list(session.execute(select(OutboxEvent.event_type).order_by(OutboxEvent.seq)).scalars())
    assert types == ["ResourceCreateEvent", "ResourceAttributeValueChangeEvent", "ResourceStateChangeEvent",
                     "ResourceDeleteEvent"]


def test_listener_receives_events_in_order_in_its_version_shape(client, app):
    with Listener() as v5_listener, Listener() as v4_listener:
        client.post(f"{V5}/hub", json={"@type": "Hub", "callback": v5_listener.url})
        client.post(f"{V4}/hub", json={"callback": v4_listener.url})
        created = client.post(f"{V4}/resource", json={"@type": "PhysicalResource", "name": "n1",
                                                      "operationalState": "enable"}).json()
        client.patch(f"{V4}/resource/{created['id']}", json={"operationalState": "disable"})
        client.delete(f"{V4}/resource/{created['id']}")
        got5 = deliver(app, 3, v5_listener)
        got4 = deliver(app, 3, v4_listener)
    assert [e["eventType"] for e in got5] == ["ResourceCreateEvent", "ResourceStateChangeEvent", "ResourceDeleteEvent"]
    assert [e["eventType"] for e in got4] == [e["eventType"] for e in got5]
    first5, first4 = got5[0], got4[0]
    assert first5["@type"] == "ResourceCreateEvent" and first5["eventId"] and first5["eventTime"].endswith("Z")
    assert first5["event"]["resource"]["operationalState"] == "enabled"
    assert first5["event"]["resource"]["href"] == f"http://testserver{V5}/resource/{created['id']}"
    assert first4["event"]["resource"]["operationalState"] == "enable"
    assert first4["event"]["resource"]["href"] == f"http://testserver{V4}/resource/{created['id']}"
    assert "timeOcurred" in first4 and "@type" not in first4
    assert got5[1]["event"]["resource"]["operationalState"] == "disabled"
    assert len({e["eventId"] for e in got5}) == 3


def test_hub_query_selects_events(client, app):
    with Listener() as listener:
        client.post(f"{V5}/hub", json={
            "@type": "Hub", "callback": listener.url,
            "query": "eventType=ResourceStateChangeEvent&event.resource.operationalState=disabled"})
        created = client.post(f"{V5}/resource", json={"@type": "LogicalResource", "name": "q1",
                                                      "operationalState": "enabled"}).json()
        for state in ("disabled", "enabled", "disabled"):
            client.patch(f"{V5}/resource/{created['id']}", json={"@type": "LogicalResource",
                                                                 "operationalState": state},
                         headers={"content-type": "application/merge-patch+json"})
        got = deliver(app, 2, listener)
        deliver(app, 3, listener, timeout=0.5)  # a further pass finds nothing else to send
    assert len(got) == 2
    assert all(e["eventType"] == "ResourceStateChangeEvent" for e in got)


def test_events_before_registration_are_not_sent(client, app):
    client.post(f"{V5}/resource", json={"@type": "LogicalResource", "name": "early"})
    with Listener() as listener:
        client.post(f"{V5}/hub", json={"@type": "Hub", "callback": listener.url})
        client.post(f"{V5}/resource", json={"@type": "LogicalResource", "name": "late"})
        got = deliver(app, 1, listener)
    assert [e["event"]["resource"]["name"] for e in got] == ["late"]
    with app.platform.db.reading() as session:
        assert session.execute(select(func.count()).select_from(OutboxEvent)).scalar() == 2


def test_events_go_to_the_listener_path_of_the_standard(client, app):
    with Listener() as listener:
        client.post(f"{V5}/hub", json={"@type": "Hub", "callback": listener.url + "/"})
        created = client.post(f"{V5}/resource", json={"@type": "LogicalResource", "name": "p"}).json()
        client.delete(f"{V5}/resource/{created['id']}")
        deliver(app, 2, listener)
    assert listener.paths == ["/client/api/listener/resourceCreateEvent", "/client/api/listener/resourceDeleteEvent"]


def test_callback_style_posts_to_the_callback_as_registered(client, app):
    with Listener() as listener:
        client.post(f"{V4}/hub", json={"callback": listener.url})
        client.post(f"{V4}/resource", json={"@type": "LogicalResource", "name": "c"})
        deliver(app, 1, listener, callback_style="callback")
    assert listener.paths == ["/client/api"]


def test_create_many_writes_every_row_and_event_or_none(client, app):
    collection = app.platform.collection("tmf639", "resource")
    made = collection.create_many("v5", [{"@type": "LogicalResource", "name": f"b{i}"} for i in range(3)],
                                  base_url="http://testserver", correlation_id="batch-1")
    ids = [body["id"] for body, _etag in made]
    assert [client.get(f"{V5}/resource/{ident}").json()["name"] for ident in ids] == ["b0", "b1", "b2"]
    with pytest.raises(Exception):  # the second payload reuses an id: nothing of this batch is kept
        collection.create_many("v5", [{"@type": "LogicalResource", "name": "c0"},
                                      {"@type": "LogicalResource", "name": "c1", "id": ids[0]}],
                               base_url="http://testserver", correlation_id=None)
    assert client.get(f"{V5}/resource", params={"name": "c0"}).json() == []
    assert client.get(f"{V5}/resource").headers["X-Total-Count"] == "3"
    with app.platform.db.reading() as session:
        events = session.execute(select(OutboxEvent.entity_id, OutboxEvent.correlation_id)
                                 .order_by(OutboxEvent.seq)).all()
    assert [tuple(e) for e in events] == [(ident, "batch-1") for ident in ids]


def test_every_write_carries_the_request_correlation_header_into_its_event(client, app):
    created = client.post(f"{V5}/resource", json={"@type": "LogicalResource", "name": "traced"},
                          headers={"X-Request-ID": "req-create"}).json()
    path = f"{V5}/resource/{created['id']}"
    assert client.patch(path, json={"@type": "LogicalResource", "name": "traced again"},
                        headers={"Content-Type": "application/merge-patch+json",
                                 "X-Correlation-ID": "req-patch"}).status_code == 200
    assert client.delete(path, headers={"X-Request-ID": "req-delete", "X-Correlation-ID": "ignored"}).status_code == 204
    with app.platform.db.reading() as session:
        events = session.execute(select(OutboxEvent.event_type, OutboxEvent.correlation_id)
                                 .order_by(OutboxEvent.seq)).all()
    assert [tuple(event) for event in events] == [("ResourceCreateEvent", "req-create"),
                                                  ("ResourceAttributeValueChangeEvent", "req-patch"),
                                                  ("ResourceDeleteEvent", "req-delete")]

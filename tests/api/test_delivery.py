"""Durable delivery: retries, parking and replay, slow subscribers, many subscribers, several dispatchers."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import func, select, update

from tests.api.helpers import V4, V5, Listener, assert_tmf_error
from tests.api.test_hub_events import deliver, quick
from tmf_oss.db.base import utcnow
from tmf_oss.events.dispatcher import Dispatcher
from tmf_oss.events.loop import DispatchLoop
from tmf_oss.events.model import HubSubscription, OutboxEvent, ParkedDelivery
from tmf_oss.events.status import delivery_state, prune_outbox
from tmf_oss.events.subscriptions import Subscriptions

MERGE = {"content-type": "application/merge-patch+json"}


def create(client, name: str, version: str = V5) -> dict:
    response = client.post(f"{version}/resource", json={"@type": "LogicalResource", "name": name})
    assert response.status_code == 201, response.text
    return response.json()


def hub(client, callback: str, query: str | None = None) -> str:
    body = {"@type": "Hub", "callback": callback}
    if query:
        body["query"] = query
    response = client.post(f"{V5}/hub", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def names(events: list[dict]) -> list[str]:
    return [event["event"]["resource"]["name"] for event in events]


def test_listener_down_for_a_while_then_back_gets_everything_once_in_order(client, app):
    with Listener() as listener:
        subscription = hub(client, listener.url)
        listener.down()
        dispatcher = Dispatcher(app.platform, settings=quick(app))
        for index in range(6):
            create(client, f"n{index}")
            dispatcher.run_once()  # every attempt is refused: nothing moves
        state = delivery_state(app.platform.db, subscription)[0]
        assert state.pending == 6 and state.delivered == 0 and state.failed_attempts >= 1
        assert state.retrying >= 1 and "ConnectionRefused" in state.last_error
        assert state.oldest_pending_age_seconds is not None and state.oldest_pending_age_seconds >= 0
        listener.up()
        got = deliver(app, 6, listener)
        deliver(app, 7, listener, timeout=0.5)  # nothing more comes
        dispatcher.close()
    assert names(got) == [f"n{i}" for i in range(6)]
    assert len({event["eventId"] for event in got}) == 6
    state = delivery_state(app.platform.db, subscription)[0]
    assert (state.pending, state.delivered, state.parked, state.retrying) == (0, 6, 0, 0)


def test_an_event_the_listener_keeps_refusing_is_parked_then_replayed(client, app):
    with Listener(status=500) as listener:
        subscription = hub(client, listener.url)
        create(client, "refused")
        deliver(app, 1, listener, timeout=1.5, delivery_max_attempts=3)
        assert listener.received == [] and listener.attempts == 3
        parked = client.get("/admin/v1/delivery/parked").json()
        assert [(p["subscription"], p["eventType"], p["attempts"], p["state"]) for p in parked] == [
            (subscription, "ResourceCreateEvent", 3, "parked")]
        assert parked[0]["lastError"] == "HTTP 500"
        # Parking frees the queue: the next event goes through once the listener is well again.
        listener.status = 204
        create(client, "after")
        assert names(deliver(app, 1, listener)) == ["after"]
        state = client.get("/admin/v1/delivery", params={"subscription": subscription}).json()[0]
        assert (state["parked"], state["delivered"], state["failedAttempts"]) == (1, 1, 3)
        replay = client.post("/admin/v1/delivery/replay", json={"subscription": subscription})
        assert replay.status_code == 202 and replay.json() == {"requested": 1}
        got = deliver(app, 2, listener)
    assert names(got) == ["after", "refused"]
    assert client.get("/admin/v1/delivery/parked").json() == []
    replayed = client.get("/admin/v1/delivery/parked", params={"state": "replayed"}).json()
    assert [(p["eventId"], p["attempts"]) for p in replayed] == [(got[1]["eventId"], 4)]


def test_events_older_than_the_age_limit_are_parked(client, app):
    with Listener(status=503) as listener:
        hub(client, listener.url)
        create(client, "old")
        deliver(app, 1, listener, timeout=1.0, delivery_max_age_seconds=0.2, delivery_max_attempts=1000)
    parked = client.get("/admin/v1/delivery/parked").json()
    assert len(parked) == 1 and parked[0]["attempts"] >= 2


def test_replay_requests_must_select_something(client):
    for body in ({}, {"all": False}, {"eventId": 5}):
        assert_tmf_error(client.post("/admin/v1/delivery/replay", json=body), 400)
    assert_tmf_error(client.post("/admin/v1/delivery/replay", content=b"{not json",
                                 headers={"content-type": "application/json"}), 400)
    assert_tmf_error(client.get("/admin/v1/delivery/parked", params={"state": "lost"}), 400)
    assert client.post("/admin/v1/delivery/replay", json={"all": True}).json() == {"requested": 0}


def test_metrics_endpoint_reports_every_subscription(client, app):
    with Listener(status=500) as listener:
        subscription = hub(client, listener.url)
        create(client, "m1")
        create(client, "m2")
        deliver(app, 1, listener, timeout=0.5, delivery_max_attempts=2)
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    lines = {line.split(" ")[0]: line.split(" ")[1] for line in response.text.splitlines()
             if line and not line.startswith("#")}
    labels = f'{{subscription="{subscription}",api="tmf639",version="v5"}}'
    assert lines["tmf_oss_delivery_parked_events" + labels] == "2"
    assert lines["tmf_oss_delivery_failed_attempts_total" + labels] == "4"
    assert lines["tmf_oss_delivery_pending_events" + labels] == "0"
    assert lines["tmf_oss_delivery_subscriptions"] == "1"


def test_a_hanging_subscriber_does_not_hold_up_the_others(client, app):
    timeout = 3.0
    with Listener() as hanging, Listener() as healthy:
        hanging.hang()
        hub(client, hanging.url)
        hub(client, healthy.url)
        loop = DispatchLoop(app.platform, settings=quick(app, delivery_timeout_seconds=timeout,
                                                         dispatch_interval_seconds=0.05)).start()
        try:
            started = time.monotonic()
            for index in range(5):
                create(client, f"h{index}")
            got = healthy.wait_for(5, timeout=timeout)
            assert names(got) == [f"h{i}" for i in range(5)]
            assert healthy.arrived_at[-1] - started < timeout
            hanging.release()
            assert names(hanging.wait_for(5)) == [f"h{i}" for i in range(5)]
        finally:
            loop.close()


def test_a_thousand_subscriptions_each_get_their_events(client, app):
    subscriptions = Subscriptions(app.platform.db, allow_private=True)
    with Listener() as listener:
        for index in range(1000):
            subscriptions.register("tmf639", "v5" if index % 2 else "v4", f"{listener.url}/{index}", None)
        create(client, "a")
        create(client, "b")
        loop = DispatchLoop(app.platform, settings=quick(app, dispatch_interval_seconds=0.05)).start()
        try:
            listener.wait_for(2000, timeout=120)
        finally:
            loop.close()
    per_subscription: dict[str, list[str]] = {}
    for path, event in zip(listener.paths, listener.received):
        per_subscription.setdefault(path.split("/")[3], []).append(event["event"]["resource"]["name"])
    assert len(per_subscription) == 1000
    assert all(received == ["a", "b"] for received in per_subscription.values())


def test_two_dispatchers_deliver_each_event_once_in_order(client, app):
    with Listener() as first, Listener() as second:
        hub(client, first.url)
        hub(client, second.url)
        loops = [DispatchLoop(app.platform, settings=quick(app, dispatch_interval_seconds=0.02,
                                                           delivery_concurrency=2)).start() for _ in range(2)]
        try:
            writer = threading.Thread(target=lambda: [create(client, f"t{i:03}") for i in range(60)])
            writer.start()
            writer.join()
            got_first, got_second = first.wait_for(60), second.wait_for(60)
            time.sleep(0.3)  # time for a duplicate to show up, if there were one
        finally:
            for loop in loops:
                loop.close()
    expected = [f"t{i:03}" for i in range(60)]
    assert names(first.received) == expected and names(second.received) == expected
    assert names(got_first) == names(got_second) == expected


def test_a_dead_dispatchers_subscriptions_are_taken_over_when_its_lease_lapses(client, app):
    with Listener() as listener:
        hub(client, listener.url)
        create(client, "orphan")
        settings = quick(app, delivery_timeout_seconds=0.1, delivery_lease_seconds=0.4)
        crashed = Dispatcher(app.platform, settings=settings, owner="crashed")
        assert len(crashed.claim(10)) == 1  # claimed, then never served
        survivor = Dispatcher(app.platform, settings=settings, owner="survivor")
        assert survivor.claim(10) == []  # the lease still holds
        time.sleep(0.5)
        claims = survivor.claim(10)
        assert len(claims) == 1
        survivor.serve(claims[0])
        for dispatcher in (crashed, survivor):
            dispatcher.close()
    assert names(listener.received) == ["orphan"]


def test_deleting_a_hub_drops_its_parked_events(client, app):
    with Listener(status=500) as listener:
        subscription = hub(client, listener.url)
        create(client, "x")
        deliver(app, 1, listener, timeout=0.5, delivery_max_attempts=1)
    with app.platform.db.reading() as session:
        assert session.execute(select(func.count()).select_from(ParkedDelivery)).scalar() == 1
    assert client.delete(f"{V5}/hub/{subscription}").status_code == 204
    with app.platform.db.reading() as session:
        assert session.execute(select(func.count()).select_from(ParkedDelivery)).scalar() == 0


def test_pruning_keeps_what_a_subscriber_still_needs(client, app):
    with Listener() as listener:
        hub(client, listener.url)
        create(client, "delivered")
        deliver(app, 1, listener)
    slow = hub(client, "http://127.0.0.1:9/never-read")  # registered after the first event
    create(client, "waiting")
    with app.platform.db.transaction() as session:  # make every event old
        session.execute(update(OutboxEvent).values(created_at=utcnow() - timedelta(days=30)))
    assert prune_outbox(app.platform.db, timedelta(days=7)) == 1
    with app.platform.db.reading() as session:
        kept = session.execute(select(OutboxEvent.entity_id, OutboxEvent.event_type)).all()
        cursor = session.execute(select(HubSubscription.delivered_seq).where(HubSubscription.id == slow)).scalar()
    assert len(kept) == 1
    assert delivery_state(app.platform.db, slow)[0].pending == 1 and cursor > 0


def test_v4_hub_gets_v4_shaped_events_on_the_v4_listener_path(client, app):
    with Listener() as listener:
        client.post(f"{V4}/hub", json={"callback": listener.url, "query": "eventType=ResourceStateChangeEvent"})
        created = create(client, "s", V4)
        client.patch(f"{V4}/resource/{created['id']}", json={"operationalState": "disable"}, headers=MERGE)
        got = deliver(app, 1, listener)
    assert listener.paths == ["/client/api/listener/resourceStateChangeEvent"]
    assert got[0]["event"]["resource"]["operationalState"] == "disable" and "timeOcurred" in got[0]

"""TMF642 task resources, v4 (plural) and v5 (singular): what each task does to the alarms, what it records,
how invalid requests are refused without changing anything, and the events it leaves in the outbox."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.api.helpers import Listener, assert_tmf_error
from tests.api.test_alarm_api import V4, V5, new_alarm
from tests.api.test_hub_events import deliver
from tmf_oss.events.model import HubSubscription, OutboxEvent

BASES = {"v4": V4, "v5": V5}
CLEARED_AT = "2026-11-25T11:30:00.000Z"
CHANGED_AT = "2026-11-25T11:45:00.000Z"


def path(version: str, task: str) -> str:
    """`ackAlarm` -> the v4 (`/ackAlarms`) or v5 (`/ackAlarm`) collection path."""
    return f"{BASES[version]}/{task}{'s' if version == 'v4' else ''}"


def shaped(version: str, task: str, body: dict) -> dict:
    """A v5 body carries @type (mandatory there); v4 clients typically leave it out."""
    body = dict(body)
    if version == "v5":
        body["@type"] = task[0].upper() + task[1:]
    return body


def run(client, version: str, task: str, **body):
    return client.post(path(version, task), json=shaped(version, task, body))


def done(response) -> dict:
    assert response.status_code == 201, response.text
    task = response.json()
    assert task["state"] == "done"
    assert response.headers["Location"] == task["href"]
    return task


def raise_alarm(client, **overrides) -> str:
    created = client.post(f"{V5}/alarm", json=new_alarm(**overrides))
    assert created.status_code == 201, created.text
    return created.json()["id"]


def on_object(object_id: str) -> dict:
    return {"id": object_id, "@type": "AlarmedObjectRef"}


def alarm(client, ident: str) -> dict:
    return client.get(f"{V5}/alarm/{ident}").json()


def ids(refs) -> list[str]:
    return [ref["id"] for ref in refs or ()]


def like(**members) -> dict:
    """A pattern item: an alarm given by value (v5 wants @type on it and on its nested objects)."""
    return {"@type": "Alarm", **members}


def ref(ident: str) -> dict:
    return {"@type": "AlarmRef", "id": ident}


def by_id(*idents: str) -> list[dict]:
    return [ref(ident) for ident in idents]


def everything(client, app) -> tuple:
    """All alarms as served, and the number of outbox events: what a refused task must leave alone."""
    alarms = client.get(f"{V5}/alarm", params={"sort": "alarmRaisedTime"}).json()
    with app.platform.db.reading() as session:
        events = session.execute(select(func.count()).select_from(OutboxEvent)).scalar()
    return alarms, events


ACK = {"ackUserId": "noc-7", "ackSystemId": "console"}
CLEAR = {"clearUserId": "noc-7", "clearSystemId": "console", "alarmClearedTime": CLEARED_AT}
GROUP = {"sourceSystemId": "correlator", "alarmChangedTime": CHANGED_AT}


# --- acknowledging ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["v4", "v5"])
def test_ack_by_id_changes_the_alarms_and_records_them(client, version):
    first, second, other = raise_alarm(client), raise_alarm(client), raise_alarm(client)
    task = done(run(client, version, "ackAlarm", alarmPattern=by_id(first, second), **ACK))
    assert task["href"] == f"http://testserver{path(version, 'ackAlarm')}/{task['id']}"
    assert ids(task["ackedAlarm"]) == [first, second] and task["unaffectedAlarm"] == []
    assert task["ackUserId"] == "noc-7" and task["ackSystemId"] == "console" and task["ackTime"]
    for ident in (first, second):
        acked = alarm(client, ident)
        assert acked["ackState"] == "acknowledged" and acked["state"] == "raised"
        assert acked["ackUserId"] == "noc-7" and acked["ackSystemId"] == "console"
        assert acked["alarmChangedTime"] == task["ackTime"]
    assert alarm(client, other)["ackState"] == "unacknowledged"


@pytest.mark.parametrize("version", ["v4", "v5"])
def test_ack_by_pattern_matches_member_by_member(client, version):
    wanted = raise_alarm(client, perceivedSeverity="minor", alarmedObject=on_object("card-1"))
    raise_alarm(client, perceivedSeverity="minor", alarmedObject=on_object("card-2"))
    raise_alarm(client, perceivedSeverity="major", alarmedObject=on_object("card-1"))
    pattern = [like(perceivedSeverity="minor", alarmedObject=on_object("card-1"))]
    task = done(run(client, version, "ackAlarm", alarmPattern=pattern, ackTime="2026-11-25T11:00:00.000Z", **ACK))
    assert ids(task["ackedAlarm"]) == [wanted]
    assert task["ackTime"] == "2026-11-25T11:00:00.000Z"  # the client's time is kept
    assert alarm(client, wanted)["alarmChangedTime"] == "2026-11-25T11:00:00.000Z"
    acked = client.get(f"{V5}/alarm", params={"ackState": "acknowledged"}).json()
    assert [a["id"] for a in acked] == [wanted]


def test_pattern_matches_arrays_instants_and_booleans(client):
    commented = raise_alarm(client, comment=[{"@type": "Comment", "comment": "site visit", "userId": "ann"}],
                            isRootCause=True)
    other = raise_alarm(client, comment=[{"@type": "Comment", "comment": "other"}], isRootCause=True)
    raise_alarm(client, alarmRaisedTime="2026-11-25T08:00:00Z")
    # An array member matches when each of its elements matches some element of the alarm's.
    pattern = like(comment=[{"@type": "Comment", "comment": "site visit"}], isRootCause=True)
    task = done(run(client, "v5", "ackAlarm", alarmPattern=[pattern], **ACK))
    assert ids(task["ackedAlarm"]) == [commented]
    # Instants compare as instants whatever their notation (10:00Z is 11:00+01:00).
    task = done(run(client, "v5", "unAckAlarm", alarmPattern=[like(alarmRaisedTime="2026-11-25T11:00:00.000+01:00",
                                                                   isRootCause=True)], **ACK))
    assert ids(task["unAckedAlarm"]) == [commented]
    assert task["unaffectedAlarm"] == [{"id": other, "reason": "not acknowledged"}]


def test_a_pattern_that_matches_nothing_is_done_with_nothing_to_do(client):
    raise_alarm(client)
    task = done(run(client, "v5", "ackAlarm", alarmPattern=[like(probableCause="fire")], **ACK))
    assert task["ackedAlarm"] == [] and task["unaffectedAlarm"] == []


@pytest.mark.parametrize("version", ["v4", "v5"])
def test_ack_reports_alarms_it_did_not_change(client, version):
    acked, fresh = raise_alarm(client), raise_alarm(client)
    done(run(client, version, "ackAlarm", alarmPattern=by_id(acked), **ACK))
    before = alarm(client, acked)
    task = done(run(client, version, "ackAlarm", alarmPattern=by_id(acked, fresh),
                    ackUserId="noc-9", ackSystemId="other"))
    assert ids(task["ackedAlarm"]) == [fresh]
    assert task["unaffectedAlarm"] == [{"id": acked, "reason": "already acknowledged"}]
    assert alarm(client, acked) == before  # the earlier acknowledgement stands


def test_members_given_with_an_id_must_match(client):
    major, minor = raise_alarm(client), raise_alarm(client, perceivedSeverity="minor")
    task = done(run(client, "v5", "ackAlarm", alarmPattern=[like(id=major, perceivedSeverity="minor"),
                                                            like(id=minor, perceivedSeverity="minor")], **ACK))
    assert ids(task["ackedAlarm"]) == [minor]
    assert [u["id"] for u in task["unaffectedAlarm"]] == [major]
    assert "does not match" in task["unaffectedAlarm"][0]["reason"]
    assert alarm(client, major)["ackState"] == "unacknowledged"


@pytest.mark.parametrize("version", ["v4", "v5"])
def test_unack_reverses_an_acknowledgement(client, version):
    acked, never = raise_alarm(client), raise_alarm(client)
    done(run(client, version, "ackAlarm", alarmPattern=by_id(acked), **ACK))
    task = done(run(client, version, "unAckAlarm", alarmPattern=by_id(acked, never),
                    ackUserId="noc-9", ackSystemId="console"))
    assert ids(task["unAckedAlarm"]) == [acked] and task["ackTime"]
    assert task["unaffectedAlarm"] == [{"id": never, "reason": "not acknowledged"}]
    withdrawn = alarm(client, acked)
    assert withdrawn["ackState"] == "unacknowledged" and withdrawn["ackUserId"] == "noc-9"
    assert withdrawn["alarmChangedTime"] == task["ackTime"]


# --- clearing --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["v4", "v5"])
def test_clear_by_id_and_an_already_cleared_alarm_is_not_cleared_again(client, version):
    first, second = raise_alarm(client), raise_alarm(client)
    task = done(run(client, version, "clearAlarm", alarmPattern=by_id(first), **CLEAR))
    assert ids(task["clearedAlarm"]) == [first] and task["unaffectedAlarm"] == []
    cleared = alarm(client, first)
    assert cleared["state"] == "cleared" and cleared["perceivedSeverity"] == "cleared"
    assert cleared["alarmClearedTime"] == CLEARED_AT and cleared["alarmChangedTime"] == CLEARED_AT
    assert cleared["clearUserId"] == "noc-7" and cleared["clearSystemId"] == "console"
    again = done(run(client, version, "clearAlarm", alarmPattern=by_id(first, second),
                     clearUserId="noc-9", clearSystemId="x", alarmClearedTime="2026-11-25T12:00:00Z"))
    assert ids(again["clearedAlarm"]) == [second]
    assert again["unaffectedAlarm"] == [{"id": first, "reason": "already cleared"}]
    assert alarm(client, first) == cleared


@pytest.mark.parametrize("version", ["v4", "v5"])
def test_clear_by_pattern(client, version):
    on_card = [raise_alarm(client, alarmedObject=on_object("card-3")) for _ in range(2)]
    elsewhere = raise_alarm(client, alarmedObject=on_object("card-4"))
    task = done(run(client, version, "clearAlarm", alarmPattern=[like(alarmedObject=on_object("card-3"))], **CLEAR))
    assert ids(task["clearedAlarm"]) == on_card
    assert [alarm(client, ident)["state"] for ident in on_card] == ["cleared", "cleared"]
    assert alarm(client, elsewhere)["state"] == "raised"
    assert client.get(f"{V5}/alarm", params={"state": "raised"}).headers["X-Total-Count"] == "1"


def test_a_cleared_alarm_can_still_be_acknowledged(client):
    ident = raise_alarm(client)
    done(run(client, "v5", "clearAlarm", alarmPattern=by_id(ident), **CLEAR))
    task = done(run(client, "v5", "ackAlarm", alarmPattern=by_id(ident), **ACK))
    assert ids(task["ackedAlarm"]) == [ident]
    assert alarm(client, ident)["state"] == "cleared" and alarm(client, ident)["ackState"] == "acknowledged"


# --- commenting ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["v4", "v5"])
def test_comment_is_appended_to_every_selected_alarm(client, version):
    earlier = {"@type": "Comment", "comment": "first look", "userId": "ann"}
    noted = raise_alarm(client, comment=[earlier], alarmedObject=on_object("card-5"))
    cleared = raise_alarm(client, state="cleared", alarmedObject=on_object("card-5"))
    other = raise_alarm(client)
    comment = {"@type": "Comment", "comment": "field team dispatched", "userId": "bob", "systemId": "console"}
    task = done(run(client, version, "commentAlarm", alarmPattern=[like(alarmedObject=on_object("card-5"))],
                    comment=comment))
    assert ids(task["commentedAlarm"]) == [noted, cleared] and task["unaffectedAlarm"] == []
    assert task["comment"]["time"] and task["comment"]["comment"] == "field team dispatched"
    comments = alarm(client, noted)["comment"]
    assert [c["comment"] for c in comments] == ["first look", "field team dispatched"]
    assert comments[1]["@type"] == "Comment" and comments[1]["time"] == task["comment"]["time"]
    assert alarm(client, noted)["alarmChangedTime"] == task["comment"]["time"]
    assert [c["comment"] for c in alarm(client, cleared)["comment"]] == ["field team dispatched"]
    assert "comment" not in alarm(client, other)
    by_ident = done(run(client, version, "commentAlarm", alarmPattern=by_id(other),
                        comment={"@type": "Comment", "comment": "seen", "time": "2026-11-25T12:00:00.000Z"}))
    assert ids(by_ident["commentedAlarm"]) == [other]
    assert alarm(client, other)["comment"][0]["time"] == "2026-11-25T12:00:00.000Z"


# --- grouping --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["v4", "v5"])
def test_group_and_ungroup(client, version):
    parent, first, second = raise_alarm(client), raise_alarm(client), raise_alarm(client)
    task = done(run(client, version, "groupAlarm", parentAlarm=ref(parent), correlatedAlarm=by_id(first, second),
                    **GROUP))
    assert ids(task["groupedAlarm"]) == [first, second] and task["unaffectedAlarm"] == []
    root = alarm(client, parent)
    assert root["isRootCause"] is True and ids(root["correlatedAlarm"]) == [first, second]
    assert root["alarmChangedTime"] == CHANGED_AT
    for ident in (first, second):
        child = alarm(client, ident)
        assert ids(child["parentAlarm"]) == [parent] and child["isRootCause"] is False
        assert child["alarmChangedTime"] == CHANGED_AT
    again = done(run(client, version, "groupAlarm", parentAlarm=ref(parent), correlatedAlarm=by_id(first), **GROUP))
    assert again["groupedAlarm"] == []
    assert again["unaffectedAlarm"] == [{"id": first, "reason": f"already grouped under alarm '{parent}'"}]

    loose = raise_alarm(client)
    task = done(run(client, version, "unGroupAlarm", parentAlarm=ref(parent), correlatedAlarm=by_id(first, loose),
                    **GROUP))
    assert ids(task["unGroupedAlarm"]) == [first]
    assert task["unaffectedAlarm"] == [{"id": loose, "reason": f"not grouped under alarm '{parent}'"}]
    # An alarm without a parent is a root cause again; the parent stays one.
    freed = alarm(client, first)
    assert "parentAlarm" not in freed and freed["isRootCause"] is True
    root = alarm(client, parent)
    assert root["isRootCause"] is True and ids(root["correlatedAlarm"]) == [second]
    done(run(client, version, "unGroupAlarm", parentAlarm=ref(parent), correlatedAlarm=by_id(second), **GROUP))
    root = alarm(client, parent)
    assert root["isRootCause"] is True and "correlatedAlarm" not in root
    assert "parentAlarm" not in alarm(client, second) and alarm(client, second)["isRootCause"] is True


@pytest.mark.parametrize("version", ["v4", "v5"])
def test_group_by_pattern(client, version):
    parent = raise_alarm(client, alarmedObject=on_object("shelf-1"), probableCause="powerProblem")
    children = [raise_alarm(client, alarmedObject=on_object("shelf-1")) for _ in range(2)]
    raise_alarm(client, alarmedObject=on_object("shelf-2"))
    task = done(run(client, version, "groupAlarm", parentAlarm=ref(parent),
                    correlatedAlarm=[like(alarmedObject=on_object("shelf-1"))], **GROUP))
    # The pattern matches the parent too: it is reported, not grouped under itself.
    assert ids(task["groupedAlarm"]) == children
    assert task["unaffectedAlarm"] == [{"id": parent, "reason": "is the parentAlarm of this task"}]
    assert ids(alarm(client, parent)["correlatedAlarm"]) == children


def test_groups_are_one_level_deep(client, app):
    parent, child, other_parent, grandchild = (raise_alarm(client) for _ in range(4))
    done(run(client, "v5", "groupAlarm", parentAlarm=ref(parent), correlatedAlarm=by_id(child), **GROUP))
    done(run(client, "v5", "groupAlarm", parentAlarm=ref(other_parent), correlatedAlarm=by_id(grandchild),
             **GROUP))
    task = done(run(client, "v5", "groupAlarm", parentAlarm=ref(other_parent),
                    correlatedAlarm=by_id(child, parent), **GROUP))
    assert task["groupedAlarm"] == []
    assert task["unaffectedAlarm"] == [
        {"id": child, "reason": f"grouped under alarm '{parent}'; ungroup it first"},
        {"id": parent, "reason": "is the root cause of other alarms; ungroup them first"}]
    # A child cannot become a root cause: the whole task is refused.
    before = everything(client, app)
    refused = run(client, "v5", "groupAlarm", parentAlarm=ref(child), correlatedAlarm=by_id(grandchild), **GROUP)
    assert_tmf_error(refused, 409)
    assert "grouped under alarm" in refused.json()["message"]
    assert everything(client, app) == before


# --- refused requests ------------------------------------------------------------------------------------

def _bad_requests(known: str):
    yield "unknown alarm id", "ackAlarm", dict(alarmPattern=by_id(known, "no-such-alarm"), **ACK)
    yield "pattern without members", "ackAlarm", dict(alarmPattern=[{"@type": "AlarmRef"}], **ACK)
    yield "unknown attribute", "ackAlarm", dict(alarmPattern=[like(colour="red")], **ACK)
    yield "unknown nested attribute", "clearAlarm", dict(
        alarmPattern=[like(alarmedObject={**on_object("port-1"), "colour": "red"})], **CLEAR)
    yield "object given a scalar", "ackAlarm", dict(alarmPattern=[like(alarmedObject="port-1")], **ACK)
    yield "wrongly typed member", "ackAlarm", dict(alarmPattern=[like(isRootCause="yes")], **ACK)
    yield "empty selection", "ackAlarm", dict(alarmPattern=[], **ACK)
    yield "missing ackUserId", "ackAlarm", dict(alarmPattern=by_id(known), ackSystemId="console")
    yield "missing alarmPattern", "unAckAlarm", dict(ACK)
    yield "missing alarmClearedTime", "clearAlarm", dict(alarmPattern=by_id(known), clearUserId="u",
                                                         clearSystemId="s")
    yield "comment without text", "commentAlarm", dict(alarmPattern=by_id(known),
                                                        comment={"@type": "Comment", "userId": "bob"})
    yield "unknown parent", "groupAlarm", dict(parentAlarm=ref("no-such-alarm"), correlatedAlarm=by_id(known),
                                               **GROUP)
    yield "parent without id", "groupAlarm", dict(parentAlarm=like(alarmType="qualityOfServiceAlarm"),
                                                  correlatedAlarm=by_id(known), **GROUP)
    yield "grouped under itself", "groupAlarm", dict(parentAlarm=ref(known), correlatedAlarm=by_id(known), **GROUP)
    yield "missing correlatedAlarm", "unGroupAlarm", dict(parentAlarm=ref(known), **GROUP)


BAD_CASES = [name for name, _, _ in _bad_requests("x")]


@pytest.mark.parametrize("version", ["v4", "v5"])
@pytest.mark.parametrize("case", BAD_CASES)
def test_invalid_requests_are_refused_and_change_nothing(client, app, version, case):
    known = raise_alarm(client, alarmedObject=on_object("port-1"))
    other = raise_alarm(client, perceivedSeverity="minor")
    done(run(client, "v5", "groupAlarm", parentAlarm=ref(other), correlatedAlarm=by_id(known), **GROUP))
    _, task, body = next(item for item in _bad_requests(known) if item[0] == case)
    before = everything(client, app), client.get(path(version, task)).json()
    error = assert_tmf_error(run(client, version, task, **body), 400)
    assert error["message"]
    assert (everything(client, app), client.get(path(version, task)).json()) == before


def test_an_unknown_id_names_what_is_missing(client):
    known = raise_alarm(client)
    error = assert_tmf_error(run(client, "v5", "clearAlarm", alarmPattern=by_id(known, "ghost"), **CLEAR), 400)
    assert error["reason"] == "Unknown alarm" and "alarmPattern[1]" in error["message"] and "ghost" in error["message"]
    assert alarm(client, known)["state"] == "raised"


# --- reading tasks ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["v4", "v5"])
def test_tasks_are_listed_retrieved_and_read_only(client, version):
    first, second = raise_alarm(client), raise_alarm(client)
    one = done(run(client, version, "ackAlarm", alarmPattern=by_id(first), **ACK))
    two = done(run(client, version, "ackAlarm", alarmPattern=by_id(first, second), ackUserId="noc-9",
                   ackSystemId="console"))
    collection = path(version, "ackAlarm")
    listed = client.get(collection)
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "2"
    assert [t["id"] for t in listed.json()] == [one["id"], two["id"]]
    assert client.get(f"{collection}/{two['id']}").json() == two
    assert [t["id"] for t in client.get(collection, params={"ackUserId": "noc-9"}).json()] == [two["id"]]
    assert [t["id"] for t in client.get(collection, params={"ackedAlarm.id": second}).json()] == [two["id"]]
    assert [t["id"] for t in client.get(collection, params={"unaffectedAlarm.id": first}).json()] == [two["id"]]
    assert client.get(collection, params={"state": "done"}).headers["X-Total-Count"] == "2"
    page = client.get(collection, params={"limit": 1, "offset": 1, "fields": "state"})
    expected = {"id": two["id"], "href": two["href"], "state": "done"}
    if version == "v5":
        expected["@type"] = "AckAlarm"
    assert page.json() == [expected] and page.headers["X-Total-Count"] == "2"
    assert client.get(f"{collection}/{one['id']}", params={"fields": "ackedAlarm"}).json()["ackedAlarm"] == \
        one["ackedAlarm"]
    assert_tmf_error(client.get(collection, params={"colour": "red"}), 400)
    assert_tmf_error(client.get(f"{collection}/no-such-task"), 404)
    assert_tmf_error(client.patch(f"{collection}/{one['id']}", json={"state": "canceled"},
                                  headers={"content-type": "application/merge-patch+json"}), 405)
    assert_tmf_error(client.delete(f"{collection}/{one['id']}"), 405)
    assert client.get(f"{collection}/{one['id']}").json() == one


def test_server_owned_members_of_a_task_are_not_taken_from_the_client(client):
    ident = raise_alarm(client)
    task = done(run(client, "v4", "ackAlarm", alarmPattern=by_id(ident), state="canceled",
                    ackedAlarm=[{"id": "made-up"}], **ACK))
    assert ids(task["ackedAlarm"]) == [ident]


def test_each_version_serves_its_own_task_collections(client):
    ident = raise_alarm(client)
    done(run(client, "v4", "ackAlarm", alarmPattern=by_id(ident), **ACK))
    assert client.get(f"{V5}/ackAlarm").headers["X-Total-Count"] == "0"
    assert_tmf_error(client.get(f"{V5}/ackAlarms"), 404)
    assert_tmf_error(client.get(f"{V4}/ackAlarm"), 404)


# --- events ----------------------------------------------------------------------------------------------

def outbox(app) -> list[tuple]:
    with app.platform.db.reading() as session:
        rows = session.execute(select(OutboxEvent.event_type, OutboxEvent.entity_name, OutboxEvent.entity_id,
                                      OutboxEvent.correlation_id).order_by(OutboxEvent.seq)).all()
    return [tuple(row) for row in rows]


@pytest.mark.parametrize("version", ["v4", "v5"])
def test_a_task_writes_its_create_event_and_the_alarm_change_events(client, app, version):
    first, second = raise_alarm(client), raise_alarm(client)
    already = len(outbox(app))
    task = client.post(path(version, "ackAlarm"), headers={"X-Correlation-ID": "ack-1"},
                       json=shaped(version, "ackAlarm", dict(alarmPattern=by_id(first, second), **ACK))).json()
    name = "ackAlarms" if version == "v4" else "ackAlarm"
    events = outbox(app)[already:]
    assert sorted(events[:4]) == sorted([
        ("AlarmAttributeValueChangeEvent", "alarm", first, "ack-1"), ("AlarmStateChangeEvent", "alarm", first, "ack-1"),
        ("AlarmAttributeValueChangeEvent", "alarm", second, "ack-1"),
        ("AlarmStateChangeEvent", "alarm", second, "ack-1")])
    assert events[4:] == [(name[0].upper() + name[1:] + "CreateEvent", name, task["id"], "ack-1")]
    with app.platform.db.reading() as session:
        payload = session.execute(select(OutboxEvent.entity).where(OutboxEvent.entity_id == task["id"])).scalar_one()
    assert payload["state"] == "done" and ids(payload["ackedAlarm"]) == [first, second]
    # Commenting changes no state member: attribute-value changes only.
    already = len(outbox(app))
    done(run(client, version, "commentAlarm", alarmPattern=by_id(first), comment={"@type": "Comment", "comment": "hi"}))
    assert [event[0] for event in outbox(app)[already:]] == [
        "AlarmAttributeValueChangeEvent", "CommentAlarmsCreateEvent" if version == "v4" else "CommentAlarmCreateEvent"]
    # A refused task writes no event.
    already = len(outbox(app))
    assert_tmf_error(run(client, version, "ackAlarm", alarmPattern=by_id(first, "ghost"), **ACK), 400)
    assert len(outbox(app)) == already


def test_hubs_get_the_task_events_of_their_own_version_only(client, app):
    ident = raise_alarm(client)
    with Listener() as v5_listener, Listener() as v4_listener:
        client.post(f"{V5}/hub", json={"@type": "Hub", "callback": v5_listener.url})
        client.post(f"{V4}/hub", json={"callback": v4_listener.url})
        task = done(run(client, "v5", "ackAlarm", alarmPattern=by_id(ident), **ACK))
        got5 = deliver(app, 3, v5_listener)
        got4 = deliver(app, 2, v4_listener)
        deliver(app, 3, v4_listener, timeout=0.5)  # a further pass sends the v4 hub nothing more
    assert [e["eventType"] for e in got5] == ["AlarmAttributeValueChangeEvent", "AlarmStateChangeEvent",
                                              "AckAlarmCreateEvent"]
    assert got5[2]["event"]["ackAlarm"]["href"] == f"http://testserver{V5}/ackAlarm/{task['id']}"
    assert got5[1]["event"]["alarm"]["ackState"] == "acknowledged"
    assert [e["eventType"] for e in got4] == ["AlarmAttributeValueChangeEvent", "AlarmStateChangeEvent"]
    assert got4[0]["event"]["alarm"]["href"] == f"http://testserver{V4}/alarm/{ident}"
    with app.platform.db.reading() as session:
        last = session.execute(select(func.max(OutboxEvent.seq))).scalar()
        hubs = session.execute(select(HubSubscription.api_version, HubSubscription.delivered_seq,
                                      HubSubscription.failed_count)).all()
    assert sorted(tuple(hub) for hub in hubs) == [("v4", last, 0), ("v5", last, 0)]


# --- every operation is served ---------------------------------------------------------------------------

def test_every_operation_of_every_served_document_has_a_real_handler(settings, monkeypatch):
    import tmf_oss.app as app_module

    resolved: dict[str, object] = {}
    build_resolver = app_module._resolver

    def recording(operations):
        resolver = build_resolver(operations)
        find = resolver.function_resolver

        def spy(operation_id):
            resolved[operation_id] = find(operation_id)  # raises for an operation without a handler
            return resolved[operation_id]

        resolver.function_resolver = spy
        return resolver

    monkeypatch.setattr(app_module, "_resolver", recording)
    application = app_module.create_app(settings)
    with application.test_client() as started:  # connexion resolves the operations when the app starts
        assert started.get("/").status_code == 200
    documents = application.platform.specs.values()
    declared = {operation["operationId"] for document in documents for item in document["paths"].values()
                for operation in item.values() if isinstance(operation, dict) and "operationId" in operation}
    assert declared <= set(resolved)
    served = {op for op in declared if not (op.startswith("listenTo") or op.endswith("Event"))}
    assert {f"{verb}{task}" for verb in ("create", "list", "retrieve")
            for task in ("AckAlarms", "UnGroupAlarms", "AckAlarm", "UnGroupAlarm")} <= served
    not_real = sorted(op for op in served if resolved[op] is app_module._listener_not_served)
    assert not not_real
    listeners = declared - served
    assert listeners and all(resolved[op] is app_module._listener_not_served for op in listeners)

"""TMF642 alarms through the API, v4 and v5: CRUD, the life-cycle rules, filtering, and one alarm seen by both."""
from __future__ import annotations

import pytest

V4 = "/tmf-api/alarmManagement/v4"
V5 = "/tmf-api/alarmManagement/v5"


def new_alarm(**overrides) -> dict:
    alarm = {"@type": "Alarm", "state": "raised", "alarmType": "communicationsAlarm", "perceivedSeverity": "major",
             "probableCause": "lossOfSignal", "specificProblem": "link down", "sourceSystemId": "nms-1",
             "alarmRaisedTime": "2026-11-25T10:00:00Z",
             "alarmedObject": {"id": "port-1", "@type": "AlarmedObjectRef", "@referredType": "LogicalResource"}}
    alarm.update(overrides)
    return alarm


def test_create_in_v5_read_in_v4_and_v5(client):
    created = client.post(f"{V5}/alarm", json=new_alarm())
    assert created.status_code == 201, created.text
    alarm = created.json()
    assert alarm["ackState"] == "unacknowledged" and alarm["occurrenceCount"] == 1
    assert alarm["href"].endswith(f"{V5}/alarm/{alarm['id']}") and created.headers["ETag"]
    v4 = client.get(f"{V4}/alarm/{alarm['id']}")
    assert v4.status_code == 200 and v4.json()["probableCause"] == "lossOfSignal"
    assert v4.json()["href"].endswith(f"{V4}/alarm/{alarm['id']}")


def test_v4_create_without_types(client):
    body = new_alarm(alarmedObject={"id": "port-2"})
    body.pop("@type")
    created = client.post(f"{V4}/alarm", json=body)
    assert created.status_code == 201, created.text
    assert client.get(f"{V5}/alarm/{created.json()['id']}").json()["alarmedObject"]["@type"] == "AlarmedObjectRef"


def test_missing_mandatory_members_and_bad_enums_are_refused(client):
    body = new_alarm()
    body.pop("alarmedObject")
    refused = client.post(f"{V5}/alarm", json=body)
    assert refused.status_code == 400 and refused.json()["@type"] == "Error"
    assert client.post(f"{V5}/alarm", json=new_alarm(perceivedSeverity="apocalyptic")).status_code == 400
    assert client.get(f"{V5}/alarm").headers["X-Total-Count"] == "0"


def test_clearing_sets_severity_and_time_and_is_final(client):
    ident = client.post(f"{V5}/alarm", json=new_alarm()).json()["id"]
    cleared = client.patch(f"{V5}/alarm/{ident}", json={"@type": "Alarm", "state": "cleared", "clearUserId": "noc-7"},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert cleared.status_code == 200, cleared.text
    body = cleared.json()
    assert body["perceivedSeverity"] == "cleared" and body["alarmClearedTime"] and body["clearUserId"] == "noc-7"
    again = client.patch(f"{V5}/alarm/{ident}", json={"@type": "Alarm", "state": "raised"},
                         headers={"Content-Type": "application/merge-patch+json"})
    assert again.status_code == 409 and "stays cleared" in again.json()["message"]
    reclear = client.patch(f"{V5}/alarm/{ident}", json={"@type": "Alarm", "clearUserId": "someone-else"},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert reclear.status_code == 409 and "already cleared" in reclear.json()["message"]
    acked = client.patch(f"{V5}/alarm/{ident}", json={"@type": "Alarm", "ackState": "acknowledged", "ackUserId": "noc-7"},
                         headers={"Content-Type": "application/merge-patch+json"})
    assert acked.status_code == 200 and acked.json()["ackState"] == "acknowledged"  # independent of state


def test_comments_are_only_appended(client):
    ident = client.post(f"{V5}/alarm", json=new_alarm(comment=[{"@type": "Comment", "comment": "first"}])).json()["id"]
    added = client.patch(f"{V5}/alarm/{ident}", json=[{"op": "add", "path": "/comment/-",
                                                       "value": {"@type": "Comment", "comment": "second"}}],
                         headers={"Content-Type": "application/json-patch+json"})
    assert added.status_code == 200 and [c["comment"] for c in added.json()["comment"]] == ["first", "second"]
    removed = client.patch(f"{V5}/alarm/{ident}", json=[{"op": "remove", "path": "/comment/0"}],
                           headers={"Content-Type": "application/json-patch+json"})
    assert removed.status_code == 409
    assert len(client.get(f"{V5}/alarm/{ident}").json()["comment"]) == 2


def test_server_owned_members_cannot_be_patched(client):
    ident = client.post(f"{V5}/alarm", json=new_alarm()).json()["id"]
    refused = client.patch(f"{V5}/alarm/{ident}", json={"@type": "Alarm", "occurrenceCount": 99},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert refused.status_code == 400
    assert client.get(f"{V5}/alarm/{ident}").json()["occurrenceCount"] == 1


@pytest.mark.parametrize("base", [V4, V5])
def test_filters_the_console_uses(client, base):
    client.post(f"{V5}/alarm", json=new_alarm(perceivedSeverity="critical"))
    client.post(f"{V5}/alarm", json=new_alarm(perceivedSeverity="minor", alarmRaisedTime="2026-11-25T12:00:00Z",
                                              alarmedObject={"id": "port-9", "@type": "AlarmedObjectRef"}))
    client.post(f"{V5}/alarm", json=new_alarm(state="cleared"))

    def ids(query: str) -> int:
        response = client.get(f"{base}/alarm?{query}")
        assert response.status_code == 200, response.text
        return int(response.headers["X-Total-Count"])

    assert ids("state=raised&perceivedSeverity=critical,major") == 1
    assert ids("alarmRaisedTime.gt=2026-11-25T11:00:00Z") == 1
    assert ids("alarmedObject.id=port-9") == 1
    assert ids("state=cleared") == 1 and ids("") == 3
    assert client.get(f"{base}/alarm?colour=red").status_code == 400

"""TMF642 end to end on real devices: a cable pulled in the device lab becomes one root-cause alarm with the far
end's alarm correlated under it, a repeat of the fault changes no alarm count, the link coming back clears both,
and a hub subscriber hears all of it.

Everything runs as it would in production, as separate processes on loopback: the lab's net-snmp agents send real
linkDown/linkUp traps, `tmf-oss receive` turns them into alarms, `tmf-oss serve` answers the APIs and delivers the
hub's events to a real HTTP listener. The inventory comes from `tmf-oss discover`; the cabling, which the lab's
agents cannot report (no LLDP), is recorded the way an operator would: a merge-patch of one interface.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import Listener
from tests.conftest import truncate_all
from tests.e2e.processes import TmfOssProcess
from tests.e2e.test_delivery_processes import first_of_each
from tests.e2e.test_serve import tmf_oss
from tests.lab import DEVICES

ALARMS = "/tmf-api/alarmManagement/v5"
INVENTORY = "/tmf-api/resourceInventoryManagement/v5"
MERGE = {"content-type": "application/merge-patch+json"}
TRAP_DEADLINE = 45.0  # seconds; the agents poll their interfaces every 2 s, so traps come within a few
EVENT_DEADLINE = 30.0

# --- helpers ------------------------------------------------------------------------------------------------------

def get_json(base: str, path: str, **params):
    response = httpx.get(f"{base}{path}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def alarms(base: str, **query) -> list[dict]:
    return get_json(base, f"{ALARMS}/alarm", limit=1000, **query)


def one_resource(base: str, **query) -> dict:
    found = get_json(base, f"{INVENTORY}/resource", limit=10, **query)
    assert len(found) == 1, (query, found)
    return found[0]


def characteristic(resource: dict, name: str):
    return {c["name"]: c.get("value") for c in resource.get("resourceCharacteristic", [])}.get(name)


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def wait_until(what: str, probe, deadline: float, explain):
    """Poll `probe` until it returns something truthy; fail with `explain()` at the deadline."""
    give_up = time.monotonic() + deadline
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > give_up:
            pytest.fail(f"{what}: not within {deadline:.0f} s\n{explain()}")
        time.sleep(0.25)


def record_cabling(base: str, near: dict, far: dict) -> dict:
    """What an operator does: read the interface, add a connectedTo to the far end, keep everything else."""
    response = httpx.get(f"{base}{INVENTORY}/resource/{near['id']}", timeout=10)
    assert response.status_code == 200, response.text
    current = response.json()
    kept = current.get("resourceRelationship") or []
    link = {"@type": "ResourceRelationship", "relationshipType": "connectedTo",
            "resource": {"@type": "ResourceRef", "id": far["id"], "@referredType": far["@type"]}}
    patched = httpx.patch(f"{base}{INVENTORY}/resource/{near['id']}", timeout=10,
                          headers={**MERGE, "If-Match": response.headers["ETag"]},
                          json={"@type": current["@type"], "resourceRelationship": [*kept, link]})
    assert patched.status_code == 200, patched.text
    relationships = patched.json()["resourceRelationship"]
    assert [(r["relationshipType"], r["resource"]["id"]) for r in relationships] == \
        [(r["relationshipType"], r["resource"]["id"]) for r in kept] + [("connectedTo", far["id"])]
    return patched.json()


def send_link_down_again(device_address: str, trap_port: int, if_index: int, admin_status: int) -> None:
    """The linkDown the device's agent sent (same source address, same varbinds), once more."""
    subprocess.run(["snmptrap", "-v", "2c", "-c", "public", f"--clientaddr={device_address}",
                    f"127.0.0.1:{trap_port}", "", "1.3.6.1.6.3.1.1.5.3",
                    f"1.3.6.1.2.1.2.2.1.1.{if_index}", "i", str(if_index),
                    f"1.3.6.1.2.1.2.2.1.7.{if_index}", "i", str(admin_status),
                    f"1.3.6.1.2.1.2.2.1.8.{if_index}", "i", "2"],
                   check=True, env={**os.environ, "MIBS": ""}, timeout=30)


def wait_for_output(process: TmfOssProcess, text: str, deadline: float = 60.0) -> None:
    log = Path(process.log.name)
    give_up = time.monotonic() + deadline
    while text not in log.read_text(errors="replace"):
        if process.process.poll() is not None or time.monotonic() > give_up:
            pytest.fail(f"`tmf-oss {process.process.args[3]}` did not say {text!r}:\n{log.read_text()}")
        time.sleep(0.1)


def listener_path(callback: str, event_type: str) -> str:
    return f"{httpx.URL(callback).path}/listener/{event_type[:1].lower()}{event_type[1:]}"


# --- the test -----------------------------------------------------------------------------------------------------

def test_a_pulled_cable_gives_one_root_cause_alarm_cleared_when_it_is_back(database_url, lab, tmp_path):
    truncate_all(database_url)

    # 1. The lab's devices in the inventory, as `tmf-oss discover` finds them.
    devices_file = tmp_path / "devices.yaml"
    devices_file.write_text("devices:\n" + "".join(f"  - address: {address}\n" for address in lab.addresses))
    discovered = tmf_oss("discover", "--devices", str(devices_file), "--database-url", database_url, "--json")
    assert discovered.returncode == 0, discovered.stdout + discovered.stderr
    assert [outcome["error"] for outcome in json.loads(discovered.stdout)] == [None] * DEVICES

    processes: list[TmfOssProcess] = []
    receiver: TmfOssProcess | None = None

    def explain() -> str:
        faults = tmf_oss("faults", "--json", "--database-url", database_url)
        listed = httpx.get(f"{server.base}{ALARMS}/alarm", params={"limit": 1000}, timeout=10).text
        log = Path(receiver.log.name).read_text(errors="replace") if receiver else ""
        return (f"fault records (tmf-oss faults --json):\n{faults.stdout}{faults.stderr}\n"
                f"alarms:\n{listed}\ntmf-oss receive said:\n{log}")

    with Listener() as listener:
        try:
            server = TmfOssProcess(["serve"], database_url, tmp_path)
            processes.append(server)
            server.wait_until_serving()
            base = server.base

            # 2. The cabling of d2-ge1 <-> d3-ge0, recorded on d2's end.
            near = one_resource(base, name="d2/d2-ge1", category="interface")
            far = one_resource(base, name="d3/d3-ge0", category="interface")
            record_cabling(base, near, far)
            ends = {near["id"]: (near, one_resource(base, name="d2")),
                    far["id"]: (far, one_resource(base, name="d3"))}
            assert characteristic(ends[near["id"]][1], "managementAddress") == lab.addresses[1]
            assert characteristic(ends[far["id"]][1], "managementAddress") == lab.addresses[2]

            # 3. A TMF642 hub on the serving process, calling back a real listener.
            hub = httpx.post(f"{base}{ALARMS}/hub", json={"@type": "Hub", "callback": listener.url}, timeout=10)
            assert hub.status_code == 201, hub.text

            # 4. The receiver of the lab's traps.
            receiver = TmfOssProcess(["receive", "--trap-port", str(lab.trap_port), "--syslog-port", "0"],
                                     database_url, tmp_path)
            processes.append(receiver)
            wait_for_output(receiver, "receiving SNMP traps")

            # 5. The cable is pulled: d2 takes d2-ge1 down; d3-ge0 loses its carrier.
            pulled_at = datetime.now(timezone.utc)
            lab.set_link(2, "d2-ge1", "down")
            try:
                # Both ends report, in either order, in one batch of fault records or two. The second alarm and
                # its correlation with the first are committed together, so once there are two, the answer is in.
                wait_until("both ends' linkDown alarms", lambda: len(alarms(base)) >= 2, TRAP_DEADLINE, explain)
                roots = alarms(base, isRootCause="true", state="raised,updated")
                assert len(roots) == 1, f"expected one root cause, got {len(roots)}\n{explain()}"
                (root,) = roots
                children = alarms(base, isRootCause="false")
                assert len(children) == 1, explain()
                (child,) = children
                assert len(alarms(base)) == 2, explain()

                # On the two ends of the link, whichever end's trap came first being the root cause.
                assert {root["alarmedObject"]["id"], child["alarmedObject"]["id"]} == set(ends), explain()
                assert [ref["id"] for ref in child["parentAlarm"]] == [root["id"]]
                assert [ref["id"] for ref in root["correlatedAlarm"]] == [child["id"]]
                assert root["isRootCause"] is True and child["isRootCause"] is False
                assert not root.get("parentAlarm") and not child.get("correlatedAlarm")
                for alarm in (root, child):
                    interface, device = ends[alarm["alarmedObject"]["id"]]
                    assert alarm["alarmedObject"]["name"] == interface["name"]
                    assert alarm["alarmedObjectResolved"] is True
                    assert alarm["state"] == "raised" and alarm["ackState"] == "unacknowledged"
                    assert (alarm["alarmType"], alarm["probableCause"], alarm["perceivedSeverity"]) == (
                        "communicationsAlarm", "lossOfSignal", "major")
                    assert alarm["sourceSystemId"] == characteristic(device, "managementAddress")
                    assert alarm["occurrenceCount"] == 1
                    raised = instant(alarm["alarmRaisedTime"])
                    assert pulled_at - timedelta(seconds=1) <= raised <= datetime.now(timezone.utc)
                    assert alarm["alarmReportingTime"]

                # Deduplication: each device says it again; the same two alarms count a second occurrence.
                for interface, device in ends.values():
                    send_link_down_again(characteristic(device, "managementAddress"), lab.trap_port,
                                         characteristic(interface, "ifIndex"), 2 if interface is near else 1)

                def repeated():
                    listed = alarms(base)
                    return listed if sum(a.get("occurrenceCount", 1) >= 2 for a in listed) == 2 else None

                repeated_alarms = wait_until("the repeats counted on the two alarms", repeated, TRAP_DEADLINE,
                                             explain)
                assert sorted(a["id"] for a in repeated_alarms) == sorted([root["id"], child["id"]]), explain()
                assert {a["state"] for a in repeated_alarms} == {"updated"}
                assert [a["id"] for a in alarms(base, isRootCause="true", state="raised,updated")] == [root["id"]]
                assert [ref["id"] for ref in
                        get_json(base, f"{ALARMS}/alarm/{child['id']}")["parentAlarm"]] == [root["id"]]
            finally:
                # 6. The cable is back.
                lab.set_link(2, "d2-ge1", "up")

            def cleared():
                listed = alarms(base)
                return listed if listed and all(a["state"] == "cleared" for a in listed) else None

            cleared_alarms = wait_until("both alarms cleared", cleared, TRAP_DEADLINE, explain)
            assert sorted(a["id"] for a in cleared_alarms) == sorted([root["id"], child["id"]]), explain()
            for alarm in cleared_alarms:
                assert alarm["perceivedSeverity"] == "cleared" and alarm["alarmClearedTime"]
                assert instant(alarm["alarmClearedTime"]) >= instant(alarm["alarmRaisedTime"])
            assert alarms(base, isRootCause="true", state="raised,updated") == []

            # 7. The hub's subscriber heard each alarm being created and each state it went through.
            ours = {root["id"], child["id"]}

            def heard_everything():
                events = first_of_each(list(listener.received))
                created = {e["event"]["alarm"]["id"] for e in events if e["eventType"] == "AlarmCreateEvent"}
                cleared_ids = {e["event"]["alarm"]["id"] for e in events if e["eventType"] == "AlarmStateChangeEvent"
                               and e["event"]["alarm"]["state"] == "cleared"}
                return events if created >= ours and cleared_ids >= ours else None

            events = wait_until("the create and state change events at the listener", heard_everything,
                                EVENT_DEADLINE, lambda: json.dumps(listener.received, indent=1)[-20000:])
        finally:
            for process in reversed(processes):
                process.stop()
        paths = list(listener.paths)

    for event, path in zip(listener.received, paths):
        assert path == listener_path(listener.url, event["eventType"])
    created = [e for e in events if e["eventType"] == "AlarmCreateEvent"]
    assert sorted(e["event"]["alarm"]["id"] for e in created) == sorted(ours)  # one each, none for a repeat
    for event in created:
        alarm = event["event"]["alarm"]
        assert event["@type"] == "AlarmCreateEvent" and event["domain"] == "tmf642"
        assert alarm["alarmedObject"]["id"] in ends and alarm["state"] == "raised"
        assert alarm["perceivedSeverity"] == "major" and alarm["href"].endswith(f"/alarm/{alarm['id']}")
    for ident in ours:
        states = [e["event"]["alarm"]["state"] for e in events
                  if e["eventType"] == "AlarmStateChangeEvent" and e["event"]["alarm"]["id"] == ident]
        assert states == ["updated", "cleared"], (ident, states)
        order = [e["eventType"] for e in events if e["event"]["alarm"]["id"] == ident]
        assert order[0] == "AlarmCreateEvent", order  # delivered in the order they were committed
        last = [e for e in events if e["event"]["alarm"]["id"] == ident][-1]["event"]["alarm"]
        assert last["state"] == "cleared" and last["perceivedSeverity"] == "cleared" and last["alarmClearedTime"]
    # The correlation reached the subscriber too: the child was created under its root; the root lists it, from
    # its own creation (both ends in one batch) or from the change that adopted the child (a later batch).
    (child_created,) = [e["event"]["alarm"] for e in created if e["event"]["alarm"]["id"] == child["id"]]
    assert [ref["id"] for ref in child_created["parentAlarm"]] == [root["id"]]
    assert child_created["isRootCause"] is False
    assert any(child["id"] in [ref["id"] for ref in e["event"]["alarm"].get("correlatedAlarm", [])]
               for e in events if e["event"]["alarm"]["id"] == root["id"]
               and e["eventType"] in ("AlarmCreateEvent", "AlarmAttributeValueChangeEvent"))

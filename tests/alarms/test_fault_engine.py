"""The fault engine on a real database: fault records in, deduplicated and correlated TMF642 alarms out."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from tmf_oss.alarms.consumer import Backlog, FaultConsumer, backlog, prune_faults
from tmf_oss.alarms.engine import EngineSettings, FaultEngine
from tmf_oss.alarms.model import AlarmRow
from tmf_oss.alarms.rules import RuleError, RuleSet, parse_rules
from tmf_oss.events.model import OutboxEvent
from tmf_oss.inventory.model import DiscoveredResource
from tmf_oss.southbound.fault_store import FaultStore
from tmf_oss.southbound.faults import SNMP_TRAP, SYSLOG, FaultRecord

V5 = "/tmf-api/alarmManagement/v5"
INVENTORY = "/tmf-api/resourceInventoryManagement/v5"


def resource(client, name: str, type_name: str, relationships=()) -> str:
    body = {"@type": type_name, "name": name, "resourceRelationship": [
        {"@type": "ResourceRelationship", "relationshipType": kind,
         "resource": {"@type": "ResourceRef", "id": target}} for kind, target in relationships]}
    created = client.post(f"{INVENTORY}/resource", json=body)
    assert created.status_code == 201, created.text
    return created.json()["id"]


@pytest.fixture
def network(client, app):
    """Two discovered routers, r1 and r2, each with ge0 (ifIndex 2); r1-ge0 is cabled to r2-ge0."""
    ports = {"r1": resource(client, "r1/ge0", "LogicalResource")}
    ports["r2"] = resource(client, "r2/ge0", "LogicalResource", [("connectedTo", ports["r1"])])
    devices = {name: resource(client, name, "PhysicalResource", [("contains", ports[name])]) for name in ports}
    index_characteristic = [{"@type": "IntegerCharacteristic", "name": "ifIndex", "value": 2}]
    for name, port in ports.items():
        client.patch(f"{INVENTORY}/resource/{port}", json={"@type": "LogicalResource",
                                                           "resourceCharacteristic": index_characteristic},
                     headers={"Content-Type": "application/merge-patch+json"})
    with app.platform.db.transaction() as session:
        for number, name in enumerate(ports, start=1):
            address = f"192.0.2.{number}"
            session.add(DiscoveredResource(key=f"device:{address}", device_key=f"device:{address}",
                                           resource_id=devices[name], present=True))
            session.add(DiscoveredResource(key=f"device:{address}/interface:{name}-ge0",
                                           device_key=f"device:{address}", resource_id=ports[name], present=True))
    return {"ports": ports, "devices": devices}


class Received:
    """Records stored as the receivers store them, then applied by the engine's consumer: one batch per call."""

    def __init__(self, db, consumer: FaultConsumer):
        self.store = FaultStore(db)
        self.consumer = consumer

    def record_many(self, faults: list[FaultRecord]) -> None:
        self.store.record_many(faults)
        self.consumer.drain()


def engine_for(app, **settings) -> tuple[FaultEngine, Received]:
    engine = FaultEngine(app.platform.collection("tmf642", "alarm"), RuleSet.built_in(),
                         base_url="http://testserver", settings=EngineSettings(**settings))
    return engine, Received(app.platform.db, FaultConsumer(app.platform.db, engine))


def trap(kind: str, address: str = "192.0.2.1", *, index: int | None = 2, interface: str | None = None,
         at: datetime | None = None, source: str = SNMP_TRAP, severity: str = "indeterminate") -> FaultRecord:
    return FaultRecord(source=source, device_address=address, received_at=at or datetime.now(timezone.utc),
                       kind=kind, severity=severity, interface=interface, interface_index=index,
                       text=f"{kind} from {address}")


def alarms(client, query: str = "") -> list[dict]:
    response = client.get(f"{V5}/alarm?limit=1000&{query}")
    assert response.status_code == 200, response.text
    return response.json()


def test_repeats_update_one_alarm_and_the_clear_clears_it(client, network, app):
    _, store = engine_for(app)
    store.record_many([trap("linkDown"), trap("linkDown")])
    store.record_many([trap("linkDown", source=SYSLOG, index=None, interface="r1-ge0")])  # same fault, by syslog
    (alarm,) = alarms(client)
    assert alarm["state"] == "updated" and alarm["occurrenceCount"] == 3
    assert alarm["alarmedObject"]["id"] == network["ports"]["r1"] and alarm["alarmedObjectResolved"] is True
    assert (alarm["alarmType"], alarm["probableCause"], alarm["perceivedSeverity"]) == (
        "communicationsAlarm", "lossOfSignal", "major")
    assert alarm["sourceSystemId"] == "192.0.2.1" and alarm["alarmRaisedTime"] and alarm["alarmReportingTime"]
    store.record_many([trap("linkUp")])
    (cleared,) = alarms(client)
    assert cleared["state"] == "cleared" and cleared["perceivedSeverity"] == "cleared" and cleared["alarmClearedTime"]
    store.record_many([trap("linkDown")])  # a new occurrence after the clear: a new alarm
    assert sorted(a["state"] for a in alarms(client)) == ["cleared", "raised"]


def test_a_link_failure_gives_one_root_cause_with_the_far_end_correlated(client, network, app):
    _, store = engine_for(app)
    store.record_many([trap("linkDown", "192.0.2.1")])
    store.record_many([trap("linkDown", "192.0.2.2")])
    roots = alarms(client, "isRootCause=true")
    assert len(roots) == 1 and roots[0]["alarmedObject"]["id"] == network["ports"]["r1"]
    (child,) = alarms(client, "isRootCause=false")
    assert child["parentAlarm"][0]["id"] == roots[0]["id"]
    assert [ref["id"] for ref in roots[0]["correlatedAlarm"]] == [child["id"]]
    store.record_many([trap("linkUp", "192.0.2.2"), trap("linkUp", "192.0.2.1")])
    assert {a["state"] for a in alarms(client)} == {"cleared"}


def test_both_ends_in_one_batch_correlate_too(client, network, app):
    _, store = engine_for(app)
    store.record_many([trap("linkDown", "192.0.2.2"), trap("linkDown", "192.0.2.1")])
    assert len(alarms(client, "isRootCause=true")) == 1 and len(alarms(client, "isRootCause=false")) == 1


def test_a_device_alarm_adopts_the_recent_alarms_of_what_it_contains(client, network, app):
    _, store = engine_for(app)
    store.record_many([trap("linkDown", "192.0.2.1")])
    store.record_many([trap("coldStart", "192.0.2.1", index=None)])
    (root,) = alarms(client, "isRootCause=true")
    assert root["alarmedObject"]["id"] == network["devices"]["r1"] and root["probableCause"] == "reinitialized"
    (child,) = alarms(client, "isRootCause=false")
    assert child["alarmedObject"]["id"] == network["ports"]["r1"] and child["parentAlarm"][0]["id"] == root["id"]


def test_alarms_far_apart_in_time_are_not_correlated(client, network, app):
    _, store = engine_for(app)
    long_ago = datetime.now(timezone.utc) - timedelta(seconds=50)
    store.record_many([trap("linkDown", "192.0.2.1", at=long_ago)])
    engine, store = engine_for(app, correlation_window=timedelta(seconds=10))
    store.record_many([trap("linkDown", "192.0.2.2")])
    assert len(alarms(client, "isRootCause=true")) == 2


def test_unknown_objects_are_kept_and_marked_unresolved(client, network, app):
    _, store = engine_for(app)
    store.record_many([trap("linkDown", "198.51.100.7", index=9), trap("mysteryTrap", "198.51.100.7", index=None)])
    found = {a["probableCause"]: a for a in alarms(client)}
    assert found["lossOfSignal"]["alarmedObjectResolved"] is False
    assert found["lossOfSignal"]["alarmedObject"]["id"] == "198.51.100.7/ifIndex 9"
    assert found["mysteryTrap"]["perceivedSeverity"] == "indeterminate"
    assert len(alarms(client, "alarmedObjectResolved=false")) == 2


def test_a_flapping_link_gives_one_alarm_that_stays_up_until_it_settles(client, network, app):
    engine, store = engine_for(app, flap_threshold=3, flap_hold=timedelta(seconds=0))
    for _ in range(2):
        store.record_many([trap("linkDown")])
        store.record_many([trap("linkUp")])
    store.record_many([trap("linkDown")])
    store.record_many([trap("linkUp")])  # held: the alarm is flapping
    store.record_many([trap("linkDown")])
    store.record_many([trap("linkUp")])
    flapping = alarms(client, "flapping=true")
    assert len(flapping) == 1 and flapping[0]["state"] == "updated" and "flapping" in flapping[0]["alarmDetails"]
    assert len(alarms(client)) == 3  # two ordinary raise/clear pairs, then one alarm for the flapping
    assert engine.sweep() == 1
    assert alarms(client, "flapping=true")[0]["state"] == "cleared"


def test_each_change_emits_its_event(client, network, app):
    _, store = engine_for(app)
    store.record_many([trap("linkDown"), trap("linkDown")])
    store.record_many([trap("linkDown")])
    store.record_many([trap("linkUp")])
    with app.platform.db.read() as connection:
        kinds = [row[0] for row in connection.execute(
            select(OutboxEvent.event_type).where(OutboxEvent.api == "tmf642").order_by(OutboxEvent.seq))]
    # One create for the batch with a repeat in it, one change per later batch (the repeat is an attribute
    # change and a state change raised -> updated; the clear a state change).
    assert kinds[0] == "AlarmCreateEvent" and kinds.count("AlarmCreateEvent") == 1
    assert kinds[1:] == ["AlarmAttributeValueChangeEvent", "AlarmStateChangeEvent", "AlarmAttributeValueChangeEvent",
                         "AlarmStateChangeEvent"]


def test_storm_of_100000_records_with_90_percent_repeats(client, app, database_url):
    """10,000 distinct faults on 1,000 (unknown) devices, each reported 10 times, shuffled: 10,000 alarms with an
    occurrence count of 10 each."""
    _, store = engine_for(app)
    randomized = random.Random(642)
    records = [trap("linkDown", f"10.0.{device // 250}.{device % 250}", index=port)
               for device in range(1000) for port in range(1, 11)] * 10
    randomized.shuffle(records)
    for start in range(0, len(records), 2000):
        store.record_many(records[start:start + 2000])
    with app.platform.db.read() as connection:
        total = connection.execute(select(func.count()).select_from(AlarmRow)).scalar_one()
        occurrences = {doc["occurrenceCount"] for doc in connection.execute(select(AlarmRow.doc)).scalars()}
    assert total == 10_000
    assert occurrences == {10}
    assert client.get(f"{V5}/alarm?limit=1").headers["X-Total-Count"] == "10000"


def test_user_rules_come_first_and_are_checked(tmp_path):
    rules = parse_rules({"rules": [{"name": "bgp-down", "kind_regex": "^BGP.*DOWN", "raise": {
        "alarmType": "communicationsAlarm", "probableCause": "routingFailure", "object": "device",
        "perceivedSeverity": "critical"}}, {"name": "bgp-up", "kind_regex": "^BGP.*UP", "clears": "bgp-down"}]})
    ruleset = RuleSet(rules + RuleSet.built_in().rules)
    down = ruleset.decide(trap("BGP-5-ADJCHANGE-DOWN", source=SYSLOG))
    assert (down.definition.probable_cause, down.severity, down.clear) == ("routingFailure", "critical", False)
    assert ruleset.decide(trap("BGP-5-ADJCHANGE-UP", source=SYSLOG)).clear is True
    assert ruleset.decide(trap("linkDown")).definition.probable_cause == "lossOfSignal"
    for document, complaint in [({}, "'rules' list"), ({"rules": [{"name": "x", "kind": "k"}]}, "either raises"),
                                ({"rules": [{"name": "x", "kind": "k", "raise": {"alarmType": "bad"}}]}, "alarmType"),
                                ({"rules": [{"name": "x", "kind_regex": "(", "clears": "y"}]}, "regular expression")]:
        with pytest.raises(RuleError, match=complaint):
            parse_rules(document)
    with pytest.raises(RuleError, match="not a rule that raises"):
        RuleSet(parse_rules({"rules": [{"name": "x", "kind": "k", "clears": "nothing"}]}))
    bad_file = tmp_path / "rules.yaml"
    bad_file.write_text("rules: [")
    with pytest.raises(RuleError, match="not valid YAML"):
        RuleSet.load(bad_file)


def test_changes_made_through_the_api_between_batches_are_seen(client, network, app):
    """The engine remembers active alarms between batches, but not past anybody else's write."""
    _, store = engine_for(app)
    store.record_many([trap("linkDown")])
    (alarm,) = alarms(client)
    cleared = client.patch(f"{V5}/alarm/{alarm['id']}", json={"@type": "Alarm", "state": "cleared"},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert cleared.status_code == 200
    store.record_many([trap("linkDown")])  # a new occurrence: a new alarm, the cleared one untouched
    states = sorted((a["state"], a["occurrenceCount"]) for a in alarms(client))
    assert states == [("cleared", 1), ("raised", 1)]
    raised = alarms(client, "state=raised")[0]
    client.patch(f"{V5}/alarm/{raised['id']}", json={"@type": "Alarm", "ackState": "acknowledged"},
                 headers={"Content-Type": "application/merge-patch+json"})
    store.record_many([trap("linkDown")])  # the repeat keeps the acknowledgement it was given meanwhile
    repeated = alarms(client, "state=updated")[0]
    assert repeated["ackState"] == "acknowledged" and repeated["occurrenceCount"] == 2


def test_the_backlog_is_visible_and_applied_records_are_pruned(client, app):
    engine, received = engine_for(app)
    store, consumer = received.store, received.consumer
    store.record_many([trap("linkDown", "198.51.100.1"), trap("linkDown", "198.51.100.2")])
    waiting = backlog(app.platform.db)
    assert waiting.pending == 2 and waiting.oldest_pending_age_seconds >= 0
    metrics = client.get("/metrics").text
    assert "tmf_oss_fault_records_pending 2" in metrics
    consumer.drain()
    assert backlog(app.platform.db) == Backlog(0, 0.0)
    store.record_many([trap("linkDown", "198.51.100.3")])  # stored, not yet applied: kept whatever its age
    assert prune_faults(app.platform.db, timedelta(0)) == 2
    assert FaultStore(app.platform.db).count() == 1 and backlog(app.platform.db).pending == 1
    consumer.drain()
    assert len(alarms(client)) == 3


def test_records_the_rules_tell_apart_in_one_batch_stay_apart(client, app):
    """One batch, the same kind with and without an interface and with different severities: what the rules
    decide depends on all of these, however many records of each come in the batch."""
    _, store = engine_for(app)
    address = "198.51.100.9"
    store.record_many([trap("fanTrouble", address, index=3, severity="minor"),
                       trap("fanTrouble", address, index=None, severity="critical"),
                       trap("fanTrouble", address, index=3, severity="minor"),
                       trap("fanTrouble", address, index=None, severity="cleared"),
                       trap("linkDown", address, index=3, source=SYSLOG)])
    found = {(a["alarmType"], a["probableCause"], a["alarmedObject"]["id"]): a for a in alarms(client)}
    port_alarm = found[("communicationsAlarm", "fanTrouble", f"{address}/ifIndex 3")]
    assert port_alarm["perceivedSeverity"] == "minor" and port_alarm["occurrenceCount"] == 2
    device_alarm = found[("processingErrorAlarm", "fanTrouble", address)]
    assert device_alarm["state"] == "cleared" and device_alarm["alarmDetails"] == f"fanTrouble from {address}"
    assert found[("communicationsAlarm", "lossOfSignal", f"{address}/ifIndex 3")]["perceivedSeverity"] == "major"
    assert len(found) == 3


def test_texts_with_copy_specials_survive_the_bulk_writes(client, app):
    """Alarm rows, their events and the fault records go to PostgreSQL through COPY in chunks: more alarms than
    one chunk holds, with tabs, newlines, backslashes and NULs in what devices said, come back as they were."""
    _, store = engine_for(app)
    said = "line one\nline\ttwo \\ back\\slash \r end \x00 nul \\N"
    count = 600
    store.record_many([FaultRecord(source=SNMP_TRAP, device_address=f"198.51.{n // 250}.{n % 250}",
                                   received_at=datetime.now(timezone.utc), kind="linkDown", interface_index=1,
                                   text=f"{said} #{n}") for n in range(count)])
    store.record_many([FaultRecord(source=SNMP_TRAP, device_address=f"198.51.{n // 250}.{n % 250}",
                                   received_at=datetime.now(timezone.utc), kind="linkDown", interface_index=1,
                                   text=f"again {said} #{n}") for n in range(count)])
    stored = said.replace("\x00", "\ufffd")  # PostgreSQL refuses NUL in text: the store replaces it
    found = alarms(client)
    assert len(found) == count
    assert {a["alarmDetails"] for a in found} == {f"again {stored} #{n}" for n in range(count)}
    assert {a["occurrenceCount"] for a in found} == {2}
    with app.platform.db.read() as connection:
        entities = [row[0] for row in connection.execute(
            select(OutboxEvent.entity).where(OutboxEvent.event_type == "AlarmAttributeValueChangeEvent"))]
    assert sorted(entity["alarmDetails"] for entity in entities) == sorted(
        f"again {stored} #{n}" for n in range(count))
    texts = {record.text for record in FaultStore(app.platform.db).recent(limit=2 * count)}
    assert f"{stored} #0" in texts and f"again {stored} #{count - 1}" in texts


def test_records_queued_for_the_store_are_written_at_once_when_the_consumer_has_caught_up(client, app):
    """The sink waits for a fuller batch (here up to a minute) unless the engine has nothing left to apply: then
    what is queued is stored, and applied, at once."""
    import time

    from tmf_oss.southbound.fault_store import BufferedFaultSink

    engine, _ = engine_for(app)
    consumer = FaultConsumer(app.platform.db, engine).start()
    sink = BufferedFaultSink(FaultStore(app.platform.db), flush_interval=60)
    try:
        sink(trap("linkDown", "198.51.100.20"))
        deadline = time.monotonic() + 10
        while not alarms(client) and time.monotonic() < deadline:
            time.sleep(0.05)
        (alarm,) = alarms(client)
        assert alarm["alarmedObject"]["id"] == "198.51.100.20/ifIndex 2"
        assert sink.pending == 0 and sink.written == 1
    finally:
        sink.close()
        consumer.close()

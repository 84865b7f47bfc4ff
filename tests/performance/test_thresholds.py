"""Threshold evaluation on a real database: samples in, TMF642 alarms out through the fault pipeline."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from tmf_oss.alarms.consumer import FaultConsumer
from tmf_oss.alarms.engine import FaultEngine
from tmf_oss.alarms.rules import RuleSet
from tmf_oss.inventory.model import DiscoveredResource
from tmf_oss.performance.alarm_feed import start_threshold_alarms
from tmf_oss.performance.samples import Sample, SeriesKey
from tmf_oss.performance.threshold import Forecast, Threshold
from tmf_oss.performance.threshold_model import ThresholdStateRow
from tmf_oss.performance.threshold_store import ThresholdStore
from tmf_oss.performance.thresholds import threshold_evaluator
from tmf_oss.southbound.fault_store import FaultStore
from tmf_oss.southbound.faults import SNMP_TRAP, FaultRecord

ALARMS = "/tmf-api/alarmManagement/v5"
INVENTORY = "/tmf-api/resourceInventoryManagement/v5"
INDICATOR = "ifInUtilisation"
MINUTE = timedelta(minutes=1)


def resource(client, name: str, type_name: str, relationships=()) -> str:
    body = {"@type": type_name, "name": name, "resourceRelationship": [
        {"@type": "ResourceRelationship", "relationshipType": kind,
         "resource": {"@type": "ResourceRef", "id": target}} for kind, target in relationships]}
    created = client.post(f"{INVENTORY}/resource", json=body)
    assert created.status_code == 201, created.text
    return created.json()["id"]


@pytest.fixture
def network(client, app):
    """Router r1 (192.0.2.1), discovered, with interfaces ge0 and ge1."""
    ports = {name: resource(client, f"r1/{name}", "LogicalResource") for name in ("ge0", "ge1")}
    device = resource(client, "r1", "PhysicalResource", [("contains", port) for port in ports.values()])
    with app.platform.db.transaction() as session:
        session.add(DiscoveredResource(key="device:192.0.2.1", device_key="device:192.0.2.1", resource_id=device,
                                       present=True))
        for name, port in ports.items():
            session.add(DiscoveredResource(key=f"device:192.0.2.1/interface:{name}", device_key="device:192.0.2.1",
                                           resource_id=port, present=True))
    return {"device": device, **ports}


class Pipeline:
    """The evaluator, and the fault engine applying what it recorded at once (as the consumer thread would)."""

    def __init__(self, app, **options):
        self.evaluator = threshold_evaluator(app.platform, **options)
        engine = FaultEngine(app.platform.collection("tmf642", "alarm"), RuleSet.built_in(),
                             base_url="http://testserver")
        self.consumer = FaultConsumer(app.platform.db, engine)

    def evaluate(self, samples):
        result = self.evaluator.evaluate(samples)
        self.consumer.drain()
        return result


def threshold(app, **changes) -> Threshold:
    settings = dict(id="", name="busy", indicator_id=INDICATOR, object_ids=(), object_filter=None,
                    direction="rising", raise_level=80.0, clear_level=70.0, severity="major")
    settings.update(changes)
    kept = ThresholdStore(app.platform.db).create(lambda ident: Threshold(**{**settings, "id": ident}))
    return Threshold(**{**settings, "id": kept["id"]})


class Series:
    """One object's indicator, one-minute intervals from `start` on."""

    def __init__(self, object_id: str, *, start: datetime | None = None, name: str = "", indicator: str = INDICATOR):
        self.key = SeriesKey("job-1", object_id, indicator)
        self.next = start or datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=2)
        self.name = name

    def __call__(self, *values) -> list[Sample]:
        samples = []
        for value in values:
            samples.append(Sample(self.key, self.next, self.next + MINUTE, value,
                                  None if value is not None else "device unreachable", indicator_name=INDICATOR,
                                  object_name=self.name))
            self.next += MINUTE
        return samples


def alarms(client, query: str = "") -> list[dict]:
    response = client.get(f"{ALARMS}/alarm?limit=1000&{query}")
    assert response.status_code == 200, response.text
    return response.json()


def test_a_rising_series_raises_one_alarm_kept_between_the_levels_and_cleared_below(client, network, app):
    pipeline = Pipeline(app)
    busy = threshold(app, object_ids=(network["ge0"],))
    series = Series(network["ge0"], name="r1/ge0")
    assert pipeline.evaluate(series(50, 60, 79.9)).raised == 0
    assert alarms(client) == []
    assert pipeline.evaluate(series(85)).raised == 1
    (alarm,) = alarms(client)
    assert (alarm["alarmType"], alarm["probableCause"], alarm["perceivedSeverity"], alarm["state"]) == (
        "qualityOfServiceAlarm", "thresholdCrossed", "major", "raised")
    assert alarm["specificProblem"] == f"{INDICATOR} above 80 (threshold busy)"
    assert alarm["alarmedObject"]["id"] == network["ge0"] and alarm["alarmedObjectResolved"] is True
    assert alarm["alarmedObject"]["name"] == "r1/ge0" and alarm["sourceSystemId"] == "192.0.2.1"
    crossed = alarm["crossedThresholdInformation"]
    assert crossed["threshold"] == {"@type": "ThresholdRef", "id": busy.id, "name": "busy",
                                    "@referredType": "PerformanceThreshold"}
    assert (crossed["direction"], crossed["granularity"], crossed["indicatorName"], crossed["observedValue"]) == (
        "up", "g_1mn", INDICATOR, "85")
    assert "raise level 80" in crossed["thresholdCrossingDescription"]
    assert alarm["alarmRaisedTime"] == (series.next).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    v4 = client.get(f"/tmf-api/alarmManagement/v4/alarm/{alarm['id']}")  # the responses are validated
    assert v4.status_code == 200 and v4.json()["crossedThresholdInformation"]["threshold"]["id"] == busy.id

    result = pipeline.evaluate(series(95, 75, 71))  # still crossed, then between the levels: no change
    assert (result.raised, result.cleared) == (0, 0)
    (alarm,) = alarms(client)
    assert alarm["state"] == "raised" and alarm["occurrenceCount"] == 1

    assert pipeline.evaluate(series(70)).cleared == 1  # at the clear level
    (alarm,) = alarms(client)
    assert alarm["state"] == "cleared" and alarm["alarmClearedTime"]
    assert pipeline.evaluate(series(90)).raised == 1  # a new crossing: a new alarm
    assert sorted(a["state"] for a in alarms(client)) == ["cleared", "raised"]


def test_the_same_samples_twice_raise_nothing_twice_and_repeats_deduplicate(client, network, app):
    pipeline = Pipeline(app)
    threshold(app, object_ids=(network["ge0"],))
    crossing = Series(network["ge0"])(50, 90)
    assert pipeline.evaluate(crossing).raised == 1
    again = pipeline.evaluate(crossing)  # a retry, or another process with the same samples
    assert (again.raised, again.repeated) == (0, 2)
    # Another evaluator on the same database knows the state too (it is stored, not held in memory).
    assert Pipeline(app).evaluate(crossing).raised == 0
    # A crossing reported once more (as after a state lost in a restore) is a repeat of the active alarm.
    with app.platform.db.transaction() as session:
        session.query(ThresholdStateRow).delete()
    assert pipeline.evaluate(crossing).raised == 1
    (alarm,) = alarms(client)
    assert alarm["occurrenceCount"] == 2 and alarm["state"] == "updated"


def test_a_falling_threshold_mirrors_it(client, network, app):
    pipeline = Pipeline(app)
    threshold(app, name="quiet", object_ids=(network["ge1"],), direction="falling", raise_level=10.0,
              clear_level=20.0, severity="minor")
    series = Series(network["ge1"])
    assert pipeline.evaluate(series(30, 12, 10.5)).raised == 0
    assert pipeline.evaluate(series(8)).raised == 1
    (alarm,) = alarms(client)
    assert alarm["specificProblem"] == f"{INDICATOR} below 10 (threshold quiet)"
    assert alarm["perceivedSeverity"] == "minor" and alarm["crossedThresholdInformation"]["direction"] == "down"
    assert pipeline.evaluate(series(15, 19.9)).cleared == 0  # between the levels
    assert pipeline.evaluate(series(25)).cleared == 1
    assert alarms(client)[0]["state"] == "cleared"


def test_missing_values_change_nothing(client, network, app):
    pipeline = Pipeline(app)
    threshold(app, object_ids=(network["ge0"],),
              forecast=Forecast("linear", 5, 600, "warning"))
    series = Series(network["ge0"])
    pipeline.evaluate(series(90))
    result = pipeline.evaluate(series(None, None))
    assert (result.missing, result.evaluated, result.cleared) == (2, 0, 0)
    assert alarms(client)[0]["state"] == "raised"
    pipeline.evaluate(series(40))
    assert alarms(client)[0]["state"] == "cleared"
    with app.platform.db.read() as connection:
        (points,) = connection.execute(select(ThresholdStateRow.points)).scalars()
    assert [value for _, value in points] == [90, 40]  # the missing intervals did not feed the forecast


def test_an_early_warning_comes_before_the_crossing_and_goes_when_the_trend_recovers(client, network, app):
    pipeline = Pipeline(app)
    threshold(app, object_ids=(network["ge0"],), forecast=Forecast("linear", 4, 600, "warning"))
    series = Series(network["ge0"], name="r1/ge0")
    assert pipeline.evaluate(series(40, 45)).warned == 0  # two points: no trend yet
    assert pipeline.evaluate(series(50)).warned == 1  # +5 a minute: 80 in 6 minutes, within the 10-minute horizon
    (warning,) = alarms(client)
    assert warning["specificProblem"] == f"{INDICATOR} predicted above 80 (threshold busy)"
    assert (warning["perceivedSeverity"], warning["alarmType"]) == ("warning", "qualityOfServiceAlarm")
    crossing_time = (series.next + 6 * MINUTE).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    details = warning["alarmDetails"]
    assert f"predicted to reach 80 at {crossing_time}" in details
    assert "100 expected in 600 s" in details and "slope 0.0833333 per second" in details
    assert "linear trend over the last 3 points" in details
    assert pipeline.evaluate(series(55)).warned == 0  # still heading there: no change
    result = pipeline.evaluate(series(50, 45))  # the trend turned
    assert result.warnings_cleared == 1
    assert alarms(client)[0]["state"] == "cleared"


def test_the_crossing_supersedes_its_warning(client, network, app):
    pipeline = Pipeline(app)
    threshold(app, object_ids=(network["ge0"],), forecast=Forecast("holt", 5, 900, "minor"))
    series = Series(network["ge0"])
    assert pipeline.evaluate(series(50, 60, 70)).warned == 1
    result = pipeline.evaluate(series(85))
    assert (result.raised, result.warnings_cleared) == (1, 1)
    found = {a["specificProblem"]: a for a in alarms(client)}
    assert found[f"{INDICATOR} predicted above 80 (threshold busy)"]["state"] == "cleared"
    assert found[f"{INDICATOR} above 80 (threshold busy)"]["state"] == "raised"


def test_unknown_objects_are_kept_unresolved(client, app):
    pipeline = Pipeline(app)
    threshold(app, object_ids=("no-such-resource",))
    assert pipeline.evaluate(Series("no-such-resource", name="lost port")(99)).raised == 1
    (alarm,) = alarms(client, "alarmedObjectResolved=false")
    assert alarm["alarmedObject"]["id"] == "no-such-resource" and alarm["alarmedObject"]["name"] == "lost port"
    assert alarm["sourceSystemId"] == "tmf-oss"  # no device known to have sent it


def test_an_object_filter_selects_the_objects_in_scope(client, network, app):
    pipeline = Pipeline(app)
    threshold(app, object_filter="@type=LogicalResource&name.regex=ge1$")
    result = pipeline.evaluate([*Series(network["ge0"])(99), *Series(network["ge1"])(99),
                                *Series(network["device"])(99)])
    assert (result.evaluated, result.raised) == (1, 1)
    assert alarms(client)[0]["alarmedObject"]["id"] == network["ge1"]


def test_other_indicators_and_objects_are_left_alone(client, network, app):
    pipeline = Pipeline(app)
    threshold(app, object_ids=(network["ge0"],))
    result = pipeline.evaluate([*Series(network["ge1"])(99), *Series(network["ge0"], indicator="ifOutErrors")(99)])
    assert (result.evaluated, result.raised) == (0, 0)


def test_a_threshold_alarm_correlates_under_its_device_root_cause(client, network, app):
    pipeline = Pipeline(app)
    threshold(app, object_ids=(network["ge0"],))
    now = datetime.now(timezone.utc)
    cold_start = FaultRecord(source=SNMP_TRAP, device_address="192.0.2.1", received_at=now, kind="coldStart")
    FaultStore(app.platform.db).record_many([cold_start])
    pipeline.evaluate(Series(network["ge0"], start=now - MINUTE)(99))
    (root,) = alarms(client, "isRootCause=true")
    (child,) = alarms(client, "isRootCause=false")
    assert root["alarmedObject"]["id"] == network["device"]
    assert child["probableCause"] == "thresholdCrossed" and child["parentAlarm"][0]["id"] == root["id"]


def test_deleting_a_threshold_clears_its_alarms(client, network, app):
    pipeline = Pipeline(app)
    busy = threshold(app, object_ids=(network["ge0"], network["ge1"]), forecast=Forecast("linear", 3, 3600, "warning"))
    pipeline.evaluate([*Series(network["ge0"])(99), *Series(network["ge1"])(10, 20, 30)])
    assert sorted(a["state"] for a in alarms(client)) == ["raised", "raised"]
    assert ThresholdStore(app.platform.db).delete(busy.id)
    pipeline.consumer.drain()
    assert {a["state"] for a in alarms(client)} == {"cleared"}
    with app.platform.db.read() as connection:
        assert connection.execute(select(func.count()).select_from(ThresholdStateRow)).scalar_one() == 0


def test_thousands_of_samples_in_one_call(client, app):
    pipeline = Pipeline(app)
    objects = [f"port-{number}" for number in range(3000)]
    threshold(app, object_ids=tuple(objects))
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=1)
    began = time.perf_counter()
    below = pipeline.evaluator.evaluate([Series(o, start=start)(50)[0] for o in objects])
    above = pipeline.evaluator.evaluate([Series(o, start=start + MINUTE)(90)[0] for o in objects])
    elapsed = time.perf_counter() - began
    assert (below.evaluated, below.raised, above.raised) == (3000, 0, 3000)
    assert elapsed < 20, f"two calls of 3000 samples took {elapsed:.1f} s"
    pipeline.consumer.drain()
    assert client.get(f"{ALARMS}/alarm?limit=1").headers["X-Total-Count"] == "3000"


def test_a_second_consumer_beside_the_receivers_one_applies_nothing_twice(client, app):
    """start_threshold_alarms runs a consumer of its own, also where the receivers run one."""
    threshold(app, object_ids=tuple(f"port-{number}" for number in range(400)))
    evaluator = threshold_evaluator(app.platform)
    for round_number in range(4):
        start = datetime.now(timezone.utc).replace(second=0, microsecond=0) + timedelta(minutes=2 * round_number - 60)
        evaluator.evaluate([Series(f"port-{n}", start=start)(90 if n % 4 == round_number else 10)[0]
                            for n in range(400)])
    errors = []

    def drain(consumer: FaultConsumer) -> None:
        try:
            consumer.drain()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    consumers = [Pipeline(app).consumer for _ in range(2)]
    for consumer in consumers:
        consumer.batch = 10  # many turns to take
    consumers[0].run_once()  # its progress row made (two consumers making it at once: one retries later)
    workers = [threading.Thread(target=drain, args=(consumer,)) for consumer in consumers]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert errors == []
    found = alarms(client)
    assert len(found) == 400 and {a["occurrenceCount"] for a in found} == {1}
    assert sorted(a["state"] for a in found) == ["cleared"] * 300 + ["raised"] * 100


def test_start_threshold_alarms_turns_crossings_into_alarms_in_the_background(client, app, settings):
    threshold(app, object_ids=("port-1",))
    feed = start_threshold_alarms(app.platform, settings)
    try:
        threshold_evaluator(app.platform).evaluate(Series("port-1")(99))
        deadline = time.monotonic() + 15
        while not alarms(client) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        feed.close()
    (alarm,) = alarms(client)
    assert alarm["probableCause"] == "thresholdCrossed"

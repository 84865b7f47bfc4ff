"""TMF628 through HTTP, on SQLite and PostgreSQL: indicator specifications, groups, jobs and their checks,
tracking records, data access endpoints, measurements and downloads."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from tests.api.helpers import assert_tmf_error
from tests.performance.support import PM4, PM5, add_device, add_interface, job
from tmf_oss.performance.samples import Sample, SeriesKey
from tmf_oss.performance.seed import ensure_indicators
from tmf_oss.performance.timeseries import TimeSeriesStore


@pytest.fixture
def platform(app):
    platform = app.platform
    ensure_indicators(platform)
    return platform


@pytest.fixture
def port(platform):
    return add_interface(platform, "192.0.2.1", "ge-0/0/1")


# --- indicator specifications and groups -------------------------------------------------------------------

def test_builtin_indicators_are_served_in_both_versions(client, platform):
    v5 = client.get(f"{PM5}/performanceIndicatorSpecification", params={"limit": 100})
    assert v5.status_code == 200
    names = {spec["id"]: spec for spec in v5.json()}
    assert {"ifInUtilisation", "ifOutBitRate", "ifInErrorRatio", "cpuLoad", "memoryUsed"} <= names.keys()
    assert names["ifInUtilisation"]["derivationMethod"] == "expression"
    assert int(v5.headers["X-Total-Count"]) == len(names)
    v4 = client.get(f"{PM4}/performanceIndicatorSpecification/ifInUtilisation")
    assert v4.status_code == 200
    assert v4.json()["href"].endswith(f"{PM4}/performanceIndicatorSpecification/ifInUtilisation")
    filtered = client.get(f"{PM5}/performanceIndicatorSpecification", params={"indicatorCategory": "utilisation"})
    assert {spec["id"] for spec in filtered.json()} >= {"ifInUtilisation", "ifOutUtilisation"}
    assert all(spec["indicatorCategory"] == "utilisation" for spec in filtered.json())


def _indicator(**members) -> dict:
    return {"@type": "PerformanceIndicatorSpecification", "name": "errors per second", "indicatorCategory": "errors",
            "indicatorType": "float", "indicatorUnit": "error/s", "collectionType": "delta",
            "derivationMethod": "expression", "derivationAlgorithm": "rate(ifInErrors) + rate(ifOutErrors)",
            **members}


def test_an_indicator_with_a_valid_expression_is_created_and_a_malformed_one_refused(client, platform):
    created = client.post(f"{PM5}/performanceIndicatorSpecification", json=_indicator())
    assert created.status_code == 201, created.text
    ident = created.json()["id"]
    error = assert_tmf_error(client.post(f"{PM5}/performanceIndicatorSpecification",
                                         json=_indicator(derivationAlgorithm="rate(ifInErrorz)")), 400)
    assert "ifInErrorz" in error["message"] and "ifInErrors" in error["message"]
    error = assert_tmf_error(client.post(f"{PM5}/performanceIndicatorSpecification",
                                         json=_indicator(derivationAlgorithm="8 * (rate(ifInOctets)")), 400)
    assert "syntax" in error["message"]
    patched = client.patch(f"{PM5}/performanceIndicatorSpecification/{ident}",
                           json={"@type": "PerformanceIndicatorSpecification",
                                 "derivationAlgorithm": "__import__('os')"},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert_tmf_error(patched, 400)
    assert client.get(f"{PM5}/performanceIndicatorSpecification/{ident}").json()["derivationAlgorithm"] == \
        "rate(ifInErrors) + rate(ifOutErrors)"
    # Other derivation methods are stored as documentation: tmf-oss does not compute them.
    described = client.post(f"{PM5}/performanceIndicatorSpecification",
                            json=_indicator(derivationMethod="vendor formula", derivationAlgorithm="see manual"))
    assert described.status_code == 201


def test_a_group_names_known_indicators_only(client, platform):
    group = {"@type": "PerformanceIndicatorGroupSpecification", "name": "interface health",
             "groupCategory": "interface",
             "performanceIndicatorSpecification": [
                 {"@type": "PerformanceIndicatorSpecificationRef", "id": "ifInErrorRatio"},
                 {"@type": "PerformanceIndicatorSpecificationRef", "id": "ifOperStatus"}]}
    assert client.post(f"{PM5}/performanceIndicatorGroupSpecification", json=group).status_code == 201
    group["performanceIndicatorSpecification"].append({"@type": "PerformanceIndicatorSpecificationRef",
                                                       "id": "noSuchIndicator"})
    error = assert_tmf_error(client.post(f"{PM5}/performanceIndicatorGroupSpecification", json=group), 400)
    assert "noSuchIndicator" in error["message"]


# --- jobs ------------------------------------------------------------------------------------------------

def test_a_job_is_acknowledged_with_its_endpoints_and_tracking_record(client, platform, port):
    created = client.post(f"{PM5}/measurementCollectionJob",
                          json=job(["ifInUtilisation", "ifOutUtilisation"], [port], reportingPeriod="r_5mn"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["executionState"] == "acknowledged"
    assert body["adminState"] == "unlocked"
    assert body["creationTime"] and body["lastModifiedTime"]
    assert len(body["trackingRecord"]) == 1 and body["trackingRecord"][0]["description"] == "job created"
    endpoints = {endpoint["category"]: endpoint for endpoint in body["dataAccessEndpoint"]}
    assert endpoints.keys() == {"csv", "json"}
    assert endpoints["csv"]["uri"] == f"http://testserver/performanceData/{body['id']}/measurements.csv"
    served = client.get(f"{PM5}/dataAccessEndpoint/{endpoints['json']['id']}")
    assert served.status_code == 200 and served.json()["uri"].endswith("measurements.json")
    records = client.get(f"{PM5}/trackingRecord").json()
    assert [record["id"] for record in records] == [body["trackingRecord"][0]["id"]]
    v4 = client.get(f"{PM4}/measurementCollectionJob/{body['id']}")
    assert v4.status_code == 200 and v4.json()["executionState"] == "acknowledged"
    # A job's records and endpoints are found by the job's id.
    other = client.post(f"{PM5}/measurementCollectionJob", json=job(["ifInBitRate"], [port])).json()["id"]
    mine = client.get(f"{PM5}/trackingRecord", params={"characteristic.value": body["id"]}).json()
    assert [record["id"] for record in mine] == [body["trackingRecord"][0]["id"]]
    theirs = client.get(f"{PM5}/dataAccessEndpoint", params={"resourceCharacteristic.value": other}).json()
    assert sorted(endpoint["category"] for endpoint in theirs) == ["csv", "json"]


def test_a_v4_job_has_one_schedule_definition_and_v5_a_list(client, platform, port):
    start = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (datetime.now(timezone.utc) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = job(["ifInBitRate"], [port], scheduleDefinition={"scheduleDefinitionStartTime": start,
                                                            "scheduleDefinitionEndTime": end})
    body.pop("@type")
    created = client.post(f"{PM4}/measurementCollectionJob", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["scheduleDefinition"]["scheduleDefinitionStartTime"].startswith(start[:16])
    v5 = client.get(f"{PM5}/measurementCollectionJob/{created.json()['id']}").json()
    assert isinstance(v5["scheduleDefinition"], list) and len(v5["scheduleDefinition"]) == 1


@pytest.mark.parametrize("change, expected", [
    ({"performanceIndicatorSpecification": [{"@type": "PerformanceIndicatorSpecificationRef", "id": "nope"}]},
     "unknown performanceIndicatorSpecification 'nope'"),
    ({"granularity": "g_1m"}, "cannot be collected by polling"),
    ({"granularity": "na"}, "cannot be collected by polling"),
    ({"granularity": "g_15mn", "reportingPeriod": "r_5mn"}, "shorter than the granularity"),
    ({"monitoredInstancesCriteria": {"@type": "MonitoredInstancesCriteria", "monitoredObjectInstances": ["ghost"]}},
     "unknown monitored object 'ghost'"),
    ({"monitoredInstancesCriteria": None}, "names no monitored objects"),
    ({"monitoredClassCriteria": {"@type": "MonitoredClassCriteria", "objectInstanceFilter": "colour=blue"}},
     "Unknown attribute 'colour'"),
    ({"monitoredClassCriteria": {"@type": "MonitoredClassCriteria",
                                 "objectInstanceFilter": "category=interface&limit=5"}},
     "'limit' is a list parameter"),
    ({"scheduleDefinition": [{"@type": "ScheduleDefinition", "scheduleDefinitionStartTime": "2030-01-02T00:00:00Z",
                              "scheduleDefinitionEndTime": "2030-01-01T00:00:00Z"}]}, "ends before it starts"),
    ({"scheduleDefinition": [{"@type": "ScheduleDefinition", "scheduleDefinitionEndTime": "2001-01-01T00:00:00Z"}]},
     "already ended"),
    ({"performanceIndicatorSpecification": [{"@type": "PerformanceIndicatorSpecificationRef", "id": "cpuLoad"}]},
     "none of the job's indicators measure interfaces"),
])
def test_a_job_that_cannot_be_measured_is_refused_with_the_reason(client, platform, port, change, expected):
    body = job(["ifInUtilisation"], [port])
    for name, value in change.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    error = assert_tmf_error(client.post(f"{PM5}/measurementCollectionJob", json=body), 400)
    assert expected in error["message"]
    assert client.get(f"{PM5}/measurementCollectionJob").json() == []


def test_a_resource_that_was_not_discovered_cannot_be_polled(client, platform):
    typed, _ = platform.collection("tmf639", "resource").create(
        "v5", {"@type": "LogicalResource", "name": "typed in by hand"}, base_url="http://testserver",
        correlation_id=None)
    error = assert_tmf_error(client.post(f"{PM5}/measurementCollectionJob",
                                         json=job(["ifInUtilisation"], [typed["id"]])), 400)
    assert "cannot be polled" in error["message"]


def test_a_job_selects_objects_by_inventory_filter(client, platform):
    add_interface(platform, "192.0.2.7", "ge-0/0/1")
    created = client.post(f"{PM5}/measurementCollectionJob", json=job(
        ["ifInBitRate"], monitoredClassCriteria={"@type": "MonitoredClassCriteria", "monitoredObjectClass":
                                                 "LogicalResource", "objectInstanceFilter": "category=interface"}))
    assert created.status_code == 201, created.text


def test_the_server_owns_the_execution_state_and_the_client_locks_and_unlocks(client, platform, port):
    ident = client.post(f"{PM5}/measurementCollectionJob", json=job(["ifInBitRate"], [port])).json()["id"]
    merge = {"Content-Type": "application/merge-patch+json"}
    assert_tmf_error(client.patch(f"{PM5}/measurementCollectionJob/{ident}",
                                  json={"@type": "MeasurementCollectionJob", "executionState": "completed"},
                                  headers=merge), 400)
    locked = client.patch(f"{PM5}/measurementCollectionJob/{ident}",
                          json={"@type": "MeasurementCollectionJob", "adminState": "locked"}, headers=merge)
    assert locked.status_code == 200, locked.text
    assert locked.json()["executionState"] == "pending"
    assert locked.json()["trackingRecord"][-1]["description"] == "job locked"
    unlocked = client.patch(f"{PM5}/measurementCollectionJob/{ident}",
                            json={"@type": "MeasurementCollectionJob", "adminState": "unlocked"}, headers=merge)
    assert unlocked.json()["executionState"] == "acknowledged"
    changed = client.patch(f"{PM5}/measurementCollectionJob/{ident}",
                           json={"@type": "MeasurementCollectionJob", "granularity": "g_1y"}, headers=merge)
    assert "cannot be collected by polling" in assert_tmf_error(changed, 400)["message"]
    assert client.get(f"{PM5}/measurementCollectionJob/{ident}").json()["granularity"] == "g_1mn"
    assert len(client.get(f"{PM5}/trackingRecord").json()) == 3


def test_read_only_resources_refuse_writes(client, platform, port):
    client.post(f"{PM5}/measurementCollectionJob", json=job(["ifInBitRate"], [port]))
    record = client.get(f"{PM5}/trackingRecord").json()[0]
    assert client.post(f"{PM5}/trackingRecord", json=record).status_code == 405
    assert client.delete(f"{PM5}/dataAccessEndpoint/x").status_code == 405
    assert client.post(f"{PM5}/performanceMeasurement", json={}).status_code == 405


# --- measurements and downloads ---------------------------------------------------------------------------

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def _store_samples(platform, job_id: str, port: str) -> None:
    samples = []
    for minute in range(5):
        start = T0 + timedelta(minutes=minute)
        value = None if minute == 3 else 10.0 * minute
        samples.append(Sample(SeriesKey(job_id, port, "ifInUtilisation"), start, start + timedelta(minutes=1),
                              value, "device 192.0.2.1 did not answer" if value is None else None,
                              indicator_name="Interface inbound utilisation", object_name="d1/ge-0/0/1"))
        samples.append(Sample(SeriesKey(job_id, port, "ifInBitRate"), start, start + timedelta(minutes=1),
                              1000.0 + minute, None, indicator_name="Interface inbound bit rate",
                              object_name="d1/ge-0/0/1"))
    TimeSeriesStore(platform.db).write(samples, 60)


def test_measurements_are_listed_filtered_and_paged_in_both_versions(client, platform, port):
    ident = client.post(f"{PM5}/measurementCollectionJob", json=job(["ifInUtilisation"], [port])).json()["id"]
    _store_samples(platform, ident, port)
    everything = client.get(f"{PM5}/performanceMeasurement", params={"measurementCollectionJob.id": ident})
    assert everything.status_code == 200
    assert everything.headers["X-Total-Count"] == "10"
    utilisation = client.get(f"{PM5}/performanceMeasurement", params={
        "performanceIndicatorValue.performanceIndicatorSpecification.id": "ifInUtilisation",
        "validFor.startDateTime.gte": "2026-11-20T10:01:00Z", "validFor.startDateTime.lt": "2026-11-20T10:04:00Z",
        "sort": "-validFor.startDateTime"})
    items = utilisation.json()
    assert [item["validFor"]["startDateTime"] for item in items] == [
        "2026-11-20T10:03:00.000Z", "2026-11-20T10:02:00.000Z", "2026-11-20T10:01:00.000Z"]
    missing, present = items[0], items[1]
    assert missing["@type"] == "PerformanceMeasurementAtomic"
    assert "observedValue" not in missing["performanceIndicatorValue"][0]
    assert missing["tag"]["missingReason"] == "device 192.0.2.1 did not answer"
    assert present["performanceIndicatorValue"][0]["observedValue"] == "20"
    assert present["tag"]["monitoredObject"]["id"] == port
    assert present["validFor"]["endDateTime"] == "2026-11-20T10:03:00.000Z"
    one = client.get(f"{PM5}/performanceMeasurement/{present['id']}")
    assert one.status_code == 200 and one.json() == present
    paged = client.get(f"{PM5}/performanceMeasurement", params={"tag.monitoredObject.id": port, "offset": 8,
                                                                 "limit": 5})
    assert paged.headers["X-Result-Count"] == "2" and paged.headers["X-Total-Count"] == "10"
    v4 = client.get(f"{PM4}/performanceMeasurement", params={"sourceSystem.id": port,
                                                             "performanceIndicatorSpecification.id": "ifInBitRate",
                                                             "limit": 1})
    first = v4.json()[0]
    assert first["observedValue"] == "1000" and first["indicatorName"] == "Interface inbound bit rate"
    assert first["sourceSystem"]["id"] == port
    chosen = client.get(f"{PM5}/performanceMeasurement", params={"fields": "validFor", "limit": 1}).json()[0]
    assert set(chosen) == {"id", "href", "@type", "validFor"}


@pytest.mark.parametrize("params, status", [
    ({"colour": "blue"}, 400),
    ({"validFor.startDateTime.gt": "yesterday"}, 400),
    ({"validFor.startDateTime.regex": "2026"}, 400),
    ({"sort": "observedValue"}, 400),
    ({"fields": "nonsense"}, 400),
    ({"filter": "performanceIndicatorValue[?(@.observedValue=='1')]"}, 400),
])
def test_bad_measurement_queries_are_refused(client, platform, params, status):
    assert_tmf_error(client.get(f"{PM5}/performanceMeasurement", params=params), status)


def test_unknown_measurements_are_not_found(client, platform):
    assert_tmf_error(client.get(f"{PM5}/performanceMeasurement/999999-1700000000"), 404)
    assert_tmf_error(client.get(f"{PM5}/performanceMeasurement/not-an-id"), 404)


def test_a_job_is_downloaded_as_csv_and_json(client, platform, port):
    ident = client.post(f"{PM5}/measurementCollectionJob", json=job(["ifInUtilisation"], [port])).json()["id"]
    _store_samples(platform, ident, port)
    downloaded = client.get(f"/performanceData/{ident}/measurements.csv")
    assert downloaded.status_code == 200 and downloaded.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(downloaded.text)))
    assert len(rows) == 10
    gap = [row for row in rows if row["missingReason"]]
    assert len(gap) == 1 and gap[0]["observedValue"] == "" and gap[0]["startDateTime"] == "2026-11-20T10:03:00.000Z"
    ranged = client.get(f"/performanceData/{ident}/measurements.json",
                        params={"from": "2026-11-20T10:04:00Z", "to": "2026-11-20T10:05:00Z"})
    assert sorted(row["indicatorId"] for row in ranged.json()) == ["ifInBitRate", "ifInUtilisation"]
    assert_tmf_error(client.get("/performanceData/unknown-job/measurements.csv"), 404)
    assert_tmf_error(client.get(f"/performanceData/{ident}/measurements.csv", params={"from": "soon"}), 400)


def test_metrics_expose_the_newest_values(client, platform, port):
    ident = client.post(f"{PM5}/measurementCollectionJob", json=job(["ifInUtilisation"], [port])).json()["id"]
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    TimeSeriesStore(platform.db).write([Sample(SeriesKey(ident, port, "ifInUtilisation"), now - timedelta(minutes=1),
                                               now, 42.5, None, indicator_name="Interface inbound utilisation",
                                               object_name="d1/ge-0/0/1")], 60)
    text = client.get("/metrics").text
    line = next(line for line in text.splitlines() if line.startswith("tmf_oss_performance_indicator{"))
    assert f'object_id="{port}"' in line and 'indicator="ifInUtilisation"' in line
    assert line.split()[1] == "42.5"


def test_a_device_indicator_job_measures_devices(client, platform):
    device = add_device(platform, "192.0.2.9")
    created = client.post(f"{PM5}/measurementCollectionJob", json=job(["cpuLoad", "memoryUsed"], [device]))
    assert created.status_code == 201, created.text

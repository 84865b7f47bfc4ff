"""The collector's scheduling, on SQLite and PostgreSQL: who measures a job, when, and how its executionState moves.
The devices are beside the point here (the lab test reads real ones): these jobs select their objects by a filter
that matches nothing yet, so a round reads no device."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.api.helpers import assert_tmf_error
from tests.performance.support import PM5, job
from tmf_oss.db.base import as_utc, utcnow
from tmf_oss.performance.collector import Collector
from tmf_oss.performance.model import CollectionJobRow
from tmf_oss.performance.seed import ensure_indicators

NOTHING_YET = {"@type": "MonitoredClassCriteria", "objectInstanceFilter": "category=interface&name=not-yet"}


@pytest.fixture
def platform(app):
    ensure_indicators(app.platform)
    return app.platform


def collector(platform, owner: str) -> Collector:
    settings = replace(platform.settings, pm_seconds_per_minute=60.0, pm_lease_seconds=60.0)
    return Collector(platform, settings, owner=owner)


def create(client, **members) -> str:
    created = client.post(f"{PM5}/measurementCollectionJob",
                          json=job(["ifInBitRate"], monitoredClassCriteria=NOTHING_YET, **members))
    assert created.status_code == 201, created.text
    return created.json()["id"]


def job_row(platform, ident: str) -> CollectionJobRow:
    with platform.db.reading() as session:
        return session.execute(select(CollectionJobRow).where(CollectionJobRow.id == ident)).scalar_one()


def run_round(worker: Collector):
    return asyncio.run(worker.run_due(adapter=None))


def test_one_worker_at_a_time_measures_a_job(client, platform):
    ident = create(client)
    first, second = collector(platform, "worker-1"), collector(platform, "worker-2")
    assert first.claim() == [ident]
    assert second.claim() == []
    assert first.claim() == [ident]  # its own lease, renewed
    with platform.db.transaction() as session:  # worker-1 died: its lease runs out
        session.execute(update(CollectionJobRow).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert second.claim() == [ident]


def test_the_first_round_starts_the_job_and_schedules_the_next_boundary(client, platform):
    ident = create(client)
    worker = collector(platform, "worker-1")
    (report,) = run_round(worker)
    assert report.job_id == ident and report.state == "inProgress"
    body = client.get(f"{PM5}/measurementCollectionJob/{ident}").json()
    assert body["executionState"] == "inProgress"
    assert body["trackingRecord"][-1]["description"] == "executionState inProgress: collection started"
    row = job_row(platform, ident)
    next_run = as_utc(row.next_run_at)
    assert next_run > utcnow() and next_run.second == 0 and next_run.microsecond == 0  # a g_1mn boundary
    assert run_round(worker) == []  # not due again before then
    # The job stays with its worker (which has the previous readings) when it is due again...
    assert as_utc(row.lease_until) > next_run and row.lease_owner == "worker-1"
    with platform.db.transaction() as session:
        session.execute(update(CollectionJobRow).values(next_run_at=utcnow() - timedelta(seconds=1)))
    assert collector(platform, "worker-2").claim() == []
    assert worker.claim() == [ident]


def test_a_locked_job_is_not_measured_until_unlocked(client, platform):
    ident = create(client)
    merge = {"Content-Type": "application/merge-patch+json"}
    client.patch(f"{PM5}/measurementCollectionJob/{ident}", json={"@type": "MeasurementCollectionJob",
                                                                   "adminState": "locked"}, headers=merge)
    worker = collector(platform, "worker-1")
    assert worker.claim() == []
    client.patch(f"{PM5}/measurementCollectionJob/{ident}", json={"@type": "MeasurementCollectionJob",
                                                                   "adminState": "unlocked"}, headers=merge)
    assert worker.claim() == [ident]


def test_a_job_waits_for_its_schedule_and_completes_when_it_ends(client, platform):
    start = utcnow() + timedelta(hours=1)
    later = create(client, scheduleDefinition=[{"@type": "ScheduleDefinition",
                                                 "scheduleDefinitionStartTime": start.isoformat()}])
    worker = collector(platform, "worker-1")
    (report,) = run_round(worker)  # looked at, not started: due at its start
    assert report.state == "acknowledged" and report.values == 0
    assert as_utc(job_row(platform, later).next_run_at) == start
    assert worker.claim() == []
    assert client.get(f"{PM5}/measurementCollectionJob/{later}").json()["executionState"] == "acknowledged"

    ending = create(client, scheduleDefinition=[{"@type": "ScheduleDefinition",
                                                  "scheduleDefinitionEndTime": (utcnow() + timedelta(
                                                      minutes=5)).isoformat()}])
    with platform.db.transaction() as session:  # time passes: the schedule ended more than a period ago
        row = session.execute(select(CollectionJobRow).where(CollectionJobRow.id == ending)).scalar_one()
        doc = dict(row.doc)
        doc["scheduleDefinition"] = [{"@type": "ScheduleDefinition",
                                      "scheduleDefinitionEndTime": (utcnow() - timedelta(minutes=5)).isoformat()}]
        row.doc = doc
    (report,) = run_round(worker)
    assert report.state == "completed"
    ended = client.get(f"{PM5}/measurementCollectionJob/{ending}").json()
    assert ended["executionState"] == "completed"
    assert "schedule ended" in ended["trackingRecord"][-1]["description"]
    assert worker.claim() == []
    # An ended job is not changed any more.
    assert_tmf_error(client.patch(f"{PM5}/measurementCollectionJob/{ending}",
                                  json={"@type": "MeasurementCollectionJob", "adminState": "locked"},
                                  headers={"Content-Type": "application/merge-patch+json"}), 409)


def test_a_job_whose_indicators_are_gone_fails(client, platform):
    created = client.post(f"{PM5}/performanceIndicatorSpecification", json={
        "@type": "PerformanceIndicatorSpecification", "name": "octets in", "indicatorCategory": "throughput",
        "indicatorType": "float", "indicatorUnit": "octet", "collectionType": "delta",
        "derivationMethod": "expression", "derivationAlgorithm": "delta(ifHCInOctets)"}).json()
    ident = client.post(f"{PM5}/measurementCollectionJob", json={
        **job([created["id"]], monitoredClassCriteria=NOTHING_YET)}).json()["id"]
    assert client.delete(f"{PM5}/performanceIndicatorSpecification/{created['id']}").status_code == 204
    (report,) = run_round(collector(platform, "worker-1"))
    assert report.state == "failed"
    failed = client.get(f"{PM5}/measurementCollectionJob/{ident}").json()
    assert failed["executionState"] == "failed"
    assert "unknown performanceIndicatorSpecification" in failed["trackingRecord"][-1]["description"]


def test_a_job_sleeps_through_the_days_its_schedule_leaves_out(client, platform):
    from datetime import datetime, time, timezone

    today = utcnow().date()
    off = [datetime.combine(today + timedelta(days=n), time(12), timezone.utc).isoformat() for n in (0, 1)]
    ident = create(client, scheduleDefinition=[{"@type": "ScheduleDefinition", "excludedDate": off}])
    worker = collector(platform, "worker-1")
    (report,) = run_round(worker)
    assert report.values == report.missing == 0 and report.state == "acknowledged"
    back = datetime.combine(today + timedelta(days=2), time(0), timezone.utc)
    assert as_utc(job_row(platform, ident).next_run_at) == back  # the first period of the first day it collects
    assert worker.claim() == []


def test_a_job_whose_schedule_has_no_period_left_completes(client, platform):
    from datetime import datetime, time, timezone

    today = utcnow().date()
    ident = create(client, scheduleDefinition=[{
        "@type": "ScheduleDefinition",
        "scheduleDefinitionEndTime": (utcnow() + timedelta(days=2)).isoformat(),
        "dateScheduleDefintion": [datetime.combine(today - timedelta(days=3), time(12), timezone.utc).isoformat()]}])
    (report,) = run_round(collector(platform, "worker-1"))
    assert report.state == "completed"
    record = client.get(f"{PM5}/measurementCollectionJob/{ident}").json()["trackingRecord"][-1]
    assert "no period left to collect" in record["description"]


@pytest.mark.parametrize("hours", ["8 to 18", "25:00-26:00", "08:00-08:00", "08:61-09:00"])
def test_an_unreadable_hour_range_is_refused(client, hours):
    response = client.post(f"{PM5}/measurementCollectionJob", json=job(
        ["ifInBitRate"], monitoredClassCriteria=NOTHING_YET,
        scheduleDefinition=[{"@type": "ScheduleDefinition", "scheduleDefinitionHourRange": hours}]))
    assert_tmf_error(response, 400)
    assert "scheduleDefinitionHourRange" in response.json()["message"]

"""TMF628 end to end on real devices: a collection job on two lab routers' link measures the real traffic sent
across it, a threshold below that traffic raises a quality-of-service alarm that clears when the traffic stops, a
rising trend gives an early warning before the threshold is crossed, and an unreachable device's measurements are
missing without holding the others up.

Everything runs as in production: `tmf-oss discover` builds the inventory from the lab's net-snmp agents, `tmf-oss
serve` answers the APIs, collects (time compressed: a 1-minute granularity lasts 2 s) and delivers the job's
events to a real HTTP listener. The traffic is real UDP sent from d1 to d2 inside the lab's network namespaces.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import Listener
from tests.conftest import truncate_all
from tests.e2e.processes import TmfOssProcess
from tests.e2e.test_serve import tmf_oss
from tests.lab import DEVICES, TEST_NAMESPACE, TEST_PREFIX
from tests.performance.support import PM5
from tmf_oss.config import Settings
from tmf_oss.inventory.model import DiscoveredResource
from tmf_oss.platform import Platform

INVENTORY = "/tmf-api/resourceInventoryManagement/v5"
ALARMS = "/tmf-api/alarmManagement/v5"
THRESHOLDS = "/admin/v1/performanceThreshold"
SECONDS_PER_MINUTE = 2.0  # g_1mn: a measurement every 2 s
UNREACHABLE = f"{TEST_PREFIX}.250"  # in the devices file, nobody answers there
RAISE_BPS, CLEAR_BPS = 2_000_000, 500_000
# The sender: from `low` to `high` bytes per second linearly over `ramp` seconds, then `high` for `hold` seconds.
SENDER = """
import socket, sys, time
address, low, high, ramp, hold = sys.argv[1], *map(float, sys.argv[2:6])
sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sender.sendto(b"", (address, 9))
time.sleep(0.2)
payload, sent, start = bytes(1000), 0.0, time.monotonic()
while True:
    elapsed = time.monotonic() - start
    if elapsed > ramp + hold:
        break
    ramped = min(elapsed, ramp)
    owed = low * ramped + (high - low) * ramped ** 2 / (2 * ramp) + high * max(0.0, elapsed - ramp)
    while sent < owed:
        sender.sendto(payload, (address, 9))
        sent += len(payload) + 42
    time.sleep(0.01)
"""
RAMP_SECONDS, HOLD_SECONDS = 24.0, 8.0
LOW_BYTES, HIGH_BYTES = 20_000, 500_000  # 0.16 -> 4 Mbit/s


def get(base: str, path: str, **params):
    response = httpx.get(f"{base}{path}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def wait_until(what: str, probe, deadline: float, explain=lambda: ""):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        found = probe()
        if found:
            return found
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}\n{explain()}")


def measurements(base: str, job_id: str, obj: str, indicator: str) -> list[dict]:
    return get(base, f"{PM5}/performanceMeasurement", **{
        "measurementCollectionJob.id": job_id, "tag.monitoredObject.id": obj,
        "performanceIndicatorValue.performanceIndicatorSpecification.id": indicator, "limit": 1000})


def values(items: list[dict]) -> list[float]:
    return [float(item["performanceIndicatorValue"][0]["observedValue"]) for item in items
            if "observedValue" in item["performanceIndicatorValue"][0]]


def link_addresses() -> None:
    """Addresses on the d1-d2 link, so that d1 can send d2 datagrams (kept if an earlier test set them)."""
    for device, interface, address in ((1, "d1-ge1", "10.98.0.1/30"), (2, "d2-ge0", "10.98.0.2/30")):
        subprocess.run(["ip", "-n", f"{TEST_NAMESPACE}{device}", "addr", "replace", address, "dev", interface],
                       check=True)


def start_traffic() -> subprocess.Popen:
    return subprocess.Popen(["ip", "netns", "exec", f"{TEST_NAMESPACE}1", sys.executable, "-c", SENDER, "10.98.0.2",
                             str(LOW_BYTES), str(HIGH_BYTES), str(RAMP_SECONDS), str(HOLD_SECONDS)])


def test_a_job_measures_real_traffic_and_thresholds_raise_warn_and_clear(database_url, lab, tmp_path):
    truncate_all(database_url)
    devices_file = tmp_path / "devices.yaml"
    devices_file.write_text("devices:\n" + "".join(f"  - address: {address}\n" for address in lab.addresses))
    discovered = tmf_oss("discover", "--devices", str(devices_file), "--database-url", database_url, "--json")
    assert [outcome["error"] for outcome in json.loads(discovered.stdout)] == [None] * DEVICES, discovered.stderr
    # A device the inventory knows but that no longer answers: its measurements must be missing, not zero.
    platform = Platform(Settings(database_url=database_url))
    try:
        ghost, _ = platform.collection("tmf639", "resource").create(
            "v5", {"@type": "PhysicalResource", "name": "ghost", "category": "device"}, base_url="http://x",
            correlation_id=None)
        with platform.db.transaction() as session:
            session.add(DiscoveredResource(key=f"device:{UNREACHABLE}", device_key=f"device:{UNREACHABLE}",
                                           resource_id=ghost["id"], present=True))
    finally:
        platform.close()
    devices_file.write_text(devices_file.read_text() + f"  - address: {UNREACHABLE}\n    timeout: 0.5\n    retries: 0\n")
    link_addresses()

    server = None
    with Listener() as listener:
        try:
            server = TmfOssProcess(["serve"], database_url, tmp_path, env={
                "TMF_OSS_PM_SECONDS_PER_MINUTE": str(SECONDS_PER_MINUTE), "TMF_OSS_DEVICES_FILE": str(devices_file)})
            server.wait_until_serving()
            base = server.base

            def explain() -> str:
                return Path(server.log.name).read_text(errors="replace")[-4000:]

            sender_end = get(base, f"{INVENTORY}/resource", name="d1/d1-ge1", category="interface")[0]["id"]
            receiver_end = get(base, f"{INVENTORY}/resource", name="d2/d2-ge0", category="interface")[0]["id"]
            hub = httpx.post(f"{base}{PM5}/hub", json={"@type": "Hub", "callback": listener.url}, timeout=10)
            assert hub.status_code == 201, hub.text

            threshold = httpx.post(f"{base}{THRESHOLDS}", json={
                "name": "d1 uplink busy", "indicatorId": "ifOutBitRate", "monitoredObjectId": [sender_end],
                "direction": "rising", "raiseLevel": RAISE_BPS, "clearLevel": CLEAR_BPS, "perceivedSeverity": "major",
                "forecast": {"method": "linear", "window": 4, "horizonSeconds": 30}}, timeout=10)
            assert threshold.status_code == 201, threshold.text

            created = httpx.post(f"{base}{PM5}/measurementCollectionJob", timeout=10, json={
                "@type": "MeasurementCollectionJob", "consumingApplicationId": "noc", "producingApplicationId": "tmf-oss",
                "granularity": "g_1mn", "reportingPeriod": "r_5mn",
                "performanceIndicatorSpecification": [
                    {"@type": "PerformanceIndicatorSpecificationRef", "id": ident}
                    for ident in ("ifOutBitRate", "ifInBitRate", "ifOutUtilisation")],
                "monitoredInstancesCriteria": {"@type": "MonitoredInstancesCriteria",
                                               "monitoredObjectInstances": [sender_end, receiver_end]}})
            assert created.status_code == 201, created.text
            job_id = created.json()["id"]
            ghost_job = httpx.post(f"{base}{PM5}/measurementCollectionJob", timeout=10, json={
                "@type": "MeasurementCollectionJob", "consumingApplicationId": "noc", "producingApplicationId": "tmf-oss",
                "granularity": "g_1mn", "performanceIndicatorSpecification": [
                    {"@type": "PerformanceIndicatorSpecificationRef", "id": "memoryUsed"}],
                "monitoredInstancesCriteria": {"@type": "MonitoredInstancesCriteria",
                                               "monitoredObjectInstances": [ghost["id"]]}})
            assert ghost_job.status_code == 201, ghost_job.text

            # Collection starts: the job is inProgress and quiet intervals measure (almost) nothing.
            wait_until("the job in progress", lambda: get(base, f"{PM5}/measurementCollectionJob/{job_id}")[
                "executionState"] == "inProgress", 30, explain)
            wait_until("a first measurement", lambda: values(measurements(base, job_id, sender_end, "ifOutBitRate")),
                       30, explain)

            # Traffic ramps up from d1 to d2, holds, stops.
            traffic = start_traffic()
            try:
                def threshold_alarms():
                    return get(base, f"{ALARMS}/alarm", **{"alarmedObject.id": sender_end, "limit": 100})

                crossing = wait_until("the threshold crossing alarm", lambda: [
                    alarm for alarm in threshold_alarms() if alarm.get("crossedThresholdInformation")
                    and "predicted" not in alarm["specificProblem"] and alarm["state"] != "cleared"],
                    RAMP_SECONDS + 20, explain)[0]
                raised_at = time.monotonic()
                warnings = [alarm for alarm in threshold_alarms() if "predicted" in alarm["specificProblem"]]
            finally:
                traffic.wait(timeout=RAMP_SECONDS + HOLD_SECONDS + 30)

            # The early warning came first, with its prediction, and the crossing superseded (cleared) it.
            assert warnings, f"no early warning before the crossing\n{threshold_alarms()}"
            warning = warnings[0]
            assert warning["alarmRaisedTime"] < crossing["alarmRaisedTime"]
            assert "linear" in warning["alarmDetails"]
            assert warning["state"] == "cleared"
            assert crossing["alarmType"] == "qualityOfServiceAlarm"
            assert crossing["perceivedSeverity"] == "major"
            info = crossing["crossedThresholdInformation"]
            assert info["indicatorName"] and float(info["observedValue"]) >= RAISE_BPS
            assert info["direction"] == "up" and info["granularity"] == "g_1mn"

            # Quiet again: the crossing alarm clears.
            wait_until("the crossing alarm cleared", lambda: get(base, f"{ALARMS}/alarm/{crossing['id']}")[
                "state"] == "cleared", 30, explain)
            assert time.monotonic() - raised_at < HOLD_SECONDS + 30

            # What was measured is the traffic: megabits out of d1's end and into d2's.
            sent = values(measurements(base, job_id, sender_end, "ifOutBitRate"))
            received = values(measurements(base, job_id, receiver_end, "ifInBitRate"))
            assert max(sent) > RAISE_BPS and max(received) > RAISE_BPS
            assert min(sent) < CLEAR_BPS  # before and after the traffic
            utilisation = values(measurements(base, job_id, sender_end, "ifOutUtilisation"))
            assert 0 < max(utilisation) < 1  # a few Mbit/s of a 10 Gbit/s veth
            # The unreachable device's values are missing, with the reason, and did not stall the job.
            lost = get(base, f"{PM5}/performanceMeasurement", **{"measurementCollectionJob.id": ghost_job.json()["id"]})
            assert lost and all("observedValue" not in item["performanceIndicatorValue"][0] for item in lost)
            assert "did not answer" in lost[0]["tag"]["missingReason"]
            starts = sorted(item["validFor"]["startDateTime"] for item in
                            measurements(base, job_id, sender_end, "ifOutBitRate"))
            gaps = [(datetime.fromisoformat(b.replace("Z", "+00:00")) - datetime.fromisoformat(
                a.replace("Z", "+00:00"))).total_seconds() for a, b in zip(starts, starts[1:])]
            assert max(gaps) <= 2 * SECONDS_PER_MINUTE, starts

            # The downloads hold the same values.
            csv_text = httpx.get(f"{base}/performanceData/{job_id}/measurements.csv", timeout=10).text
            assert csv_text.count("\n") > len(starts)

            # The hub heard the job's life.
            def heard():
                names = {event["eventType"] for event in listener.received}
                return {"MeasurementCollectionJobCreateEvent",
                        "MeasurementCollectionJobExecutionStateChangeEvent"} <= names
            wait_until("the job's events", heard, 15, lambda: str(listener.received))
            states = [event["event"]["measurementCollectionJob"]["executionState"] for event in listener.received
                      if event["eventType"] == "MeasurementCollectionJobExecutionStateChangeEvent"]
            assert "inProgress" in states
        finally:
            if server is not None:
                server.stop()

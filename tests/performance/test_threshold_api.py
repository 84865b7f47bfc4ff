"""The operator endpoints for performance thresholds: CRUD, and every way a threshold can be refused."""
from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.api.helpers import assert_tmf_error
from tests.performance.test_thresholds import Pipeline, Series, alarms, network  # noqa: F401 - fixture
from tmf_oss.performance.threshold_api import threshold_routes
from tmf_oss.tmf.errors import TmfError, error_response

PATH = "/admin/v1/performanceThreshold"
KNOWN_INDICATORS = {"ifInUtilisation", "ifOutUtilisation"}
MERGE = {"Content-Type": "application/merge-patch+json"}
VALID = {"name": "busy links", "indicatorId": "ifInUtilisation", "monitoredObjectId": ["port-1"],
         "direction": "rising", "raiseLevel": 80, "clearLevel": 70}


@pytest.fixture
def admin(app):
    """The routes mounted the way the server mounts its admin routes, with a known-indicator check."""
    routes = threshold_routes(app.platform.db, app.platform.collection("tmf639", "resource"),
                              known_indicator=KNOWN_INDICATORS.__contains__)
    application = Starlette(routes=[Route(path, handler, methods=methods, name=name)
                                    for path, name, handler, methods in routes],
                            exception_handlers={TmfError: lambda _request, error: error_response(error)})
    with TestClient(application, base_url="http://testserver") as test_client:
        yield test_client


def created(admin, **changes) -> dict:
    response = admin.post(PATH, json={**VALID, **changes})
    assert response.status_code == 201, response.text
    return response.json()


def test_create_read_list_change_and_delete(admin):
    threshold = created(admin, objectFilter="name.regex=^r1/", forecast={
        "method": "holt", "window": 6, "horizonSeconds": 900})
    ident = threshold["id"]
    assert threshold["href"] == f"http://testserver{PATH}/{ident}"
    assert threshold["@type"] == "PerformanceThreshold" and threshold["perceivedSeverity"] == "major"
    assert threshold["forecast"] == {"method": "holt", "window": 6, "horizonSeconds": 900,
                                     "perceivedSeverity": "warning"}
    assert (threshold["raiseLevel"], threshold["clearLevel"], threshold["objectFilter"]) == (80, 70, "name.regex=^r1/")
    assert threshold["creationDate"] and threshold["lastUpdate"]
    assert admin.get(f"{PATH}/{ident}").json() == threshold
    other = created(admin, name="quiet", indicatorId="ifOutUtilisation", direction="falling", raiseLevel=5,
                    clearLevel=10, perceivedSeverity="minor")
    assert [t["id"] for t in admin.get(PATH).json()] == [ident, other["id"]]
    assert [t["id"] for t in admin.get(PATH, params={"indicatorId": "ifOutUtilisation"}).json()] == [other["id"]]

    changed = admin.patch(f"{PATH}/{ident}", json={"raiseLevel": 90, "forecast": None, "objectFilter": None},
                          headers=MERGE)
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["raiseLevel"] == 90 and "forecast" not in body and "objectFilter" not in body
    assert body["creationDate"] == threshold["creationDate"]
    assert admin.get(f"{PATH}/{ident}").json() == body
    assert admin.patch(f"{PATH}/{ident}", json={"raiseLevel": 90}).json() == body  # no change: nothing moves

    assert admin.delete(f"{PATH}/{ident}").status_code == 204
    assert_tmf_error(admin.get(f"{PATH}/{ident}"), 404)
    assert [t["id"] for t in admin.get(PATH).json()] == [other["id"]]


@pytest.mark.parametrize("changes, reason, says", [
    ({"name": ""}, "Invalid threshold", "name is required"),
    ({"name": None}, "Invalid threshold", "name is required"),
    ({"colour": "red"}, "Invalid threshold", "unknown members ['colour']"),
    ({"indicatorId": "ifSparkles"}, "Unknown indicator", "'ifSparkles' is not a known"),
    ({"indicatorId": 7}, "Invalid threshold", "indicatorId is required"),
    ({"monitoredObjectId": "port-1"}, "Invalid threshold", "monitoredObjectId must be a list"),
    ({"monitoredObjectId": [""]}, "Invalid threshold", "monitoredObjectId must be a list"),
    ({"monitoredObjectId": []}, "Invalid threshold", "give at least one"),
    ({"objectFilter": "sparkle=yes"}, "Invalid objectFilter", "Unknown attribute 'sparkle'"),
    ({"objectFilter": "name.regex=("}, "Invalid objectFilter", "invalid regular expression"),
    ({"objectFilter": "limit=5"}, "Invalid objectFilter", "'limit' is a list parameter"),
    ({"objectFilter": ""}, "Invalid objectFilter", "TMF639 resource query"),
    ({"direction": "sideways"}, "Invalid threshold", "direction must be one of rising, falling"),
    ({"direction": None}, "Invalid threshold", "direction must be one of"),
    ({"raiseLevel": "80"}, "Invalid threshold", "raiseLevel is required: a number"),
    ({"clearLevel": True}, "Invalid threshold", "clearLevel is required: a number"),
    ({"clearLevel": 80}, "Invalid hysteresis", "clearLevel (80) must be less than raiseLevel (80)"),
    ({"clearLevel": 85}, "Invalid hysteresis", "must be less than raiseLevel"),
    ({"direction": "falling"}, "Invalid hysteresis", "clearLevel (70) must be greater than raiseLevel (80)"),
    ({"perceivedSeverity": "cleared"}, "Invalid threshold", "perceivedSeverity must be one of critical, major"),
    ({"forecast": "linear"}, "Invalid forecast", "forecast must be an object"),
    ({"forecast": {"method": "tea-leaves", "window": 5, "horizonSeconds": 60}}, "Invalid forecast",
     "forecast.method must be one of linear, holt"),
    ({"forecast": {"method": "linear", "window": 2, "horizonSeconds": 60}}, "Invalid forecast",
     "forecast.window must be a whole number of points from 3"),
    ({"forecast": {"method": "linear", "window": 5.5, "horizonSeconds": 60}}, "Invalid forecast",
     "forecast.window"),
    ({"forecast": {"method": "linear", "window": 5000, "horizonSeconds": 60}}, "Invalid forecast",
     "forecast.window"),
    ({"forecast": {"method": "linear", "window": 5, "horizonSeconds": 0}}, "Invalid forecast",
     "horizonSeconds must be more than 0"),
    ({"forecast": {"method": "linear", "window": 5}}, "Invalid forecast", "forecast.horizonSeconds is required"),
    ({"forecast": {"method": "linear", "window": 5, "horizonSeconds": 60, "perceivedSeverity": "meh"}},
     "Invalid forecast", "forecast.perceivedSeverity must be one of"),
    ({"forecast": {"method": "linear", "window": 5, "horizonSeconds": 60, "alpha": 0.9}}, "Invalid forecast",
     "unknown forecast members ['alpha']"),
])
def test_a_threshold_that_cannot_work_is_refused(admin, changes, reason, says):
    body = {name: value for name, value in {**VALID, **changes}.items() if value is not None}  # None: left out
    error = assert_tmf_error(admin.post(PATH, json=body), 400)
    assert error["reason"] == reason and says in error["message"], error
    assert admin.get(PATH).json() == []


def test_bodies_that_are_not_threshold_documents(admin):
    error = assert_tmf_error(admin.post(PATH, content=b"{not json", headers={"Content-Type": "application/json"}),
                             400)
    assert error["reason"] == "Invalid body"
    assert "must be a JSON object" in assert_tmf_error(admin.post(PATH, json=[VALID]), 400)["message"]


def test_changes_that_cannot_be_made(admin):
    ident = created(admin)["id"]
    assert_tmf_error(admin.patch(f"{PATH}/nope", json={"raiseLevel": 90}, headers=MERGE), 404)
    assert_tmf_error(admin.delete(f"{PATH}/nope"), 404)
    unsupported = assert_tmf_error(admin.patch(f"{PATH}/{ident}", json=[{"op": "replace", "path": "/raiseLevel",
                                                                          "value": 90}],
                                               headers={"Content-Type": "application/json-patch+json"}), 415)
    assert "merge-patch" in unsupported["message"]
    hysteresis = assert_tmf_error(admin.patch(f"{PATH}/{ident}", json={"raiseLevel": 60}, headers=MERGE), 400)
    assert hysteresis["reason"] == "Invalid hysteresis"
    assert "cannot be changed" in assert_tmf_error(
        admin.patch(f"{PATH}/{ident}", json={"id": "mine"}, headers=MERGE), 400)["message"]
    assert "maintained by the server" in assert_tmf_error(
        admin.patch(f"{PATH}/{ident}", json={"creationDate": "2020-01-01T00:00:00Z"}, headers=MERGE), 400)["message"]
    assert "give at least one" in assert_tmf_error(
        admin.patch(f"{PATH}/{ident}", json={"monitoredObjectId": None}, headers=MERGE), 400)["message"]
    assert "must be a JSON object" in assert_tmf_error(
        admin.patch(f"{PATH}/{ident}", json=[1], headers=MERGE), 400)["message"]
    assert admin.get(f"{PATH}/{ident}").json()["raiseLevel"] == 80  # nothing refused was kept


def test_changing_or_deleting_a_threshold_clears_the_alarms_it_raised(client, admin, app, network):
    pipeline = Pipeline(app)
    ident = created(admin, monitoredObjectId=[network["ge0"], network["ge1"]])["id"]
    pipeline.evaluate([*Series(network["ge0"])(95), *Series(network["ge1"])(99)])
    assert [a["state"] for a in alarms(client)] == ["raised", "raised"]
    admin.patch(f"{PATH}/{ident}", json={"name": "renamed"}, headers=MERGE)
    pipeline.consumer.drain()
    assert {a["state"] for a in alarms(client)} == {"cleared"}
    pipeline.evaluate(Series(network["ge0"])(97))  # evaluated afresh: raised again, under its new name
    raised = alarms(client, "state=raised")
    assert [a["specificProblem"] for a in raised] == ["ifInUtilisation above 80 (threshold renamed)"]
    assert admin.delete(f"{PATH}/{ident}").status_code == 204
    pipeline.consumer.drain()
    assert {a["state"] for a in alarms(client)} == {"cleared"}

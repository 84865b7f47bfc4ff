"""TMF628 Performance Management (v4 and v5) against the official TM Forum documents.

The generic checks come from harness.EntityConformance, once for each managed entity: indicator specifications,
indicator group specifications and measurement collection jobs (CRUD, errors, filtering, `fields=`, paging, hub,
events).  This module says where the API lives and what to send, and adds what is specific to performance
management: the job life-cycle a client sees (acknowledged at creation with its tracking record and data access
endpoints, locked and unlocked by the client, executionState kept by the server), jobs refused with a 400 when they
cannot be measured, the job's events, and the read-only resources (trackingRecord, dataAccessEndpoint and
performanceMeasurement: list and retrieve validated, filtered, selected and paged).  Every payload is validated
against the official request schema before it is sent, so a failing check points at the server.

Official documents: v5 is the v5.0.0 beta (TMF628 has no Production release); v4 is the ODA Asset Build variant of
v4.0.0, the one with performanceMeasurement and dataAccessEndpoint.  Our server does not serve its /queryTask
operations (no operation of the document creates a query task; see test_spec_parity.py): TestQueryTask checks that
they answer 404 with an official Error.  Both documents' `servers` say `/tmf-api/performance/...`; the harness never
reads `servers` (the base paths are given here).

A job is only accepted when it can be measured, so the job checks need a monitored object and two indicators the
server can compute on it:

* on our own server (started by conftest.py) the module records a fresh interface of a managed device in the
  server's database, as discovery would (tests/performance/support.py), and uses the built-in interface indicators
  ifInUtilisation and ifInBitRate;
* on another server (``--tmf-base-url``), set ``TMF_CONFORMANCE_TMF628_MEASURABLE`` to a JSON file
  ``{"monitoredObject": "<id>", "indicators": ["<id>", "<id>"]}``; without it, the checks that create jobs skip.

Jobs are created with a schedule starting in 2099, so that the server's collector does not measure them while they
are checked.  Measurements are values of the server's time series, which no API writes: on our server the module
writes them to the database (TimeSeriesStore, as tests/performance/test_pm_api.py does); on another server only
the list and retrieve of whatever it holds are validated.

Two known problems of the official files are allowed for, and only those.

* v5: its `Characteristic` is "an abstract
  base class, the actual value is in one of the strongly-typed subclasses: StringCharacteristic, ...", but the file
  defines none of those subclasses, and its discriminator maps `@type` to `Characteristic` only.  So no
  characteristic carrying a value can be valid against it.  A tracking record or data access endpoint of ours names
  its job in a `StringCharacteristic`; the v5 checks validate against the official document with exactly one
  schema added, `StringCharacteristic` as TMF639 v5.0.0 defines it (Characteristic plus a string `value`), and
  `TestPerformanceOfficialV5CharacteristicQuirk` shows that this is the only difference between what is served and
  the unmodified official document.
* v4: its PerformanceIndicatorGroupSpecification requires name and performanceIndicatorSpecification in responses
  too, which an answer to `fields=name` (TMF630: the selected members, id and href) cannot carry.  The `fields=`
  checks of groups validate v4 answers against the group schema without its `required`, and
  `test_v4_fields_leave_out_required_members` shows that the member left out is the only difference.

The official documents define events for jobs and measurements only: the event checks of indicator specifications
and groups make sure the hub sends nothing about them that no listener operation defines.
"""

from __future__ import annotations

import copy
import json
import os
import uuid
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from .harness import (
    ABSENT, ApiDefinition, ApiVersion, Created, EntityConformance, EventListener, OfficialSpec, TmfClient,
    assert_carries, describe_exchange, header_int, is_loopback, listener_event_problems, parse_instant,
)

TMF628 = ApiDefinition("TMF628", (
    ApiVersion("v4", "tmf628/TMF628-Performance-v4.0.0.ODA-Asset-Build-variant.swagger.json",
               "/tmf-api/performanceManagement/v4"),
    ApiVersion("v5", "tmf628/TMF628_Performance-v5.0.0.oas.yaml", "/tmf-api/performanceManagement/v5"),
))

MEASURABLE_VARIABLE = "TMF_CONFORMANCE_TMF628_MEASURABLE"
NO_MEASURABLE = (f"no measurable object known for this server: set {MEASURABLE_VARIABLE} to a JSON file "
                 '{"monitoredObject": "<id>", "indicators": ["<id>", "<id>"]} naming an object it can measure '
                 "with two interface indicators")
OUR_INDICATORS = ("ifInUtilisation", "ifInBitRate")  # built-in interface indicators of our server

SPEC = "/performanceIndicatorSpecification"
GROUP = "/performanceIndicatorGroupSpecification"
JOB = "/measurementCollectionJob"
RECORD = "/trackingRecord"
ENDPOINT = "/dataAccessEndpoint"
MEASUREMENT = "/performanceMeasurement"
HUB = "/hub"
QUERY_TASK = "/queryTask"

# What this module checks, whichever class checks it (every class's test_every_official_operation_is_checked
# compares the official operations with this).
CHECKED_OPERATIONS = tuple(
    [(method, path) for collection in (SPEC, GROUP, JOB)
     for method, path in (("post", collection), ("get", collection), ("get", collection + "/{id}"),
                          ("patch", collection + "/{id}"), ("delete", collection + "/{id}"))]
    + [(method, path) for collection in (RECORD, ENDPOINT, MEASUREMENT)
       for method, path in (("get", collection), ("get", collection + "/{id}"))]
    + [("post", HUB), ("get", HUB + "/{id}"), ("delete", HUB + "/{id}")]
    + [("get", QUERY_TASK), ("get", QUERY_TASK + "/{id}")])  # v4 only: not served (TestQueryTask)

V4_MEDIA_TYPE = "application/json;charset=utf-8"
MERGE, JSON_PATCH, JSON_PATCH_QUERY = ("application/merge-patch+json", "application/json-patch+json",
                                       "application/json-patch-query+json")

# Far enough ahead that the server's collector measures no job of the checks.
START = datetime(2099, 3, 1, 12, tzinfo=timezone.utc)
VALID_FROM = "2024-05-01T08:00:00Z"
# The measurements the module writes: five one-minute intervals from T0, of two indicators.
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
MISSING_MINUTE = 3
MISSING_REASON = "device did not answer (written by the conformance check)"


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def typed(version: ApiVersion, type_name: str, body: dict) -> dict:
    """v5 makes @type mandatory on every object; v4 clients leave it out."""
    return {"@type": type_name, **body} if version.major >= 5 else dict(body)


# =========================================================================== the official v5 Characteristic


# StringCharacteristic as TMF639 v5.0.0 (components/schemas/StringCharacteristic) defines it.
STRING_CHARACTERISTIC = {"allOf": [
    {"$ref": "#/components/schemas/Characteristic"},
    {"type": "object", "description": "A characteristic which value is a String.",
     "properties": {"value": {"type": "string", "description": "Value of the characteristic"}}},
]}


@lru_cache(maxsize=None)
def v5_with_string_characteristic(official: OfficialSpec) -> OfficialSpec:
    """The official v5 document with StringCharacteristic defined (see the module docstring), nothing else changed."""
    document = copy.deepcopy(official.document)
    schemas = document["components"]["schemas"]
    assert "StringCharacteristic" not in schemas, (
        f"{official.source.name} now defines StringCharacteristic: drop the adjustment in this module")
    schemas["StringCharacteristic"] = copy.deepcopy(STRING_CHARACTERISTIC)
    schemas["Characteristic"]["discriminator"]["mapping"]["StringCharacteristic"] = \
        "#/components/schemas/StringCharacteristic"
    return OfficialSpec(document, official.source)


# The official v4 PerformanceIndicatorGroupSpecification requires name and performanceIndicatorSpecification even in
# responses; an answer to `fields=` (TMF630: the selected members, id and href) leaves out what is not selected.
V4_GROUP_REQUIRED = ("name", "performanceIndicatorSpecification")


@lru_cache(maxsize=None)
def v4_group_without_required(official: OfficialSpec) -> OfficialSpec:
    """The v4 document with the group's `required` dropped, for answers to `fields=` only."""
    document = copy.deepcopy(official.document)
    group = document["definitions"]["PerformanceIndicatorGroupSpecification"]
    assert tuple(group.get("required", ())) == V4_GROUP_REQUIRED, (
        f"{official.source.name} changed what a group requires ({group.get('required')}): review this module")
    del group["required"]
    return OfficialSpec(document, official.source)


@contextmanager
def selection_of_groups(client: TmfClient):
    """Within: v4 answers of groups are validated as partial representations (see V4_GROUP_REQUIRED)."""
    spec = client.spec
    if client.api.major < 5:
        client.spec = v4_group_without_required(spec)
    try:
        yield
    finally:
        client.spec = spec


# =========================================================================== what the checks measure


@dataclass(frozen=True)
class Measurable:
    monitored_object: str
    indicators: tuple[str, str]


class PerformanceSetup:
    """What the checks need beyond the API: a measurable object, indicator specifications of this run, stored
    measurements.  Bound to one client (one API version of one server); cleaned up with it."""

    def __init__(self, client: TmfClient, database_url: str | None):
        self.client = client
        self.database_url = database_url
        self.root_url = client.base_url[:-len(client.api.base_path)]
        self._measurable: Measurable | None = None
        self._indicators: dict[str, dict] = {}

    @property
    def ours(self) -> bool:
        return self.database_url is not None

    def _platform(self):
        from tmf_oss.config import Settings
        from tmf_oss.platform import Platform

        return Platform(Settings(database_url=self.database_url, run_dispatcher=False, run_orchestrator=False,
                                 run_collector=False, public_base_url=self.root_url))

    def measurable(self) -> Measurable:
        if self._measurable is not None:
            return self._measurable
        path = os.environ.get(MEASURABLE_VARIABLE)
        if path:
            known = json.loads(Path(path).read_text(encoding="utf-8"))
            indicators = tuple(known.get("indicators") or ())
            assert known.get("monitoredObject") and len(indicators) >= 2, \
                f"{MEASURABLE_VARIABLE}={path} must name a monitoredObject and two indicators"
            self._measurable = Measurable(str(known["monitoredObject"]), (indicators[0], indicators[1]))
        elif self.ours:
            from tests.performance.support import add_interface

            platform = self._platform()
            try:
                interface = add_interface(platform, "192.0.2.62", f"ge-{uuid.uuid4().hex[:8]}")
            finally:
                platform.close()
            self._measurable = Measurable(interface, OUR_INDICATORS)
        else:
            pytest.skip(NO_MEASURABLE)
        return self._measurable

    def indicator(self, name: str) -> dict:
        """An indicator specification of this run named `name` (created once), as the server represents it."""
        if name not in self._indicators:
            body = typed(self.client.api, "PerformanceIndicatorSpecification", {
                "name": name, "description": "member of the conformance check's groups", "indicatorCategory":
                "conformance", "indicatorType": "int", "indicatorUnit": "1", "collectionType": "gauge"})
            self._indicators[name] = self.client.expect(self.client.post(SPEC, body), 201)
        return self._indicators[name]

    def write_samples(self, samples: list) -> None:
        from tmf_oss.performance.timeseries import TimeSeriesStore

        platform = self._platform()
        try:
            TimeSeriesStore(platform.db).write(samples, 60)
        finally:
            platform.close()

    def cleanup(self) -> None:
        for spec in self._indicators.values():
            try:
                self.client.delete(f"{SPEC}/{spec['id']}")
            except Exception:  # best effort, as harness.Created
                pass
        self._indicators.clear()


@pytest.fixture(scope="class")
def client(client: TmfClient, tmf_database_url):
    """The conftest client, for v5 bound to the official document with StringCharacteristic defined, and knowing
    what the checks measure."""
    if client.api.major >= 5:
        client.spec = v5_with_string_characteristic(client.spec)
    client.pm = PerformanceSetup(client, tmf_database_url)
    yield client
    client.pm.cleanup()


# =========================================================================== payloads of TMF628's own types


def indicator_ref(api: ApiVersion, ident: str, name: str | None = None, **members) -> dict:
    body = {"id": ident, **({"name": name} if name else {}), **members}
    return typed(api, "PerformanceIndicatorSpecificationRef", body)


def relationship(version: ApiVersion, kind: str, role: str) -> dict:
    # v4 requires the target (perfSpec), relationshipType and validFor; v5 (an Entity) relationshipType and validFor.
    body = {"relationshipType": kind, "role": role, "validFor": {"startDateTime": VALID_FROM}}
    if version.major < 5:
        body["perfSpec"] = {"id": "ifInErrorRatio"}
    return typed(version, "PerformanceIndicatorSpecRelationship", body)


def schedule(version: ApiVersion, start: datetime, end: datetime | None = None) -> Any:
    """v5 has a list of schedule definitions, v4 one."""
    definition = typed(version, "ScheduleDefinition", {"scheduleDefinitionStartTime": _iso(start),
                                                       **({"scheduleDefinitionEndTime": _iso(end)} if end else {})})
    return [definition] if version.major >= 5 else definition


def job_body(client: TmfClient, tag: str, indicators: list[str] | None = None, **members) -> dict:
    """A MeasurementCollectionJob_Create (v4) / _FVO (v5) the server can measure (by default both indicators of
    the measurable object), scheduled in 2099."""
    version = client.api
    measurable = client.pm.measurable()
    refs = [indicator_ref(version, ident, **({"version": "1"} if version.major >= 5 else {}))
            for ident in (indicators or measurable.indicators)]
    body = typed(version, "MeasurementCollectionJob", {
        "jobId": tag,
        "outputFormat": "csv",
        "granularity": "g_5mn",
        "reportingPeriod": "r_15mn",
        "jobPriority": 5,
        "performanceIndicatorSpecification": refs,
        "monitoredInstancesCriteria": typed(version, "MonitoredInstancesCriteria",
                                            {"monitoredObjectInstances": [measurable.monitored_object]}),
        "scheduleDefinition": schedule(version, START),
    })
    if version.major >= 5:  # v4 jobs have no application ids
        body.update(consumingApplicationId="tmf-conformance", producingApplicationId="performance-collector")
    body.update(members)
    return body


def merge_patch(client: TmfClient, path: str, type_name: str, members: dict):
    """PATCH with merge semantics: v4's application/json, v5's application/merge-patch+json."""
    if client.api.major < 5:
        return client.patch(path, members, V4_MEDIA_TYPE)
    return client.patch(path, {"@type": type_name, **members}, MERGE)


def _event_type(received: tuple[str, str, Any]) -> str | None:
    body = received[2]
    return body.get("eventType") if isinstance(body, dict) else None


class UndefinedEventsAreAKnownDefect:
    """TMF628 defines events for jobs and measurements only.  A subscriber implements the listener operations of the
    document; anything the hub sends about this entity must still be an event the official document defines."""

    def test_events_match_the_official_listener_schemas(self, client, created, run_tag):
        """Create, patch and delete the entity with a listener registered for every event: each event about it
        must be the request of an official listener operation (none at all is right too)."""
        self._require_hub(client)
        if not is_loopback(client.base_url):
            pytest.skip("the server under test must reach a callback on this machine (loopback only)")
        with EventListener() as listener:
            hub = {k: v for k, v in self.hub_body(client.api, listener.url).items() if k != "query"}  # all events
            subscription = client.expect(client.post(self.hub, hub), 201)
            try:
                item = self._create_patch_delete(client, created, run_tag)

                def about_item(received):
                    return [r for r in received if item["id"] in json.dumps(r[2])]

                # A server sending nothing about the entity is right: wait a little for what it sends.
                listener.wait_for(lambda received: any(str(_event_type(r)).endswith("DeleteEvent")
                                                       for r in about_item(received)), timeout=5)
                events = about_item(listener.received)
            finally:
                client.delete(f"{self.hub}/{subscription['id']}")
        problems = listener_event_problems(client, events)
        assert not problems, "\n".join(problems)


class PerformanceEntity(EntityConformance):
    """What the three managed entities of TMF628 have in common here."""

    api = TMF628
    hub = HUB
    extra_operations = CHECKED_OPERATIONS

    def our_v4_patches(self, item: dict) -> dict[str, tuple[Any, dict]]:
        """For the PATCH media types our v4 document adds to the official one (merge-patch, JSON Patch):
        media type -> (body, what the entity carries afterwards)."""
        raise NotImplementedError

    def test_v4_patch_media_types_our_document_declares(self, client, created, run_tag):
        """Our v4 document accepts merge-patch and JSON Patch besides the official v4's application/json.  The
        bodies are those of our document (the official v4 declares an object of the entity's _Update type only, so
        they are not validated against it); the answers are validated against the official document."""
        if client.api.major >= 5:
            pytest.skip("the official v5 document declares every PATCH media type: test_patch checks them")
        if not client.pm.ours:
            pytest.skip("merge-patch and JSON Patch on v4 are what our v4 document adds to the official one")
        failures = []
        for media_type in (MERGE, JSON_PATCH):
            _, item = self.create(client, created, self.new_body(client, run_tag, "v4patch"))
            body, expected = self.our_v4_patches(item)[media_type]
            try:
                patched = client.expect(client.patch(self.item_path(item), body, media_type,
                                                     validate_request=False), 200)
                assert_carries(expected, patched, "the PATCH answer does not carry the change")
                fetched = client.expect(client.get(self.item_path(item)), 200)
                assert_carries(expected, fetched, "the entity read after the PATCH lacks the change")
            except AssertionError as problem:
                failures.append(f"[{media_type}] {problem}")
        assert not failures, "\n\n".join(failures)


# =========================================================================== indicator specifications


class TestPerformanceIndicatorSpecification(UndefinedEventsAreAKnownDefect, PerformanceEntity):
    collection = SPEC
    text_attribute = "name"
    group_attribute = "description"
    date_attribute = None  # no date member at the top level
    nested_attribute = "performanceIndicatorSpecRelationship.role"

    # ------------------------------------------------------------------ payloads

    def indicator_body(self, version: ApiVersion, name: str, **members) -> dict:
        return typed(version, "PerformanceIndicatorSpecification", {
            "name": name,
            "description": "conformance check",
            "perspective": "interface",
            "indicatorCategory": "errors",
            "indicatorType": "float",
            "indicatorUnit": "error/s",
            "collectionType": "delta",
            "derivationMethod": "expression",
            "derivationAlgorithm": "rate(ifInErrors) + rate(ifOutErrors)",
            "validFor": {"startDateTime": VALID_FROM},
            **members,
        })

    def create_body(self, version: ApiVersion, client: TmfClient, tag: str) -> dict:
        return self.indicator_body(version, tag, performanceIndicatorSpecRelationship=[
            relationship(version, "dependency", "input"), relationship(version, "substitution", "successor")])

    def dataset_body(self, version: ApiVersion, client: TmfClient, group: str, index: int, rank: int) -> dict:
        # Relationship roles shared by 3 and 2 specifications: the nested filter selects some, not all.
        return self.indicator_body(version, f"{group}-{index}", description=group,
                                   indicatorCategory=f"category-{rank}",
                                   performanceIndicatorSpecRelationship=[
                                       relationship(version, "dependency", f"{group}-role-{index % 2}")])

    def patch_bodies(self, version: ApiVersion, media_type: str, item: dict) -> dict:
        replacement = [relationship(version, "aggregation", "part")]
        if version.major < 5 or media_type in ("application/json", MERGE):
            kind = {} if version.major < 5 else {"@type": "PerformanceIndicatorSpecification"}
            return {
                "attributes": ({**kind, "indicatorUnit": "error/min", "description": "changed by the check"},
                               {"indicatorUnit": "error/min", "description": "changed by the check"}),
                "array replaced whole": ({**kind, "performanceIndicatorSpecRelationship": replacement},
                                         {"performanceIndicatorSpecRelationship": replacement}),
            }
        relationships = item.get("performanceIndicatorSpecRelationship", [])
        if media_type == JSON_PATCH:
            added = relationship(version, "aggregation", "part")
            return {
                "replace, add, remove": (
                    [{"op": "replace", "path": "/indicatorUnit", "value": "error/min"},
                     {"op": "add", "path": "/performanceIndicatorSpecRelationship/-", "value": added},
                     {"op": "remove", "path": "/perspective"}],
                    {"indicatorUnit": "error/min", "performanceIndicatorSpecRelationship": relationships + [added],
                     "perspective": ABSENT}),
            }
        if media_type == JSON_PATCH_QUERY:
            renamed = [{**r, "role": "source"} if r.get("relationshipType") == "dependency" else r
                       for r in relationships]
            other = relationship(version, "exclusivity", "rival")
            swapped = [other if r.get("relationshipType") == "substitution" else r for r in relationships]
            return {
                "query path": ([{"op": "replace", "value": "source",
                                 "path": "/performanceIndicatorSpecRelationship/role?relationshipType=dependency"}],
                               {"performanceIndicatorSpecRelationship": renamed}),
                "JSONPath": ([{"op": "replace", "value": other,
                               "path": ".performanceIndicatorSpecRelationship[?(@.relationshipType=='substitution')]"}],
                             {"performanceIndicatorSpecRelationship": swapped}),
            }
        raise AssertionError(f"no PATCH payload for {media_type}")

    def invalid_create_bodies(self, version: ApiVersion, client: TmfClient, tag: str) -> dict:
        valid = self.create_body(version, client, tag)
        invalid = {
            "name is a number": {**valid, "name": 42},
            "indicatorType outside its enumeration": {**valid, "indicatorType": "complex"},
            "collectionType outside its enumeration": {**valid, "collectionType": "sometimes"},
            "validFor.startDateTime is not a date-time": {**valid, "validFor": {"startDateTime": "next tuesday"}},
            "performanceIndicatorSpecRelationship is not an array":
                {**valid, "performanceIndicatorSpecRelationship": valid["performanceIndicatorSpecRelationship"][0]},
        }
        if version.major >= 5:  # the v4 create schema requires nothing
            for name in ("@type", "name", "indicatorUnit", "collectionType"):
                invalid[f"missing required {name}"] = {k: v for k, v in valid.items() if k != name}
        return invalid

    def invalid_patch_bodies(self, version: ApiVersion, item: dict) -> dict:
        if version.major < 5:
            return {
                "indicatorType outside its enumeration": (V4_MEDIA_TYPE, {"indicatorType": "complex"}),
                "name is a number": (V4_MEDIA_TYPE, {"name": 42}),
                "derivationAlgorithm that is no expression":
                    (V4_MEDIA_TYPE, {"derivationAlgorithm": "__import__('os')"}),
            }
        kind = {"@type": "PerformanceIndicatorSpecification"}
        return {
            "merge-patch: collectionType outside its enumeration": (MERGE, {**kind, "collectionType": "sometimes"}),
            "merge-patch: derivationAlgorithm that is no expression":
                (MERGE, {**kind, "derivationAlgorithm": "__import__('os')"}),
            "json-patch: unknown op": (JSON_PATCH, [{"op": "frobnicate", "path": "/description", "value": "x"}]),
            "json-patch: an object instead of an array":
                (JSON_PATCH, {"op": "replace", "path": "/description", "value": "x"}),
            "json-patch: result has indicatorType outside its enumeration":
                (JSON_PATCH, [{"op": "replace", "path": "/indicatorType", "value": "complex"}]),
            "json-patch-query: operation without path": (JSON_PATCH_QUERY, [{"op": "replace", "value": "x"}]),
        }

    def our_v4_patches(self, item: dict) -> dict:
        return {
            MERGE: ({"indicatorUnit": "error/min"}, {"indicatorUnit": "error/min"}),
            JSON_PATCH: ([{"op": "replace", "path": "/description", "value": "changed by the check"},
                          {"op": "remove", "path": "/perspective"}],
                         {"description": "changed by the check", "perspective": ABSENT}),
        }

    # ------------------------------------------------------------------ checks of indicator specifications

    def test_filter_by_indicator_category(self, client, created, run_tag):
        """`?indicatorCategory=` selects the specifications of that category, and only those."""
        tag = self.tag(client, run_tag, "category")
        wanted = self.create(client, created, self.indicator_body(client.api, f"{tag}-a",
                                                                   indicatorCategory=tag))[1]
        self.create(client, created, self.indicator_body(client.api, f"{tag}-b", indicatorCategory=f"{tag}-other"))
        self.expect_selection(client, {"indicatorCategory": tag}, [wanted])
        response, body = self.list_items(client, {"indicatorCategory": "utilisation", "limit": 100})
        assert all(spec.get("indicatorCategory") == "utilisation" for spec in body), \
            f"indicatorCategory=utilisation selected other categories\n{describe_exchange(response)}"
        if client.pm.ours:  # the built-in indicators of our server
            assert {"ifInUtilisation", "ifOutUtilisation"} <= {spec["id"] for spec in body}, \
                f"the built-in utilisation indicators are not selected\n{describe_exchange(response)}"

    def test_builtin_indicators_are_served(self, client):
        if not client.pm.ours:
            pytest.skip("built-in indicators are our server's")
        for ident in OUR_INDICATORS + ("cpuLoad",):
            spec = client.expect(client.get(f"{SPEC}/{ident}"), 200)
            assert spec["id"] == ident and str(spec.get("href", "")).endswith(f"{SPEC}/{ident}")

    def test_malformed_derivation_is_400(self, client, created, run_tag):
        """An expression tmf-oss computes (derivationMethod `expression`) must parse and name known counters; the
        400 is an Error of the official document, and nothing is created."""
        tag = self.tag(client, run_tag, "derivation")
        failures = []
        for label, algorithm in {"unknown counter": "rate(ifInErrorz)", "syntax": "8 * (rate(ifInOctets)",
                                 "not an expression": "__import__('os')"}.items():
            response = client.post(SPEC, self.indicator_body(client.api, tag, derivationAlgorithm=algorithm))
            if response.status_code == 201:
                created.add(self.item_path(response.json()))
            try:
                error = client.expect(response, 400)
                assert error.get("message") or error.get("reason"), "the Error does not say what is wrong"
            except AssertionError as problem:
                failures.append(f"[{label}] {problem}")
        assert not failures, "\n\n".join(failures)
        self.expect_selection(client, {"name": tag}, [])


# =========================================================================== indicator group specifications


class TestPerformanceIndicatorGroupSpecification(UndefinedEventsAreAKnownDefect, PerformanceEntity):
    collection = GROUP
    text_attribute = "name"
    # v4 groups have nothing but a name and their members: the dataset's members include an indicator
    # specification of this run named like the dataset's group value, and members are filtered by name.
    group_attribute = "performanceIndicatorSpecification.name"
    date_attribute = None
    nested_attribute = "performanceIndicatorSpecification.id"

    # ------------------------------------------------------------------ payloads

    def member(self, client: TmfClient, name: str, **members) -> dict:
        spec = client.pm.indicator(name)
        return indicator_ref(client.api, spec["id"], spec["name"], **members)

    def group_body(self, client: TmfClient, name: str, members: list[dict]) -> dict:
        body = {"name": name, "performanceIndicatorSpecification": members}
        if client.api.major >= 5:
            body["groupCategory"] = "conformance"  # required in v5, no member of v4
        return typed(client.api, "PerformanceIndicatorGroupSpecification", body)

    def create_body(self, version: ApiVersion, client: TmfClient, tag: str) -> dict:
        extra = {"version": "1"} if version.major >= 5 else {}
        return self.group_body(client, tag, [self.member(client, "conformance member a", **extra),
                                             self.member(client, "conformance member b", **extra)])

    def dataset_body(self, version: ApiVersion, client: TmfClient, group: str, index: int, rank: int) -> dict:
        # Every item has the member named `group`; members shared by 3 and 2 items for the nested filter.
        return self.group_body(client, f"{group}-{index}", [self.member(client, group),
                                                            self.member(client, f"{group}-member-{index % 2}")])

    def patch_bodies(self, version: ApiVersion, media_type: str, item: dict) -> dict:
        members = item.get("performanceIndicatorSpecification", [])  # two indicator specifications of this run
        first, second = members[0]["id"], members[1]["id"]
        only_second = [members[1]]
        if version.major < 5:
            # v4 declares only application/json (merge semantics); its _Update requires name and the members.
            return {
                "attributes": ({"name": item["name"] + "-renamed", "performanceIndicatorSpecification": members},
                               {"name": item["name"] + "-renamed"}),
                "array replaced whole": ({"name": item["name"], "performanceIndicatorSpecification": only_second},
                                         {"performanceIndicatorSpecification": only_second}),
            }
        if media_type in ("application/json", MERGE):
            kind = {"@type": "PerformanceIndicatorGroupSpecification"}
            return {
                "attributes": ({**kind, "groupCategory": "changed"}, {"groupCategory": "changed"}),
                "array replaced whole": ({**kind, "performanceIndicatorSpecification": only_second},
                                         {"performanceIndicatorSpecification": only_second}),
            }
        if media_type == JSON_PATCH:
            return {
                "replace, remove": (
                    [{"op": "replace", "path": "/groupCategory", "value": "changed"},
                     {"op": "remove", "path": "/performanceIndicatorSpecification/0"}],
                    {"groupCategory": "changed", "performanceIndicatorSpecification": only_second}),
            }
        if media_type == JSON_PATCH_QUERY:
            versioned = [{**m, "version": "2"} if m.get("id") == first else m for m in members]
            renewed = {**members[1], "version": "3"}
            return {
                "query path": ([{"op": "replace", "path": f"/performanceIndicatorSpecification/version?id={first}",
                                 "value": "2"}],
                               {"performanceIndicatorSpecification": versioned}),
                "JSONPath": ([{"op": "replace", "value": renewed,
                               "path": f".performanceIndicatorSpecification[?(@.id=='{second}')]"}],
                             {"performanceIndicatorSpecification": [members[0], renewed]}),
            }
        raise AssertionError(f"no PATCH payload for {media_type}")

    def invalid_create_bodies(self, version: ApiVersion, client: TmfClient, tag: str) -> dict:
        valid = self.create_body(version, client, tag)
        required = ("@type", "name", "groupCategory") if version.major >= 5 else \
            ("name", "performanceIndicatorSpecification")
        invalid = {f"missing required {name}": {k: v for k, v in valid.items() if k != name} for name in required}
        invalid.update({
            "name is a number": {**valid, "name": 42},
            "performanceIndicatorSpecification is empty": {**valid, "performanceIndicatorSpecification": []},
            "performanceIndicatorSpecification is not an array":
                {**valid, "performanceIndicatorSpecification": valid["performanceIndicatorSpecification"][0]},
        })
        return invalid

    def invalid_patch_bodies(self, version: ApiVersion, item: dict) -> dict:
        members = item.get("performanceIndicatorSpecification", [])
        unknown = [indicator_ref(version, f"no-such-indicator-{uuid.uuid4()}")]
        if version.major < 5:
            return {
                "name is a number": (V4_MEDIA_TYPE, {"name": 42, "performanceIndicatorSpecification": members}),
                "no members": (V4_MEDIA_TYPE, {"name": item["name"], "performanceIndicatorSpecification": []}),
                "an unknown member": (V4_MEDIA_TYPE, {"name": item["name"],
                                                      "performanceIndicatorSpecification": unknown}),
            }
        kind = {"@type": "PerformanceIndicatorGroupSpecification"}
        return {
            "merge-patch: name is a number": (MERGE, {**kind, "name": 42}),
            "merge-patch: an unknown member": (MERGE, {**kind, "performanceIndicatorSpecification": unknown}),
            "json-patch: unknown op": (JSON_PATCH, [{"op": "frobnicate", "path": "/groupCategory", "value": "x"}]),
            "json-patch: an object instead of an array":
                (JSON_PATCH, {"op": "replace", "path": "/groupCategory", "value": "x"}),
            "json-patch-query: operation without path": (JSON_PATCH_QUERY, [{"op": "replace", "value": "x"}]),
        }

    def our_v4_patches(self, item: dict) -> dict:
        members = item.get("performanceIndicatorSpecification", [])
        added = {"id": "ifInErrorRatio"}  # a built-in indicator: these checks run on our server only
        return {
            # Our v4 document gives merge-patch the official _Update schema, which requires name and the members.
            MERGE: ({"name": item["name"] + "-merged", "performanceIndicatorSpecification": members},
                    {"name": item["name"] + "-merged"}),
            JSON_PATCH: ([{"op": "add", "path": "/performanceIndicatorSpecification/-", "value": added}],
                         {"performanceIndicatorSpecification": members + [added]}),
        }

    # ------------------------------------------------------------------ checks of groups

    def test_fields_on_list(self, client, dataset):
        with selection_of_groups(client):
            super().test_fields_on_list(client, dataset)

    def test_fields_on_retrieve(self, client, dataset):
        with selection_of_groups(client):
            super().test_fields_on_retrieve(client, dataset)

    def test_v4_fields_leave_out_required_members(self, client, dataset):
        """The adjustment of the fields checks is exactly that: the selection answered validates against the
        unmodified official group schema but for the required members it leaves out."""
        if client.api.major >= 5:
            pytest.skip("the official v5 group schema requires @type only, which every answer carries")
        _, items = dataset
        entity = client.get(self.item_path(items[0]), params={"fields": "name"}).json()
        errors = client.spec.errors(client.spec.schema_pointer("PerformanceIndicatorGroupSpecification"), entity)
        assert errors == ["$: 'performanceIndicatorSpecification' is a required property"], errors

    def test_group_of_unknown_indicator_is_400(self, client, created, run_tag):
        """A group names indicator specifications the server has: an unknown member is refused with an Error of
        the official document, and nothing is created."""
        tag = self.tag(client, run_tag, "unknownmember")
        ghost = f"no-such-indicator-{uuid.uuid4()}"
        body = self.group_body(client, tag, [self.member(client, "conformance member a"),
                                             indicator_ref(client.api, ghost)])
        response = client.post(GROUP, body)
        if response.status_code == 201:
            created.add(self.item_path(response.json()))
        error = client.expect(response, 400)
        assert ghost in json.dumps(error), f"the Error does not name the unknown member\n{describe_exchange(response)}"
        self.expect_selection(client, {"name": tag}, [])


# =========================================================================== measurement collection jobs


class TestMeasurementCollectionJob(PerformanceEntity):
    collection = JOB
    text_attribute = "jobId"
    group_attribute = "outputFormat"  # a free string in both versions; jobs have no name or description
    # A job's only dates are the server's (creationTime, lastModifiedTime), apart by milliseconds within a dataset,
    # while the generic date checks write their bounds to the second: test_filter_by_creation_time checks them.
    date_attribute = None
    nested_attribute = "scheduleDefinition.scheduleDefinitionStartTime"

    # ------------------------------------------------------------------ payloads

    def create_body(self, version: ApiVersion, client: TmfClient, tag: str) -> dict:
        return job_body(client, tag)

    def dataset_body(self, version: ApiVersion, client: TmfClient, group: str, index: int, rank: int) -> dict:
        # Schedule starts shared by 3 and 2 jobs, at minutes of 2099 no other run uses.
        start = START + timedelta(days=1, minutes=zlib.crc32(group.encode()) % 100000 * 2 + index % 2)
        return job_body(client, f"{group}-{index}", outputFormat=group, scheduleDefinition=schedule(version, start))

    def patch_bodies(self, version: ApiVersion, media_type: str, item: dict) -> dict:
        refs = item.get("performanceIndicatorSpecification", [])  # the measurable's two indicators
        first, second = refs[0]["id"], refs[1]["id"]
        only_second = [indicator_ref(version, second)]
        if version.major < 5 or media_type in ("application/json", MERGE):
            kind = {} if version.major < 5 else {"@type": "MeasurementCollectionJob"}
            return {
                "attributes": ({**kind, "granularity": "g_15mn", "reportingPeriod": "r_30mn"},
                               {"granularity": "g_15mn", "reportingPeriod": "r_30mn"}),
                "array replaced whole": ({**kind, "performanceIndicatorSpecification": only_second},
                                         {"performanceIndicatorSpecification": only_second}),
            }
        if media_type == JSON_PATCH:
            return {
                "replace, remove": (
                    [{"op": "replace", "path": "/granularity", "value": "g_15mn"},
                     {"op": "remove", "path": "/performanceIndicatorSpecification/0"},
                     {"op": "remove", "path": "/outputFormat"}],
                    {"granularity": "g_15mn", "performanceIndicatorSpecification": refs[1:], "outputFormat": ABSENT}),
            }
        if media_type == JSON_PATCH_QUERY:
            versioned = [{**r, "version": "2"} if r.get("id") == first else r for r in refs]
            renewed = indicator_ref(version, second, version="3")
            return {
                "query path": ([{"op": "replace", "path": f"/performanceIndicatorSpecification/version?id={first}",
                                 "value": "2"}],
                               {"performanceIndicatorSpecification": versioned}),
                "JSONPath": ([{"op": "replace", "value": renewed,
                               "path": f".performanceIndicatorSpecification[?(@.id=='{second}')]"}],
                             {"performanceIndicatorSpecification": refs[:1] + [renewed]}),
            }
        raise AssertionError(f"no PATCH payload for {media_type}")

    def invalid_create_bodies(self, version: ApiVersion, client: TmfClient, tag: str) -> dict:
        valid = self.create_body(version, client, tag)
        invalid = {
            "granularity outside its enumeration": {**valid, "granularity": "fortnightly"},
            "reportingPeriod outside its enumeration": {**valid, "reportingPeriod": "whenever"},
            "adminState outside its enumeration": {**valid, "adminState": "frozen"},
            "jobPriority is a string": {**valid, "jobPriority": "high"},
            "performanceIndicatorSpecification is not an array":
                {**valid, "performanceIndicatorSpecification": valid["performanceIndicatorSpecification"][0]},
        }
        if version.major >= 5:
            for name in ("@type", "consumingApplicationId", "producingApplicationId",
                         "performanceIndicatorSpecification"):
                invalid[f"missing required {name}"] = {k: v for k, v in valid.items() if k != name}
            invalid["scheduleDefinition is not an array"] = {**valid,
                                                             "scheduleDefinition": valid["scheduleDefinition"][0]}
        else:
            invalid["scheduleDefinition is an array"] = {**valid, "scheduleDefinition": [valid["scheduleDefinition"]]}
        return invalid

    def invalid_patch_bodies(self, version: ApiVersion, item: dict) -> dict:
        if version.major < 5:
            return {
                "granularity outside its enumeration": (V4_MEDIA_TYPE, {"granularity": "fortnightly"}),
                "adminState outside its enumeration": (V4_MEDIA_TYPE, {"adminState": "frozen"}),
                "executionState is the server's": (V4_MEDIA_TYPE, {"executionState": "completed"}),
                "a granularity that cannot be polled": (V4_MEDIA_TYPE, {"granularity": "g_1y"}),
            }
        kind = {"@type": "MeasurementCollectionJob"}
        return {
            "merge-patch: granularity outside its enumeration": (MERGE, {**kind, "granularity": "fortnightly"}),
            "merge-patch: executionState is the server's": (MERGE, {**kind, "executionState": "completed"}),
            "merge-patch: a granularity that cannot be polled": (MERGE, {**kind, "granularity": "g_1y"}),
            "json-patch: unknown op": (JSON_PATCH, [{"op": "frobnicate", "path": "/outputFormat", "value": "x"}]),
            "json-patch: an object instead of an array":
                (JSON_PATCH, {"op": "replace", "path": "/outputFormat", "value": "x"}),
            "json-patch: result has adminState outside its enumeration":
                (JSON_PATCH, [{"op": "replace", "path": "/adminState", "value": "frozen"}]),
            "json-patch-query: operation without path": (JSON_PATCH_QUERY, [{"op": "replace", "value": "x"}]),
        }

    def our_v4_patches(self, item: dict) -> dict:
        return {
            MERGE: ({"granularity": "g_15mn"}, {"granularity": "g_15mn"}),
            JSON_PATCH: ([{"op": "replace", "path": "/reportingPeriod", "value": "r_1h"},
                          {"op": "remove", "path": "/outputFormat"}],
                         {"reportingPeriod": "r_1h", "outputFormat": ABSENT}),
        }

    # ------------------------------------------------------------------ helpers of the job checks

    def new_job(self, client: TmfClient, created: Created, run_tag: str, what: str, **members) -> dict:
        tag = f"{self.tag(client, run_tag, what)}-{uuid.uuid4().hex[:6]}"
        return self.create(client, created, job_body(client, tag, **members))[1]

    def lock(self, client: TmfClient, item: dict, state: str):
        return merge_patch(client, self.item_path(item), "MeasurementCollectionJob", {"adminState": state})

    def fetch(self, client: TmfClient, item: dict) -> dict:
        return client.expect(client.get(self.item_path(item)), 200)

    # ------------------------------------------------------------------ life-cycle

    def test_created_job_is_acknowledged_with_its_record_and_endpoints(self, client, created, run_tag):
        """A new job is acknowledged and unlocked, dated, and carries a tracking record and data access endpoints
        that its version of the API serves (validated); what the server sets is not taken from the client."""
        tag = self.tag(client, run_tag, "acknowledged")
        body = job_body(client, tag, executionState="completed")  # server-owned: ignored
        job = self.create(client, created, body)[1]
        assert_carries({"executionState": "acknowledged", "adminState": "unlocked"}, job, "the new job")
        assert job.get("creationTime") and job.get("lastModifiedTime"), f"the job is not dated: {job}"
        records = job.get("trackingRecord") or []
        assert records, f"the new job has no tracking record: {job}"
        for record in records:
            fetched = client.expect(client.get(f"{RECORD}/{record['id']}"), 200)
            assert_carries({k: v for k, v in record.items() if k != "href"}, fetched, "the job's tracking record")
        endpoints = job.get("dataAccessEndpoint") or []
        assert endpoints, f"the new job has no data access endpoint: {job}"
        for endpoint in endpoints:
            assert str(endpoint.get("href", "")).startswith(client.base_url + ENDPOINT + "/"), \
                f"the endpoint's href {endpoint.get('href')!r} is not in {client.api.version} of the API"
            fetched = client.expect(client.get(endpoint["href"]), 200)
            assert fetched.get("id") == endpoint["id"] and fetched.get("uri") == endpoint.get("uri")

    def test_lock_and_unlock(self, client, created, run_tag):
        """The client locks a job (adminState) and the server suspends it (executionState pending); unlocking
        acknowledges it again.  Each change leaves a tracking record."""
        job = self.new_job(client, created, run_tag, "lock")
        locked = client.expect(self.lock(client, job, "locked"), 200)
        assert_carries({"adminState": "locked", "executionState": "pending"}, locked, "the locked job")
        assert_carries({"adminState": "locked", "executionState": "pending"}, self.fetch(client, job), "read back")
        unlocked = client.expect(self.lock(client, job, "unlocked"), 200)
        assert_carries({"adminState": "unlocked", "executionState": "acknowledged"}, unlocked, "the unlocked job")
        records = unlocked.get("trackingRecord") or []
        assert len(records) >= 3, f"created, locked and unlocked leave three tracking records: {records}"

    def test_job_created_locked_is_pending(self, client, created, run_tag):
        job = self.new_job(client, created, run_tag, "createdlocked", adminState="locked")
        assert_carries({"adminState": "locked", "executionState": "pending"}, job, "a job created locked")

    def test_execution_state_is_the_servers(self, client, created, run_tag):
        """A client setting executionState gets a 400 (an Error of the official document); the job is unchanged."""
        job = self.new_job(client, created, run_tag, "execstate")
        failures = []
        for state in ("completed", "cancelled", "inProgress"):
            try:
                error = client.expect(merge_patch(client, self.item_path(job), "MeasurementCollectionJob",
                                                  {"executionState": state}), 400)
                assert error.get("message") or error.get("reason"), "the Error does not say why"
            except AssertionError as problem:
                failures.append(f"[{state}] {problem}")
        assert not failures, "\n\n".join(failures)
        assert self.fetch(client, job).get("executionState") == "acknowledged", "a refused PATCH changed the job"

    def test_job_that_cannot_be_measured_is_400(self, client, created, run_tag):
        """Jobs valid against the official schema that the server cannot measure: 400 with an Error of the official
        document saying why, and nothing created."""
        tag = self.tag(client, run_tag, "unmeasurable")
        version = client.api
        cases = {
            "unknown indicator": {"performanceIndicatorSpecification": [
                indicator_ref(version, f"no-such-indicator-{uuid.uuid4()}")]},
            "unknown monitored object": {"monitoredInstancesCriteria": typed(
                version, "MonitoredInstancesCriteria", {"monitoredObjectInstances": [f"ghost-{uuid.uuid4()}"]})},
            "schedule ends before it starts": {"scheduleDefinition": schedule(version, START,
                                                                              START - timedelta(days=1))},
            "reporting period shorter than the granularity": {"granularity": "g_15mn", "reportingPeriod": "r_5mn"},
        }
        failures = []
        for label, change in cases.items():
            body = job_body(client, tag, **change)
            response = client.post(JOB, body)
            if response.status_code == 201:
                created.add(self.item_path(response.json()))
            try:
                error = client.expect(response, 400)
                assert error.get("message") or error.get("reason"), "the Error does not say what is wrong"
            except AssertionError as problem:
                failures.append(f"[{label}] {problem}")
        assert not failures, "\n\n".join(failures)
        self.expect_selection(client, {"jobId": tag}, [])

    def test_filter_by_creation_time(self, client, dataset):
        """creationTime.gt/.gte/.lt/.lte with the dataset's own instants (milliseconds apart), and sort by it."""
        group, items = dataset
        dated = sorted(((parse_instant(item["creationTime"]), item) for item in items), key=lambda pair: pair[0])
        middle_text = dated[2][1]["creationTime"]
        middle = parse_instant(middle_text)
        for operator, keep in (("gt", lambda when: when > middle), ("gte", lambda when: when >= middle),
                               ("lt", lambda when: when < middle), ("lte", lambda when: when <= middle)):
            self.expect_selection(client, {self.group_attribute: group, f"creationTime.{operator}": middle_text},
                                  [item for when, item in dated if keep(when)])
        self.expect_selection(client, {self.group_attribute: group, "creationTime.gt": dated[0][1]["creationTime"],
                                       "creationTime.lt": dated[-1][1]["creationTime"]},
                              [item for when, item in dated if dated[0][0] < when < dated[-1][0]])
        response, body = self.list_items(client, {self.group_attribute: group, "sort": "-creationTime"})
        times = [parse_instant(item["creationTime"]) for item in body]
        assert len(body) == len(items) and times == sorted(times, reverse=True), \
            f"sort=-creationTime did not order the jobs newest first\n{describe_exchange(response)}"

    def test_filter_by_execution_and_admin_state(self, client, created, run_tag):
        job = self.new_job(client, created, run_tag, "statefilter")
        tag = job["jobId"]
        self.expect_selection(client, {"jobId": tag, "executionState": "acknowledged"}, [job])
        self.expect_selection(client, {"jobId": tag, "executionState": "pending"}, [])
        client.expect(self.lock(client, job, "locked"), 200)
        self.expect_selection(client, {"jobId": tag, "executionState": "pending"}, [job])
        self.expect_selection(client, {"jobId": tag, "adminState": "locked"}, [job])
        self.expect_selection(client, {"jobId": tag, "executionState": "acknowledged,pending"}, [job])

    # ------------------------------------------------------------------ events

    def test_job_events_match_the_official_listener_schemas(self, client, created, run_tag):
        """A listener registered for every event receives MeasurementCollectionJobCreateEvent when a job is created,
        MeasurementCollectionJobAttributeValueChangeEvent and ...ExecutionStateChangeEvent (pending) when it is
        locked, and ...DeleteEvent when it is deleted; each is the request of the official listener operation for
        its type, about that job."""
        if not is_loopback(client.base_url):
            pytest.skip("the server under test must reach a callback on this machine (loopback only)")
        names = ("CreateEvent", "AttributeValueChangeEvent", "ExecutionStateChangeEvent", "DeleteEvent")
        wanted = {f"MeasurementCollectionJob{name}" for name in names}
        with EventListener() as listener:
            hub = {k: v for k, v in self.hub_body(client.api, listener.url).items() if k != "query"}  # all events
            subscription = client.expect(client.post(self.hub, hub), 201)
            try:
                tag = f"{self.tag(client, run_tag, 'events')}-{uuid.uuid4().hex[:6]}"
                response = client.post(JOB, job_body(client, tag))
                job = client.expect(response, 201)
                created.add(self.item_path(job))
                client.expect(self.lock(client, job, "locked"), 200)
                client.expect(client.delete(self.item_path(job)), 204)

                def about(received):  # a busy server may send events about other entities too
                    return [r for r in received if job["id"] in json.dumps(r[2])]

                listener.wait_for(lambda received: wanted <= {_event_type(r) for r in about(received)}, timeout=20)
                events = about(listener.received)
            finally:
                client.delete(f"{self.hub}/{subscription['id']}")
        received = [_event_type(r) for r in events]
        assert wanted <= set(received), f"expected {sorted(wanted)} within 20s, got {received}"
        problems = listener_event_problems(client, events)
        states = []
        for path, _content_type, event in events:
            event_type = _event_type((path, _content_type, event))
            subject = ((event.get("event") or {}) if isinstance(event, dict) else {}).get("measurementCollectionJob")
            if not isinstance(subject, dict) or subject.get("id") != job["id"]:
                problems.append(f"{event_type} posted to {path}: event.measurementCollectionJob is not the job "
                                f"{job['id']}")
                continue
            if event_type == "MeasurementCollectionJobCreateEvent" and subject.get("executionState") != "acknowledged":
                problems.append(f"{event_type}: the created job is {subject.get('executionState')!r}")
            if str(event_type).endswith("AttributeValueChangeEvent") and subject.get("adminState") != "locked":
                problems.append(f"{event_type}: the changed job is not locked ({subject.get('adminState')!r})")
            if event_type == "MeasurementCollectionJobExecutionStateChangeEvent":
                states.append(subject.get("executionState"))
        if "pending" not in states:
            problems.append(f"no ExecutionStateChangeEvent carries the locked job pending (states: {states})")
        assert not problems, "\n".join(problems)


# =========================================================================== tracking records and data access endpoints


class TestJobRecordsAndEndpoints:
    """trackingRecord and dataAccessEndpoint are written by the server for each job and read-only for clients: list
    and retrieve validated against the official document, filtered, selected and paged."""

    api = TMF628

    @pytest.fixture(scope="class")
    def job(self, client, run_tag):
        """A job created and then locked: two tracking records (created, locked) and its endpoints."""
        tag = f"{run_tag}-{client.api.version}-records-{uuid.uuid4().hex[:6]}"
        created = Created(client, [])
        try:
            job = client.expect(client.post(JOB, job_body(client, tag)), 201)
            created.add(f"{JOB}/{job['id']}")
            client.expect(merge_patch(client, f"{JOB}/{job['id']}", "MeasurementCollectionJob",
                                      {"adminState": "locked"}), 200)
            yield client.expect(client.get(f"{JOB}/{job['id']}"), 200)
        finally:
            created.cleanup()

    def list_items(self, client: TmfClient, collection: str, params: Any) -> tuple[Any, list[dict]]:
        response = client.get(collection, params=params)
        body = client.expect(response, 200)
        assert isinstance(body, list), f"a list must answer a JSON array\n{describe_exchange(response)}"
        assert header_int(response, "X-Result-Count") == len(body), \
            f"X-Result-Count differs from the number of items returned\n{describe_exchange(response)}"
        assert header_int(response, "X-Total-Count") >= len(body)
        return response, body

    def expect_ids(self, client: TmfClient, collection: str, params: Any, expected: list[str],
                   ordered: bool = False) -> list[dict]:
        response, body = self.list_items(client, collection, params)
        got = [item.get("id") for item in body]
        assert (got if ordered else sorted(got)) == (expected if ordered else sorted(expected)), \
            f"{client.url(collection, params)} selected {got}, expected {expected}\n{describe_exchange(response)}"
        assert header_int(response, "X-Total-Count") == len(expected), describe_exchange(response)
        return body

    # ------------------------------------------------------------------ tracking records

    def test_tracking_records_retrieve(self, client, job):
        records = job.get("trackingRecord") or []
        assert [r.get("description") for r in records] == ["job created", "job locked"], \
            f"a job created and locked has two tracking records, it has {records}"
        for record in records:
            fetched = client.expect(client.get(f"{RECORD}/{record['id']}"), 200)
            assert str(fetched.get("href", "")).endswith(f"{RECORD}/{record['id']}")
            assert_carries({k: v for k, v in record.items() if k != "href"}, fetched, "the retrieved tracking record")

    def test_tracking_records_list_and_filter(self, client, job):
        ids = [r["id"] for r in job["trackingRecord"]]
        self.expect_ids(client, RECORD, {"id": ",".join(ids)}, ids)
        locked = [r["id"] for r in job["trackingRecord"] if r.get("description") == "job locked"]
        self.expect_ids(client, RECORD, {"id": ",".join(ids), "description": "job locked"}, locked)
        self.expect_ids(client, RECORD, {"id": ",".join(ids), "description": "job locked",
                                         "time.lt": job["trackingRecord"][0]["time"]}, [])
        self.list_items(client, RECORD, {"limit": 5})  # whatever the server holds validates too

    def test_tracking_records_fields_and_paging(self, client, job):
        ids = [r["id"] for r in job["trackingRecord"]]
        response, body = self.list_items(client, RECORD, {"id": ",".join(ids), "fields": "description"})
        allowed = set(client.api.always_present) | {"description"}
        assert body and all(set(item) == allowed for item in body), \
            f"fields=description must return exactly {sorted(allowed)}\n{describe_exchange(response)}"
        entity = client.expect(client.get(f"{RECORD}/{ids[0]}", params={"fields": "time"}), 200)
        assert set(entity) == set(client.api.always_present) | {"time"}, f"fields=time gave {sorted(entity)}"
        self.expect_page(client, RECORD, ids, "time")

    def expect_page(self, client: TmfClient, collection: str, ids: list[str], sort: str) -> None:
        response, whole = self.list_items(client, collection, {"id": ",".join(ids), "sort": sort})
        order = [item["id"] for item in whole]
        response, page = self.list_items(client, collection, {"id": ",".join(ids), "sort": sort, "offset": 1,
                                                              "limit": 1})
        assert [item["id"] for item in page] == order[1:2], \
            f"offset=1&limit=1 over {order} gave {[i['id'] for i in page]}\n{describe_exchange(response)}"
        assert header_int(response, "X-Total-Count") == len(ids), describe_exchange(response)
        assert header_int(response, "X-Result-Count") == 1
        response, past = self.list_items(client, collection, {"id": ",".join(ids), "offset": len(ids)})
        assert past == [] and header_int(response, "X-Total-Count") == len(ids), describe_exchange(response)

    # ------------------------------------------------------------------ data access endpoints

    def test_data_access_endpoints_retrieve(self, client, job):
        endpoints = job.get("dataAccessEndpoint") or []
        assert endpoints, f"the job has no data access endpoint: {job}"
        for endpoint in endpoints:
            fetched = client.expect(client.get(f"{ENDPOINT}/{endpoint['id']}"), 200)
            assert_carries({k: v for k, v in endpoint.items() if k != "href"}, fetched, "the retrieved endpoint")
            assert fetched.get("uri"), f"an endpoint without uri: {fetched}"

    def test_data_access_endpoints_list_and_filter(self, client, job):
        endpoints = job["dataAccessEndpoint"]
        ids = [e["id"] for e in endpoints]
        self.expect_ids(client, ENDPOINT, {"id": ",".join(ids)}, ids)
        first = endpoints[0]
        self.expect_ids(client, ENDPOINT, {"id": ",".join(ids), "category": first["category"]},
                        [e["id"] for e in endpoints if e.get("category") == first["category"]])
        self.expect_ids(client, ENDPOINT, {"name": first["name"]}, [first["id"]])
        self.list_items(client, ENDPOINT, {"limit": 5})

    def test_data_access_endpoints_fields_and_paging(self, client, job):
        ids = [e["id"] for e in job["dataAccessEndpoint"]]
        response, body = self.list_items(client, ENDPOINT, {"id": ",".join(ids), "fields": "uri"})
        allowed = set(client.api.always_present) | {"uri"}
        assert len(body) == len(ids) and all(set(item) == allowed for item in body), \
            f"fields=uri must return exactly {sorted(allowed)}\n{describe_exchange(response)}"
        entity = client.expect(client.get(f"{ENDPOINT}/{ids[0]}", params={"fields": "category"}), 200)
        assert set(entity) == set(client.api.always_present) | {"category"}, f"fields=category gave {sorted(entity)}"
        self.expect_page(client, ENDPOINT, ids, "name")

    # ------------------------------------------------------------------ errors

    def test_unknown_ids_are_404(self, client):
        for collection in (RECORD, ENDPOINT):
            client.expect(client.get(f"{collection}/{uuid.uuid4()}"), 404)

    def test_unknown_filter_is_400(self, client):
        for collection in (RECORD, ENDPOINT):
            client.expect(client.get(collection, params={"colour": "blue"}), 400)

    def test_writes_are_refused(self, client, job):
        """The official documents have no write operation on these resources: 405, with an Error of the official
        document."""
        record = job["trackingRecord"][0]
        endpoint = job["dataAccessEndpoint"][0]
        error_schema = client.spec.schema_pointer("Error")
        failures = []
        for method, path, body in (("post", RECORD, {k: v for k, v in record.items() if k not in ("id", "href")}),
                                   ("delete", f"{RECORD}/{record['id']}", None),
                                   ("post", ENDPOINT, {"@type": "DataAccessEndpoint", "uri": "http://example.com"}),
                                   ("delete", f"{ENDPOINT}/{endpoint['id']}", None)):
            response = client.request(method, path, json_body=body, validate_request=False)
            if response.status_code != 405:
                failures.append(f"expected 405\n{describe_exchange(response)}")
                continue
            problems = client.spec.errors(error_schema, response.json())
            if problems:
                failures.append(f"the 405 body is no official Error: {problems}\n{describe_exchange(response)}")
        assert not failures, "\n\n".join(failures)
        client.expect(client.get(f"{RECORD}/{record['id']}"), 200)
        client.expect(client.get(f"{ENDPOINT}/{endpoint['id']}"), 200)


# =========================================================================== performance measurements


class TestPerformanceMeasurement:
    """performanceMeasurement: the values a job measured, read-only.  On our server the module writes ten values of
    a locked job (five minutes of two indicators, one of them missing) and checks list, retrieve, filters,
    `fields=` and paging on them; on another server only what it holds is validated."""

    api = TMF628

    @pytest.fixture(scope="class")
    def measured(self, client, run_tag):
        """(job, monitored object, indicator ids) with ten stored values; the job is locked: nothing is collected."""
        if not client.pm.ours:
            pytest.skip("measurements are written to the server's time series, which no API writes: only our own "
                        "server's database is written")
        from tmf_oss.performance.samples import Sample, SeriesKey

        tag = f"{run_tag}-{client.api.version}-measured-{uuid.uuid4().hex[:6]}"
        measurable = client.pm.measurable()
        first, second = measurable.indicators
        created = Created(client, [])
        try:
            job = client.expect(client.post(JOB, job_body(client, tag, [first, second], adminState="locked")), 201)
            created.add(f"{JOB}/{job['id']}")
            samples = []
            for minute in range(5):
                start = T0 + timedelta(minutes=minute)
                end = start + timedelta(minutes=1)
                missing = minute == MISSING_MINUTE
                samples.append(Sample(SeriesKey(job["id"], measurable.monitored_object, first), start, end,
                                      None if missing else 10.0 * minute, MISSING_REASON if missing else None,
                                      indicator_name="first indicator", object_name="conformance interface"))
                samples.append(Sample(SeriesKey(job["id"], measurable.monitored_object, second), start, end,
                                      1000.0 + minute, None, indicator_name="second indicator",
                                      object_name="conformance interface"))
            client.pm.write_samples(samples)
            yield job, measurable.monitored_object, (first, second)
        finally:
            created.cleanup()

    def filters(self, client: TmfClient) -> dict[str, str]:
        """The query attributes of the object and the indicator in each version."""
        if client.api.major >= 5:
            return {"object": "tag.monitoredObject.id",
                    "indicator": "performanceIndicatorValue.performanceIndicatorSpecification.id"}
        return {"object": "sourceSystem.id", "indicator": "performanceIndicatorSpecification.id"}

    def observed(self, client: TmfClient, item: dict) -> Any:
        if client.api.major >= 5:
            values = item.get("performanceIndicatorValue") or [{}]
            return values[0].get("observedValue")
        return item.get("observedValue")

    def indicator_of(self, client: TmfClient, item: dict) -> Any:
        if client.api.major >= 5:
            values = item.get("performanceIndicatorValue") or [{}]
            return (values[0].get("performanceIndicatorSpecification") or {}).get("id")
        return (item.get("performanceIndicatorSpecification") or {}).get("id")

    def list_items(self, client: TmfClient, params: Any) -> tuple[Any, list[dict]]:
        response = client.get(MEASUREMENT, params=params)
        body = client.expect(response, 200)
        assert isinstance(body, list), f"a list must answer a JSON array\n{describe_exchange(response)}"
        assert header_int(response, "X-Result-Count") == len(body), describe_exchange(response)
        assert header_int(response, "X-Total-Count") >= len(body)
        return response, body

    def test_list_and_retrieve_whatever_is_held(self, client):
        _, body = self.list_items(client, {"limit": 5})
        for item in body[:2]:
            fetched = client.expect(client.get(f"{MEASUREMENT}/{item['id']}"), 200)
            assert fetched["id"] == item["id"]

    def test_list_of_a_job(self, client, measured):
        job, monitored, indicators = measured
        response, body = self.list_items(client, {"measurementCollectionJob.id": job["id"]})
        assert len(body) == 10 and header_int(response, "X-Total-Count") == 10, \
            f"the job has ten stored values\n{describe_exchange(response)}"
        assert all((item.get("measurementCollectionJob") or {}).get("id") == job["id"] for item in body)
        assert sorted({self.indicator_of(client, item) for item in body}) == sorted(indicators)

    def test_retrieve(self, client, measured):
        job, _, _ = measured
        _, body = self.list_items(client, {"measurementCollectionJob.id": job["id"]})
        for item in body:
            fetched = client.expect(client.get(f"{MEASUREMENT}/{item['id']}"), 200)
            assert fetched == item, f"GET {item['id']} differs from the list's item:\n{fetched}\n{item}"

    def test_filter_by_indicator_and_interval_sorted(self, client, measured):
        """The first indicator between 10:01 (included) and 10:04 (excluded), newest first: three values, the
        missing one without observedValue."""
        job, monitored, (first, _) = measured
        params = {self.filters(client)["indicator"]: first, "measurementCollectionJob.id": job["id"],
                  "validFor.startDateTime.gte": _iso(T0 + timedelta(minutes=1)),
                  "validFor.startDateTime.lt": _iso(T0 + timedelta(minutes=4)), "sort": "-validFor.startDateTime"}
        response, body = self.list_items(client, params)
        starts = [item["validFor"]["startDateTime"] for item in body]
        expected = [T0 + timedelta(minutes=m) for m in (3, 2, 1)]
        assert [datetime.fromisoformat(s.replace("Z", "+00:00")) for s in starts] == expected, \
            f"expected the intervals {[_iso(e) for e in expected]}, got {starts}\n{describe_exchange(response)}"
        assert header_int(response, "X-Total-Count") == 3
        missing, present = body[0], body[1]
        assert self.observed(client, missing) is None, f"a missing value has no observedValue: {missing}"
        assert float(self.observed(client, present)) == 20.0, f"the 10:02 value is 20: {present}"

    def test_filter_by_monitored_object(self, client, measured):
        job, monitored, (_, second) = measured
        self.list_and_count(client, {self.filters(client)["object"]: monitored,
                                     "measurementCollectionJob.id": job["id"]}, 10)
        self.list_and_count(client, {self.filters(client)["object"]: monitored,
                                     self.filters(client)["indicator"]: second,
                                     "measurementCollectionJob.id": job["id"]}, 5)
        self.list_and_count(client, {self.filters(client)["object"]: f"no-such-object-{uuid.uuid4()}",
                                     "measurementCollectionJob.id": job["id"]}, 0)

    def list_and_count(self, client: TmfClient, params: dict, count: int) -> list[dict]:
        response, body = self.list_items(client, params)
        assert len(body) == count and header_int(response, "X-Total-Count") == count, \
            f"expected {count} measurements\n{describe_exchange(response)}"
        return body

    def test_fields(self, client, measured):
        job, _, _ = measured
        response, body = self.list_items(client, {"measurementCollectionJob.id": job["id"], "fields": "validFor",
                                                  "limit": 3})
        allowed = set(client.api.always_present) | {"validFor"}
        assert len(body) == 3 and all(set(item) == allowed for item in body), \
            f"fields=validFor must return exactly {sorted(allowed)}\n{describe_exchange(response)}"
        entity = client.expect(client.get(f"{MEASUREMENT}/{body[0]['id']}", params={"fields": "validFor"}), 200)
        assert set(entity) == allowed, f"fields=validFor gave {sorted(entity)}"

    def test_paging(self, client, measured):
        job, _, _ = measured
        params = {"measurementCollectionJob.id": job["id"], "sort": "validFor.startDateTime"}
        _, whole = self.list_items(client, params)
        response, page = self.list_items(client, {**params, "offset": 8, "limit": 5})
        assert [item["id"] for item in page] == [item["id"] for item in whole[8:]], describe_exchange(response)
        assert header_int(response, "X-Result-Count") == 2 and header_int(response, "X-Total-Count") == 10
        response, past = self.list_items(client, {**params, "offset": 10, "limit": 5})
        assert past == [] and header_int(response, "X-Total-Count") == 10, describe_exchange(response)

    def test_unknown_id_is_404(self, client):
        client.expect(client.get(f"{MEASUREMENT}/999999-1700000000"), 404)
        client.expect(client.get(f"{MEASUREMENT}/{uuid.uuid4()}"), 404)

    def test_bad_queries_are_400(self, client):
        failures = []
        for params in ({"colour": "blue"}, {"validFor.startDateTime.gt": "yesterday"}, {"fields": "nonsense"}):
            try:
                client.expect(client.get(MEASUREMENT, params=params), 400)
            except AssertionError as problem:
                failures.append(str(problem))
        assert not failures, "\n\n".join(failures)


# =========================================================================== query tasks (v4)


class TestQueryTask:
    """The official v4 document lists query tasks (GET only: nothing creates one).  Our server does not serve them
    (test_spec_parity.py): their paths answer 404 with an Error of the official document.  A server that serves
    them answers a list and 404 for an unknown id, validated as well."""

    api = ApiDefinition("TMF628", (TMF628.version("v4"),))

    def test_query_tasks(self, client):
        response = client.get(QUERY_TASK)
        if response.status_code == 200:
            assert isinstance(client.expect(response, 200), list), describe_exchange(response)
        else:
            client.expect(response, 404)
        client.expect(client.get(f"{QUERY_TASK}/{uuid.uuid4()}"), 404)


# =========================================================================== the official v5 quirk


class TestPerformanceOfficialV5CharacteristicQuirk:
    """The one adjustment of the official v5 document (module docstring), shown to be exactly that: the file names
    StringCharacteristic without defining it, and what is served differs from the unmodified official document in
    the `@type` of its characteristics only."""

    api = ApiDefinition("TMF628", (TMF628.version("v5"),))

    def test_string_characteristic_is_named_but_not_defined(self, client, official_root):
        official = OfficialSpec.load(client.spec.source)  # unmodified (the client's copy is adjusted)
        schemas = official.document["components"]["schemas"]
        assert "StringCharacteristic" not in schemas
        assert "StringCharacteristic" in json.dumps(schemas["Characteristic"]), \
            "the official Characteristic names its subclass StringCharacteristic"
        assert list(schemas["Characteristic"]["discriminator"]["mapping"]) == ["Characteristic"]
        tmf639 = official_root / "tmf639/TMF639-Resource_Inventory_Management-v5.0.0.oas.yaml"
        if tmf639.is_file():
            defined = OfficialSpec.load(tmf639).document["components"]["schemas"]["StringCharacteristic"]
            assert defined == STRING_CHARACTERISTIC, "the adjustment is not TMF639 v5.0.0's StringCharacteristic"

    def test_the_characteristic_type_is_the_only_difference(self, client, created, run_tag):
        official = OfficialSpec.load(client.spec.source)
        job = client.expect(client.post(JOB, job_body(client, f"{run_tag}-v5-quirk")), 201)
        created.add(f"{JOB}/{job['id']}")
        record = client.expect(client.get(f"{RECORD}/{job['trackingRecord'][0]['id']}"), 200)
        endpoint = client.expect(client.get(f"{ENDPOINT}/{job['dataAccessEndpoint'][0]['id']}"), 200)
        not_defined = "@type 'StringCharacteristic' names no schema of the document"
        for name, entity, member in (("TrackingRecord", record, "characteristic"),
                                     ("DataAccessEndpoint", endpoint, "resourceCharacteristic")):
            characteristics = entity.get(member) or []
            assert characteristics and all(c.get("@type") == "StringCharacteristic" for c in characteristics), \
                f"the served {name} has no StringCharacteristic: drop the adjustment of this module? {entity}"
            errors = official.errors(official.schema_pointer(name), entity)
            assert errors and all(not_defined in e for e in errors), \
                f"the unmodified official {name} schema should refuse the characteristic @type only, got: {errors}"
            assert not client.spec.errors(client.spec.schema_pointer(name), entity)

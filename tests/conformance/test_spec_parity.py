"""Our OpenAPI documents against the official TM Forum ones.

To cover another API, add one line to SPEC_CASES (and, if the official
release ships request samples, lines to SAMPLE_CASES).

The official files are reference data outside the repository. They are
looked up in ``$TMF_OFFICIAL_DIR`` (default ``<repo>/../shared/tmf-official``);
tests that need them are skipped when they are absent.
"""

from __future__ import annotations

import glob
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from jsonschema import Draft4Validator
from jsonschema.validators import extend
from openapi_schema_validator import OAS30Validator

try:  # package import (tests/conformance has an __init__.py)
    from . import spec_compare as sc
except ImportError:  # pragma: no cover - other pytest import modes
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import spec_compare as sc  # type: ignore[no-redef]

REPO_ROOT = Path(__file__).resolve().parents[2]
OFFICIAL_DIR = Path(
    os.environ.get("TMF_OFFICIAL_DIR") or REPO_ROOT.parent / "shared" / "tmf-official"
)


@dataclass(frozen=True)
class SpecCase:
    api: str
    version: str
    official: str  # relative to OFFICIAL_DIR
    ours: str  # relative to the repository root
    # Official paths we deliberately do not serve (a part of the API out of scope); they and the schemas only
    # they use are left out of the comparison and listed as omitted.
    not_served: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        return f"{self.api}-{self.version}"


SPEC_CASES = [
    SpecCase("TMF639", "v4", "tmf639/TMF639_Resource_Inventory_Management_API_v4.0.0_swagger.json",
             "specs/tmf639/resource-inventory-v4.yaml"),
    SpecCase("TMF639", "v5", "tmf639/TMF639-Resource_Inventory_Management-v5.0.0.oas.yaml",
             "specs/tmf639/resource-inventory-v5.yaml"),
    SpecCase("TMF642", "v4", "tmf642/TMF642-Alarm-v4.0.0.swagger.json", "specs/tmf642/alarm-management-v4.yaml"),
    SpecCase("TMF642", "v5", "tmf642/TMF642_Alarm_v5.0.1.oas.yaml", "specs/tmf642/alarm-management-v5.yaml"),
    SpecCase("TMF641", "v4", "tmf641/TMF641-ServiceOrdering-v4.1.0.swagger.json",
             "specs/tmf641/service-ordering-v4.yaml"),
    SpecCase("TMF638", "v5", "tmf638/TMF638-Service_Inventory_Management-v5.0.0.oas.yaml",
             "specs/tmf638/service-inventory-v5.yaml"),
    # Service specifications only: catalogs, categories, candidates and import/export jobs are out of scope.
    SpecCase("TMF633", "v4", "tmf633/TMF633-ServiceCatalog-v4.0.0.swagger.json",
             "specs/tmf633/service-catalog-v4.yaml",
             not_served=frozenset({
                 "/serviceCatalog", "/serviceCatalog/{id}", "/serviceCategory", "/serviceCategory/{id}",
                 "/serviceCandidate", "/serviceCandidate/{id}", "/importJob", "/importJob/{id}",
                 "/exportJob", "/exportJob/{id}",
                 "/listener/serviceCatalogCreateEvent", "/listener/serviceCatalogChangeEvent",
                 "/listener/serviceCatalogBatchEvent", "/listener/serviceCatalogDeleteEvent",
                 "/listener/serviceCategoryCreateEvent", "/listener/serviceCategoryChangeEvent",
                 "/listener/serviceCategoryDeleteEvent", "/listener/serviceCandidateCreateEvent",
                 "/listener/serviceCandidateChangeEvent", "/listener/serviceCandidateDeleteEvent",
             })),
    SpecCase("TMF628", "v5", "tmf628/TMF628_Performance-v5.0.0.oas.yaml",
             "specs/tmf628/performance-management-v5.yaml"),
    # The ODA Asset Build variant of v4.0.0 (it has performanceMeasurement and dataAccessEndpoint). It offers no
    # way to create a query task, so query tasks and their events are not served.
    SpecCase("TMF628", "v4", "tmf628/TMF628-Performance-v4.0.0.ODA-Asset-Build-variant.swagger.json",
             "specs/tmf628/performance-management-v4.yaml",
             not_served=frozenset({
                 "/queryTask", "/queryTask/{id}",
                 "/listener/queryTaskCreateEvent", "/listener/queryTaskExecutionStateChangeEvent",
             })),
]

# Use as SampleCase.sample to take the request examples embedded in the
# official document for that operation instead of sample files.
EMBEDDED = "<examples embedded in the official document>"


@dataclass(frozen=True)
class SampleCase:
    spec: str  # SpecCase.key
    sample: str  # glob relative to OFFICIAL_DIR, or EMBEDDED
    method: str
    path: str
    media_type: str = "application/json"


_V5 = "tmf639/samples-v5-from-oas"
_V5_638 = "tmf638/samples-v5-from-oas"
_V5_628 = "tmf628/samples-v5-from-oas"
SAMPLE_CASES = [
    SampleCase("TMF639-v5", f"{_V5}/CreateResource_with_references_to_SubResource_request.json", "POST", "/resource"),
    SampleCase("TMF639-v5", f"{_V5}/updateResource_using_json_request.json", "PATCH", "/resource/{id}"),
    SampleCase("TMF639-v5", f"{_V5}/updateResource_using_merge-patch_json_request.json", "PATCH", "/resource/{id}",
               "application/merge-patch+json"),
    SampleCase("TMF639-v5", f"{_V5}/updateResource_using_json-patch_json_request.json", "PATCH", "/resource/{id}",
               "application/json-patch+json"),
    SampleCase("TMF639-v5", f"{_V5}/updateResource_using_json-patch-query_json_request.json", "PATCH",
               "/resource/{id}", "application/json-patch-query+json"),
    SampleCase("TMF639-v5", f"{_V5}/ResourceCreateEvent_request.json", "POST", "/listener/resourceCreateEvent"),
    SampleCase("TMF639-v5", f"{_V5}/ResourceAttributeValueChangeEvent_request.json", "POST",
               "/listener/resourceAttributeValueChangeEvent"),
    SampleCase("TMF639-v5", f"{_V5}/ResourceStateChangeEvent_request.json", "POST",
               "/listener/resourceStateChangeEvent"),
    SampleCase("TMF639-v5", f"{_V5}/ResourceDeleteEvent_request.json", "POST", "/listener/resourceDeleteEvent"),
    SampleCase("TMF639-v5", EMBEDDED, "POST", "/hub"),
    SampleCase("TMF639-v4", "tmf639/samples-v4/*.json", "POST", "/resource"),
    SampleCase("TMF642-v4", "tmf642/samples-v4/Alarm.example.json", "POST", "/alarm"),
    SampleCase("TMF642-v4", "tmf642/samples-v4/AckAlarms.example.json", "POST", "/ackAlarms"),
    SampleCase("TMF642-v4", "tmf642/samples-v4/UnAckAlarms.example.json", "POST", "/unAckAlarms"),
    SampleCase("TMF642-v4", "tmf642/samples-v4/ClearAlarms.example.json", "POST", "/clearAlarms"),
    SampleCase("TMF642-v4", "tmf642/samples-v4/CommentAlarms.example.json", "POST", "/commentAlarms"),
    SampleCase("TMF642-v4", "tmf642/samples-v4/GroupAlarms.example.json", "POST", "/groupAlarms"),
    SampleCase("TMF642-v4", "tmf642/samples-v4/UnGroupAlarms.example.json", "POST", "/unGroupAlarms"),
    SampleCase("TMF642-v5", "tmf642/samples-v5-from-oas/Alarm_create_example_01_request.json", "POST", "/alarm"),
    SampleCase("TMF642-v5", "tmf642/samples-v5-from-oas/Alarm_partialupdate_example_11_request.json", "PATCH",
               "/alarm/{id}"),
    SampleCase("TMF642-v5", "tmf642/samples-v5-from-oas/Alarm_partialupdate_example_12_request.json", "PATCH",
               "/alarm/{id}", "application/merge-patch+json"),
    SampleCase("TMF642-v5", "tmf642/samples-v5-from-oas/Alarm_partialupdate_example_01_request.json", "PATCH",
               "/alarm/{id}", "application/json-patch+json"),
    SampleCase("TMF642-v5", "tmf642/samples-v5-from-oas/Alarm_partialupdate_example_21_request.json", "PATCH",
               "/alarm/{id}", "application/json-patch+json"),
    SampleCase("TMF642-v5", "tmf642/samples-v5-from-oas/Alarm_partialupdate_example_31_request.json", "PATCH",
               "/alarm/{id}", "application/json-patch-query+json"),
    SampleCase("TMF642-v5", "tmf642/samples-v5-from-oas/AckAlarm_create_example_01_request.json", "POST",
               "/ackAlarm"),
    SampleCase("TMF642-v5", "tmf642/samples-v5-from-oas/UnAckAlarm_create_example_request.json", "POST",
               "/unAckAlarm"),
    SampleCase("TMF642-v5", "tmf642/samples-v5-from-oas/ClearAlarm_create_example_request.json", "POST",
               "/clearAlarm"),
    SampleCase("TMF642-v5", "tmf642/samples-v5-from-oas/CommentAlarm_create_example_request.json", "POST",
               "/commentAlarm"),
    SampleCase("TMF642-v5", "tmf642/samples-v5-from-oas/GroupAlarm_create_example_request.json", "POST",
               "/groupAlarm"),
    SampleCase("TMF642-v5", "tmf642/samples-v5-from-oas/UnGroupAlarm_create_example_request.json", "POST",
               "/unGroupAlarm"),
    # The official file attaches one create and one state-change event example to every such listener;
    # both describe an unGroupAlarm task, so they are checked where they belong.
    SampleCase("TMF642-v5", "tmf642/samples-v5-from-oas/Create_request.json", "POST",
               "/listener/unGroupAlarmCreateEvent"),
    SampleCase("TMF642-v5", "tmf642/samples-v5-from-oas/StateChange_request.json", "POST",
               "/listener/unGroupAlarmStateChangeEvent"),
    SampleCase("TMF642-v5", "tmf642/samples-v5-from-oas/AttributeValueChange_request.json", "POST",
               "/listener/alarmAttributeValueChangeEvent"),
    SampleCase("TMF642-v5", "tmf642/samples-v5-from-oas/Delete_request.json", "POST", "/listener/alarmDeleteEvent"),
    SampleCase("TMF642-v5", EMBEDDED, "POST", "/hub"),
    SampleCase("TMF641-v4", "tmf641/samples-v4/ServiceOrder.example.json", "POST", "/serviceOrder"),
    SampleCase("TMF641-v4", "tmf641/samples-v4/CancelServiceOrder.example.json", "POST", "/cancelServiceOrder"),
    SampleCase("TMF638-v5", f"{_V5_638}/Create_Service*_request.json", "POST", "/service"),
    SampleCase("TMF638-v5", f"{_V5_638}/Service_partialupdate_example_31_request.json", "PATCH", "/service/{id}"),
    SampleCase("TMF638-v5", f"{_V5_638}/Service_partialupdate_example_01_request.json", "PATCH", "/service/{id}",
               "application/merge-patch+json"),
    SampleCase("TMF638-v5", f"{_V5_638}/Service_partialupdate_example_11_request.json", "PATCH", "/service/{id}",
               "application/json-patch+json"),
    SampleCase("TMF638-v5", f"{_V5_638}/Service_partialupdate_example_21_request.json", "PATCH", "/service/{id}",
               "application/json-patch-query+json"),
    # The official create and attribute-value-change event examples send the validator of the official
    # document into endless recursion (discriminators over the party model), so they are not listed.
    SampleCase("TMF638-v5", f"{_V5_638}/StateChange_request.json", "POST", "/listener/serviceStateChangeEvent"),
    SampleCase("TMF638-v5", f"{_V5_638}/OperatingStatusChange_request.json", "POST",
               "/listener/serviceOperatingStatusChangeEvent"),
    SampleCase("TMF638-v5", f"{_V5_638}/Delete_request.json", "POST", "/listener/serviceDeleteEvent"),
    SampleCase("TMF628-v5", f"{_V5_628}/MeasurementCollectionJobCreate_request.json", "POST",
               "/measurementCollectionJob"),
    SampleCase("TMF628-v5", f"{_V5_628}/updateMeasurementCollectionJob_using_json_request.json", "PATCH",
               "/measurementCollectionJob/{id}"),
    SampleCase("TMF628-v5", f"{_V5_628}/updateMeasurementCollectionJob_using_merge-patch_json_request.json", "PATCH",
               "/measurementCollectionJob/{id}", "application/merge-patch+json"),
    SampleCase("TMF628-v5", f"{_V5_628}/updateMeasurementCollectionJob_using_json-patch_json_request.json", "PATCH",
               "/measurementCollectionJob/{id}", "application/json-patch+json"),
    SampleCase("TMF628-v5", f"{_V5_628}/updateMeasurementCollectionJob_using_json-patch-query_json_request.json",
               "PATCH", "/measurementCollectionJob/{id}", "application/json-patch-query+json"),
    SampleCase("TMF628-v5", f"{_V5_628}/PerformanceIndicatorSpecification_create_example__request.json", "POST",
               "/performanceIndicatorSpecification"),
    SampleCase("TMF628-v5", f"{_V5_628}/updatePerformanceIndicatorSpecification_using_json_request.json", "PATCH",
               "/performanceIndicatorSpecification/{id}"),
    SampleCase("TMF628-v5", f"{_V5_628}/updatePerformanceIndicatorSpecification_using_merge-patch_json_request.json",
               "PATCH", "/performanceIndicatorSpecification/{id}", "application/merge-patch+json"),
    SampleCase("TMF628-v5", f"{_V5_628}/updatePerformanceIndicatorSpecification_using_json-patch_json_request.json",
               "PATCH", "/performanceIndicatorSpecification/{id}", "application/json-patch+json"),
    SampleCase("TMF628-v5",
               f"{_V5_628}/updatePerformanceIndicatorSpecification_using_json-patch-query_json_request.json",
               "PATCH", "/performanceIndicatorSpecification/{id}", "application/json-patch-query+json"),
    SampleCase("TMF628-v5", f"{_V5_628}/PerformanceIndicatorGroupSpecification_create_example__request.json", "POST",
               "/performanceIndicatorGroupSpecification"),
    SampleCase("TMF628-v5", f"{_V5_628}/updatePerformanceIndicatorGroupSpecification_using_json_request.json",
               "PATCH", "/performanceIndicatorGroupSpecification/{id}"),
    SampleCase("TMF628-v5",
               f"{_V5_628}/updatePerformanceIndicatorGroupSpecification_using_merge-patch_json_request.json",
               "PATCH", "/performanceIndicatorGroupSpecification/{id}", "application/merge-patch+json"),
    SampleCase("TMF628-v5",
               f"{_V5_628}/updatePerformanceIndicatorGroupSpecification_using_json-patch_json_request.json",
               "PATCH", "/performanceIndicatorGroupSpecification/{id}", "application/json-patch+json"),
    SampleCase("TMF628-v5",
               f"{_V5_628}/updatePerformanceIndicatorGroupSpecification_using_json-patch-query_json_request.json",
               "PATCH", "/performanceIndicatorGroupSpecification/{id}", "application/json-patch-query+json"),
    SampleCase("TMF628-v5", f"{_V5_628}/MeasurementCollectionJobCreateEvent_request.json", "POST",
               "/listener/measurementCollectionJobCreateEvent"),
    SampleCase("TMF628-v5", f"{_V5_628}/MeasurementCollectionJobAttributeValueChangeEvent_request.json", "POST",
               "/listener/measurementCollectionJobAttributeValueChangeEvent"),
    SampleCase("TMF628-v5", f"{_V5_628}/MeasurementCollectionJobExecutionStateChangeEvent_request.json", "POST",
               "/listener/measurementCollectionJobExecutionStateChangeEvent"),
    SampleCase("TMF628-v5", f"{_V5_628}/MeasurementCollectionJobDeleteEvent_request.json", "POST",
               "/listener/measurementCollectionJobDeleteEvent"),
    SampleCase("TMF628-v5", f"{_V5_628}/MeasurementCollectionJobFilesReadyEvent_request.json", "POST",
               "/listener/measurementCollectionJobFilesReadyEvent"),
    SampleCase("TMF628-v5", f"{_V5_628}/MeasurementCollectionJobFilesPreparationErrorEvent_request.json", "POST",
               "/listener/measurementCollectionJobFilesPreparationErrorEvent"),
    SampleCase("TMF628-v5", f"{_V5_628}/PerformanceMeasurementCreateEvent_request.json", "POST",
               "/listener/performanceMeasurementCreateEvent"),
    SampleCase("TMF628-v5", f"{_V5_628}/PerformanceMeasurementCollectionReady_request.json", "POST",
               "/listener/performanceMeasurementCollectionReadyEvent"),
    SampleCase("TMF628-v5", EMBEDDED, "POST", "/hub"),
]

_SPECS = {case.key: case for case in SPEC_CASES}


def _official_path(case: SpecCase) -> Path:
    return OFFICIAL_DIR / case.official


def _require_official(case: SpecCase) -> Path:
    if not OFFICIAL_DIR.is_dir():
        pytest.skip(f"official TM Forum files not found: {OFFICIAL_DIR} is absent (set TMF_OFFICIAL_DIR)")
    path = _official_path(case)
    if not path.is_file():
        pytest.skip(f"official file {case.official} not found under {OFFICIAL_DIR}")
    return path


_DOC_CACHE: dict[Path, dict] = {}


def _load(path: Path) -> dict:
    if path not in _DOC_CACHE:
        _DOC_CACHE[path] = sc.load_document(path)
    return _DOC_CACHE[path]


# --------------------------------------------------------------------------- our documents


@pytest.mark.parametrize("case", SPEC_CASES, ids=lambda c: c.key)
def test_our_spec_is_valid_openapi_30(case: SpecCase) -> None:
    from openapi_spec_validator import OpenAPIV30SpecValidator

    doc = _load(REPO_ROOT / case.ours)
    assert str(doc.get("openapi", "")).startswith("3.0."), doc.get("openapi")
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in OpenAPIV30SpecValidator(doc).iter_errors()]
    assert not errors, "\n".join(errors)


def _walk(node, path=""):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}/{index}")


@pytest.mark.parametrize("case", SPEC_CASES, ids=lambda c: c.key)
def test_our_spec_stays_open_to_extension(case: SpecCase) -> None:
    """Clients send subclass attributes; no schema may close its property set."""
    doc = _load(REPO_ROOT / case.ours)
    closed = [p for p, node in _walk(doc) if node.get("additionalProperties") is False]
    assert not closed, f"additionalProperties: false at {closed}"


@pytest.mark.parametrize("case", SPEC_CASES, ids=lambda c: c.key)
def test_our_spec_loads_in_connexion(case: SpecCase) -> None:
    connexion = pytest.importorskip("connexion")
    app = connexion.AsyncApp(__name__)
    app.add_api(str(REPO_ROOT / case.ours), resolver_error=501, validate_responses=False)


# --------------------------------------------------------------------------- parity


@pytest.mark.parametrize("case", SPEC_CASES, ids=lambda c: c.key)
def test_spec_matches_official(case: SpecCase) -> None:
    official = _require_official(case)
    result = sc.compare_specs_detailed(official, REPO_ROOT / case.ours, case.not_served)
    print(f"\n{case.key}: {len(result.extensions)} extension(s), {len(result.notes)} note(s), "
          f"{len(result.omitted)} deliberately omitted")
    for line in result.omitted:
        print(f"  omitted: {line}")
    for line in result.extensions:
        print(f"  extension: {line}")
    for line in result.notes:
        print(f"  note: {line}")
    assert not result.differences, (
        f"{case.ours} differs from the official {case.official} in "
        f"{len(result.differences)} place(s):\n" + "\n".join(result.differences)
    )


def _prose(doc: dict) -> set[str]:
    texts = set()
    for _, node in _walk(doc):
        for key in ("description", "summary", "title"):
            value = node.get(key)
            if isinstance(value, str) and len(value.strip()) > 25:
                texts.add(" ".join(value.split()).lower())
    return texts


def _example_values(doc: dict) -> set[str]:
    """Example payloads (long enough to be worth protecting) found in a document."""
    values = []
    for _, node in _walk(doc):
        if "example" in node:
            values.append(node["example"])
        if isinstance(node.get("examples"), dict):
            values += [e["value"] for e in node["examples"].values() if isinstance(e, dict) and "value" in e]
    dumped = (json.dumps(v, sort_keys=True) for v in values)
    return {v for v in dumped if len(v) >= 20}


@pytest.mark.parametrize("case", SPEC_CASES, ids=lambda c: c.key)
def test_spec_is_written_in_our_own_words(case: SpecCase) -> None:
    official_path = _require_official(case)
    official, ours = _load(official_path), _load(REPO_ROOT / case.ours)
    copied = sorted(_prose(official) & _prose(ours))
    assert not copied, "descriptions copied from the official document:\n" + "\n".join(copied)
    copied_examples = _example_values(official) & _example_values(ours)
    assert not copied_examples, f"examples copied from the official document: {sorted(copied_examples)}"
    assert official_path.read_bytes() != (REPO_ROOT / case.ours).read_bytes()


# --------------------------------------------------------------------------- official samples


def _plain_all_of(validator, all_of, instance, schema):
    # openapi-schema-validator follows a discriminator found next to allOf,
    # which loops forever on TM Forum schemas whose mapping names the schema
    # itself (Resource -> Resource). allOf is evaluated as plain JSON Schema;
    # discriminators on oneOf/anyOf keep their OpenAPI meaning.
    for index, subschema in enumerate(all_of):
        yield from validator.descend(instance, subschema, schema_path=index)


OAS30SampleValidator = extend(OAS30Validator, {"allOf": _plain_all_of})


def _errors(validator_cls, root: dict, instance, format_checker) -> list[str]:
    validator = validator_cls(root, format_checker=format_checker)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}"
        for e in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    ]


def _official_errors(doc: dict, schema, instance) -> list[str]:
    root = sc.validation_root(doc, schema)
    if str(doc.get("swagger", "")).startswith("2"):
        return _errors(Draft4Validator, root, instance, Draft4Validator.FORMAT_CHECKER)
    return _errors(OAS30SampleValidator, root, instance, OAS30Validator.FORMAT_CHECKER)


def _our_errors(doc: dict, schema, instance) -> list[str]:
    from connexion.json_schema import Draft4RequestValidator

    root = sc.validation_root(doc, schema)
    # OpenAPI 3.0 semantics (nullable, discriminator on oneOf/anyOf) ...
    errors = [f"[OAS 3.0] {e}" for e in _errors(OAS30SampleValidator, root, instance,
                                                 OAS30Validator.FORMAT_CHECKER)]
    # ... and what connexion's request validation does (discriminators ignored).
    errors += [f"[connexion] {e}" for e in _errors(Draft4RequestValidator, root, instance,
                                                    Draft4Validator.FORMAT_CHECKER)]
    return errors


@dataclass(frozen=True)
class _Sample:
    case: SampleCase
    name: str
    file: Path | None = None
    embedded: object = None
    skip: str | None = None


def _expand_samples() -> list:
    params = []
    for case in SAMPLE_CASES:
        spec = _SPECS[case.spec]
        label = f"{case.spec}-{case.method}-{case.path}"
        if not OFFICIAL_DIR.is_dir():
            params.append(pytest.param(_Sample(case, "-", skip=f"official TM Forum files not found: "
                                               f"{OFFICIAL_DIR} is absent (set TMF_OFFICIAL_DIR)"), id=label))
            continue
        if case.sample == EMBEDDED:
            official = _official_path(spec)
            if not official.is_file():
                params.append(pytest.param(_Sample(case, "-", skip=f"{spec.official} not found"), id=label))
                continue
            examples = sc.request_body_examples(_load(official), case.method, case.path, case.media_type)
            if not examples:
                params.append(pytest.param(_Sample(case, "-", skip="the official document embeds no example"),
                                           id=label))
            for name, value in examples.items():
                params.append(pytest.param(_Sample(case, name, embedded=value), id=f"{label}-{name}"))
            continue
        files = sorted(glob.glob(str(OFFICIAL_DIR / case.sample)))
        if not files:
            params.append(pytest.param(_Sample(case, case.sample, skip=f"no sample matches {case.sample}"),
                                       id=label))
        for file in files:
            params.append(pytest.param(_Sample(case, Path(file).name, file=Path(file)),
                                       id=f"{case.spec}-{Path(file).name}"))
    return params


@pytest.mark.parametrize("sample", _expand_samples())
def test_official_sample_is_accepted_by_our_spec(sample: _Sample) -> None:
    if sample.skip:
        pytest.skip(sample.skip)
    case, spec = sample.case, _SPECS[sample.case.spec]
    official_doc = _load(_require_official(spec))
    ours_doc = _load(REPO_ROOT / spec.ours)

    if sample.file is not None:
        try:
            instance = json.loads(sample.file.read_text(encoding="utf-8"))
        except ValueError as exc:
            pytest.skip(f"official sample {sample.name} is not valid JSON: {exc}")
    else:
        instance = sample.embedded

    where = f"{case.method} {case.path} ({case.media_type})"
    official_schema = sc.request_body_schema(official_doc, case.method, case.path, case.media_type)
    if official_schema is None:
        pytest.skip(f"the official document has no request body for {where}")
    official_errors = _official_errors(official_doc, official_schema, instance)
    if official_errors:
        pytest.skip(
            f"official sample {sample.name} does not satisfy the official schema of {where}: "
            + "; ".join(official_errors[:5])
            + (f" (+{len(official_errors) - 5} more)" if len(official_errors) > 5 else "")
        )

    our_schema = sc.request_body_schema(ours_doc, case.method, case.path, case.media_type)
    assert our_schema is not None, f"{spec.ours} has no request body for {where}"
    errors = _our_errors(ours_doc, our_schema, instance)
    assert not errors, f"{sample.name} rejected by {spec.ours} for {where}:\n" + "\n".join(errors)

"""The performance indicator specifications tmf-oss ships (indicators.yaml), checked when loaded.

Each is a TMF628 v5 PerformanceIndicatorSpecification with a stable `id`, computed by an indicator expression
(`derivationMethod: expression`, the expression in `derivationAlgorithm`). Loading checks every entry (its fields,
its expression, and that its `perspective` is the expression's scope) and raises ValueError naming the file, the
entry and the problem: a bad shipped file stops the product rather than leaving indicators silently unmeasured.
"""
from __future__ import annotations

import copy
import functools
from pathlib import Path

import yaml

from tmf_oss.performance.derivation import DerivationError, parse

INDICATORS_FILE = Path(__file__).resolve().parent / "indicators.yaml"

SPEC_TYPE = "PerformanceIndicatorSpecification"
INDICATOR_TYPES = ("string", "int", "float", "double")  # TMF628 v5 IndicatorType
COLLECTION_TYPES = ("cumulative", "delta", "discrete_event", "gauge", "status_inspection")  # TMF628 v5 CollectionType
REQUIRED_TEXT = ("id", "@type", "name", "description", "perspective", "indicatorCategory", "indicatorType",
                 "indicatorUnit", "collectionType", "derivationMethod", "derivationAlgorithm")


def builtin_indicator_specs(path: Path = INDICATORS_FILE) -> list[dict]:
    """The shipped specifications, checked, as new documents the caller may change."""
    return copy.deepcopy(_load(Path(path)))


@functools.cache
def _load(path: Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as handle:
            content = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"indicator specifications {path}: cannot be read: {error}") from None
    entries = content.get("performanceIndicatorSpecification") if isinstance(content, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"indicator specifications {path}: no 'performanceIndicatorSpecification' list")
    seen: set[str] = set()
    for position, entry in enumerate(entries):
        label = f"indicator specifications {path}, entry {position + 1}"
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            label += f" ({entry['id']})"
        problem = _problem(entry)
        if problem:
            raise ValueError(f"{label}: {problem}")
        if entry["id"] in seen:
            raise ValueError(f"{label}: the id is used by an earlier entry")
        seen.add(entry["id"])
    return entries


def _problem(entry) -> str | None:
    """What is wrong with one specification, or None."""
    if not isinstance(entry, dict):
        return "not a mapping"
    for name in REQUIRED_TEXT:
        if not isinstance(entry.get(name), str) or not entry[name].strip():
            return f"'{name}' must be a non-empty text"
    if entry["@type"] != SPEC_TYPE:
        return f"'@type' must be {SPEC_TYPE}"
    if entry["indicatorType"] not in INDICATOR_TYPES:
        return f"'indicatorType' must be one of {', '.join(INDICATOR_TYPES)}"
    if entry["collectionType"] not in COLLECTION_TYPES:
        return f"'collectionType' must be one of {', '.join(COLLECTION_TYPES)}"
    if entry["derivationMethod"] != "expression":
        return "'derivationMethod' must be expression"
    try:
        expression = parse(entry["derivationAlgorithm"])
    except DerivationError as error:
        return f"derivationAlgorithm: {error}"
    if entry["perspective"] != expression.scope:
        return (f"'perspective' is {entry['perspective']} but the expression is measured on "
                f"{'an interface' if expression.scope == 'interface' else 'the device'} ({expression.scope})")
    return None

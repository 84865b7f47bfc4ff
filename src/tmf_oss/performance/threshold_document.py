"""A threshold's JSON document (what the operator endpoints take and show) and the checks it must pass.

    {"id": "...", "href": "...", "@type": "PerformanceThreshold", "name": "core links busy",
     "indicatorId": "ifInUtilisation", "monitoredObjectId": ["<TMF639 resource id>", ...],
     "objectFilter": "resourceSpecification.name=interface&name.regex=^ge",
     "direction": "rising", "raiseLevel": 80, "clearLevel": 70, "perceivedSeverity": "major",
     "forecast": {"method": "linear", "window": 6, "horizonSeconds": 900, "perceivedSeverity": "warning"},
     "creationDate": "...", "lastUpdate": "..."}

A threshold applies to the objects it names and/or those its objectFilter (a TMF639 resource query) selects. The
clear level must lie on the safe side of the raise level (below it when rising, above it when falling): that gap
is the hysteresis. perceivedSeverity defaults to major, the forecast's to warning.
"""
from __future__ import annotations

import math
from datetime import datetime
from typing import Callable

from tmf_oss.db.base import rfc3339
from tmf_oss.performance.forecast import METHODS, MIN_POINTS
from tmf_oss.performance.threshold import DIRECTIONS, SEVERITIES, Forecast, Threshold
from tmf_oss.performance.threshold_model import ID_LENGTH
from tmf_oss.tmf.errors import bad_request

TYPE = "PerformanceThreshold"
SETTABLE = frozenset({"name", "indicatorId", "monitoredObjectId", "objectFilter", "direction", "raiseLevel",
                      "clearLevel", "perceivedSeverity", "forecast"})
SERVER_OWNED = frozenset({"id", "href", "@type", "creationDate", "lastUpdate"})
FORECAST_MEMBERS = frozenset({"method", "window", "horizonSeconds", "perceivedSeverity"})
MAX_WINDOW = 1000  # points kept per object: the state stays small
MAX_NAME = 256
DEFAULT_SEVERITY = "major"
DEFAULT_WARNING_SEVERITY = "warning"
INVALID = "Invalid threshold"


def threshold_from_document(document, ident: str, *, known_indicator: Callable[[str], bool],
                            check_filter: Callable[[str], None]) -> Threshold:
    """The threshold a document describes, or a 400 TmfError naming the first thing wrong with it.
    `check_filter(objectFilter)` raises a TmfError for a filter that is not a usable resource query."""
    if not isinstance(document, dict):
        raise bad_request("a threshold must be a JSON object", reason=INVALID)
    unknown = sorted(set(document) - SETTABLE - SERVER_OWNED)
    if unknown:
        raise bad_request(f"unknown members {unknown}; a threshold has {sorted(SETTABLE)}", reason=INVALID)
    name = _text(document, "name", MAX_NAME)
    indicator = _text(document, "indicatorId", MAX_NAME)
    if not known_indicator(indicator):
        raise bad_request(f"indicatorId '{indicator}' is not a known performance indicator specification",
                          reason="Unknown indicator")
    objects = document.get("monitoredObjectId")
    if objects is None:
        objects = []
    if not isinstance(objects, list) or not all(isinstance(o, str) and 0 < len(o) <= ID_LENGTH for o in objects):
        raise bad_request(f"monitoredObjectId must be a list of resource ids (strings of 1 to {ID_LENGTH} "
                          "characters)", reason=INVALID)
    object_filter = document.get("objectFilter")
    if object_filter is not None:
        if not isinstance(object_filter, str) or not object_filter.strip():
            raise bad_request("objectFilter must be a TMF639 resource query such as 'name.regex=^ge'",
                              reason="Invalid objectFilter")
        check_filter(object_filter)
    if not objects and object_filter is None:
        raise bad_request("a threshold applies to the objects in monitoredObjectId and/or those objectFilter "
                          "selects: give at least one", reason=INVALID)
    direction = _choice(document, "direction", DIRECTIONS)
    raise_level = _number(document, "raiseLevel")
    clear_level = _number(document, "clearLevel")
    if direction == "rising" and not clear_level < raise_level:
        raise bad_request(f"a rising threshold clears below where it raises: clearLevel ({clear_level:g}) must be "
                          f"less than raiseLevel ({raise_level:g})", reason="Invalid hysteresis")
    if direction == "falling" and not clear_level > raise_level:
        raise bad_request(f"a falling threshold clears above where it raises: clearLevel ({clear_level:g}) must be "
                          f"greater than raiseLevel ({raise_level:g})", reason="Invalid hysteresis")
    severity = _choice(document, "perceivedSeverity", SEVERITIES, DEFAULT_SEVERITY)
    return Threshold(id=ident, name=name, indicator_id=indicator, object_ids=tuple(dict.fromkeys(objects)),
                     object_filter=object_filter, direction=direction, raise_level=raise_level,
                     clear_level=clear_level, severity=severity, forecast=_forecast(document.get("forecast")))


def threshold_document(threshold: Threshold, created_at: datetime, updated_at: datetime) -> dict:
    """The document as stored and shown (the API adds href)."""
    document = {"id": threshold.id, "@type": TYPE, "name": threshold.name, "indicatorId": threshold.indicator_id,
                "monitoredObjectId": list(threshold.object_ids)}
    if threshold.object_filter is not None:
        document["objectFilter"] = threshold.object_filter
    document.update(direction=threshold.direction, raiseLevel=threshold.raise_level,
                    clearLevel=threshold.clear_level, perceivedSeverity=threshold.severity)
    forecast = threshold.forecast
    if forecast is not None:
        document["forecast"] = {"method": forecast.method, "window": forecast.window,
                                "horizonSeconds": forecast.horizon_seconds, "perceivedSeverity": forecast.severity}
    document.update(creationDate=rfc3339(created_at), lastUpdate=rfc3339(updated_at))
    return document


def _forecast(section) -> Forecast | None:
    if section is None:
        return None
    if not isinstance(section, dict):
        raise bad_request("forecast must be an object {method, window, horizonSeconds, perceivedSeverity}",
                          reason="Invalid forecast")
    unknown = sorted(set(section) - FORECAST_MEMBERS)
    if unknown:
        raise bad_request(f"unknown forecast members {unknown}; a forecast has {sorted(FORECAST_MEMBERS)}",
                          reason="Invalid forecast")
    method = _choice(section, "method", METHODS, where="forecast.", reason="Invalid forecast")
    window = section.get("window")
    if isinstance(window, bool) or not isinstance(window, int) or not MIN_POINTS <= window <= MAX_WINDOW:
        raise bad_request(f"forecast.window must be a whole number of points from {MIN_POINTS} to {MAX_WINDOW}",
                          reason="Invalid forecast")
    horizon = _number(section, "horizonSeconds", where="forecast.", reason="Invalid forecast")
    if horizon <= 0:
        raise bad_request("forecast.horizonSeconds must be more than 0", reason="Invalid forecast")
    severity = _choice(section, "perceivedSeverity", SEVERITIES, DEFAULT_WARNING_SEVERITY, where="forecast.",
                       reason="Invalid forecast")
    return Forecast(method, window, horizon, severity)


def _text(document: dict, name: str, longest: int) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{name} is required: a non-empty string", reason=INVALID)
    if len(value) > longest:
        raise bad_request(f"{name} is longer than {longest} characters", reason=INVALID)
    return value


def _choice(document: dict, name: str, allowed: tuple[str, ...], default: str | None = None, *, where: str = "",
            reason: str = INVALID) -> str:
    value = document.get(name, default)
    if value is None and default is not None:
        value = default
    if value not in allowed:
        raise bad_request(f"{where}{name} must be one of {', '.join(allowed)}", reason=reason)
    return value


def _number(document: dict, name: str, *, where: str = "", reason: str = INVALID) -> float:
    value = document.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad_request(f"{where}{name} is required: a number", reason=reason)
    return float(value)

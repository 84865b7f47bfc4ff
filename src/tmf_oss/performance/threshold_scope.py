"""Which monitored objects a threshold applies to: the ids it names, and the TMF639 resources its `objectFilter`
(a resource query such as `resourceSpecification.name=interface&name.regex=ge`) selects.

A filter is asked about the objects of the samples at hand only (one query per filter and LOOKUP_CHUNK objects),
and each answer is remembered for CACHE_SECONDS: an object renamed into or out of a filter's reach joins or leaves
the threshold within a minute.
"""
from __future__ import annotations

import time
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from tmf_oss.performance.threshold import Threshold
from tmf_oss.tmf.collection import Collection
from tmf_oss.tmf.errors import TmfError, bad_request
from tmf_oss.tmf.query import parse_query_string

CACHE_SECONDS = 60.0
LOOKUP_CHUNK = 500
MAX_REMEMBERED = 200_000  # answers kept per filter at most; beyond, start again


def compile_object_filter(resources: Collection, object_filter: str) -> ColumnElement:
    """The SQL condition a resource query stands for; a 400 TmfError saying what is wrong with it."""
    pairs = parse_query_string(object_filter)
    if not pairs:
        raise bad_request("objectFilter holds no condition", reason="Invalid objectFilter")
    version = "v5" if "v5" in resources.versions else next(iter(resources.versions))
    try:
        return resources.stored_query(version, pairs)
    except TmfError as error:
        raise bad_request(f"objectFilter: {error.message or error.reason}", reason="Invalid objectFilter") from None


class ScopeMatcher:
    def __init__(self, resources: Collection | None, *, clock: Callable[[], float] = time.monotonic):
        """`resources`: the TMF639 resource collection filters are read against (None: filters select nothing)."""
        self.resources = resources
        self.clock = clock
        self._conditions: dict[str, ColumnElement | None] = {}
        self._answers: dict[str, dict[str, tuple[bool, float]]] = {}  # filter -> object id -> (in it, until)

    def in_scope(self, session: Session, threshold: Threshold, object_ids: set[str]) -> set[str]:
        """Those of `object_ids` the threshold applies to."""
        found = object_ids.intersection(threshold.object_ids)
        if threshold.object_filter and len(found) < len(object_ids):
            found |= self._selected(session, threshold.object_filter, object_ids - found)
        return found

    def _selected(self, session: Session, object_filter: str, object_ids: set[str]) -> set[str]:
        condition = self._condition(object_filter)
        if condition is None:
            return set()
        now = self.clock()
        answers = self._answers.setdefault(object_filter, {})
        if len(answers) > MAX_REMEMBERED:
            answers.clear()
        selected, unknown = set(), []
        for object_id in object_ids:
            known = answers.get(object_id)
            if known is None or known[1] <= now:
                unknown.append(object_id)
            elif known[0]:
                selected.add(object_id)
        unknown.sort()
        model = self.resources.spec.model
        until = now + CACHE_SECONDS
        for start in range(0, len(unknown), LOOKUP_CHUNK):
            chunk = unknown[start:start + LOOKUP_CHUNK]
            matched = set(session.execute(select(model.id).where(condition, model.id.in_(chunk))).scalars())
            for object_id in chunk:
                answers[object_id] = (object_id in matched, until)
            selected |= matched
        return selected

    def _condition(self, object_filter: str) -> ColumnElement | None:
        if object_filter not in self._conditions:
            condition = None
            if self.resources is not None:
                try:
                    condition = compile_object_filter(self.resources, object_filter)
                except TmfError:
                    condition = None  # checked when the threshold was written; the inventory's schema moved on
            self._conditions[object_filter] = condition
        return self._conditions[object_filter]

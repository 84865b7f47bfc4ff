"""v5 `filter=`: the documented JSONPath subset, compiled to SQL like attribute filters.

Grammar (anything else is refused with 400):
    filter     := path "[?(" predicate ( "&&" predicate )* ")]"
    path       := [ "$." ] name ( "." name )*                 an attribute of the entity, usually an array
    predicate  := "@" [ "." ] name ( "." name )* [ op literal ]   no operator: the member exists
    op         := "==" | "!=" | ">" | ">=" | "<" | "<="
    literal    := 'text' | "text" | number | true | false
All predicates of one filter hold for the SAME element, which plain attribute filters cannot say:
`resourceCharacteristic[?(@.name=='vlan' && @.value=='100')]`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import and_, func, literal, select
from sqlalchemy.dialects.postgresql import JSONPATH, NUMERIC, TIMESTAMP
from sqlalchemy.sql.elements import ColumnElement

from tmf_oss.tmf.errors import bad_request
from tmf_oss.tmf.query import coerce
from tmf_oss.tmf.sql_filter import sqlite_path

_NAME = r"[A-Za-z_@][\w@\-]*"
_PATH = re.compile(rf"^\s*(?:\$\.)?({_NAME}(?:\.{_NAME})*)\s*\[\s*\?\s*\((.*)\)\s*\]\s*$", re.S)
_PREDICATE = re.compile(
    rf"""^\s*@\.?({_NAME}(?:\.{_NAME})*)\s*(?:(==|!=|>=|<=|>|<)\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false))?\s*$""",
    re.S,
)
_SQL_OPS = {"==": "=", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


@dataclass(frozen=True)
class Predicate:
    path: tuple[str, ...]
    op: str | None
    literal: str | None  # as written, quotes removed for strings


@dataclass(frozen=True)
class JsonPathFilter:
    path: tuple[str, ...]
    predicates: tuple[Predicate, ...]


def parse_filter(text: str) -> JsonPathFilter:
    match = _PATH.match(text)
    if not match:
        raise _unsupported(text)
    path = tuple(match.group(1).split("."))
    predicates = []
    for part in _split_and(match.group(2)):
        found = _PREDICATE.match(part)
        if not found:
            raise _unsupported(text)
        raw = found.group(3)
        if raw is not None and raw[0] in "'\"":
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        predicates.append(Predicate(tuple(found.group(1).split(".")), found.group(2), raw))
    return JsonPathFilter(path, tuple(predicates))


def _split_and(body: str) -> list[str]:
    parts, current, quote = [], [], None
    index = 0
    while index < len(body):
        char = body[index]
        if quote:
            current.append(char)
            if char == "\\" and index + 1 < len(body):
                current.append(body[index + 1])
                index += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
            current.append(char)
        elif body.startswith("&&", index):
            parts.append("".join(current))
            current = []
            index += 1
        elif body.startswith("||", index):
            raise bad_request("'||' is not supported in filter=; use a comma-separated attribute filter for OR",
                              reason="Unsupported filter")
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def _unsupported(text: str):
    return bad_request(
        f"filter '{text}' is outside the supported JSONPath subset: "
        "path[?(@.member op literal && ...)] with op one of == != > >= < <=", reason="Unsupported filter")


def compile_filter(text: str, target) -> ColumnElement:
    """SQL for one filter= expression; `target` is the collection's FilterTarget (canonical catalogue)."""
    parsed = parse_filter(text)
    holder = target.info(parsed.path, "filter")
    if holder.kind not in ("object", "any"):
        raise bad_request(f"'{'.'.join(parsed.path)}' holds no objects to filter", reason="Invalid filter")
    typed = []
    for predicate in parsed.predicates:
        info = target.info(parsed.path + predicate.path, "filter")
        # A free-form member ("any": a characteristic's value) may hold an array in some subtypes; it is
        # compared as one value. A member the schema declares as an array cannot be.
        if info.kind != "any" and any(info.arrays[len(parsed.path):]):
            raise bad_request(f"'@.{'.'.join(predicate.path)}' crosses an array inside filter=; filter on one "
                              "value per element", reason="Unsupported filter")
        kind = "string" if info.kind in ("any", "object") else info.kind
        value = None if predicate.literal is None else coerce(kind, predicate.literal, "filter")
        typed.append((predicate, kind, value))
    if target.dialect == "postgresql":
        return _postgresql(target.doc, parsed, typed)
    return _sqlite(target.doc, parsed, holder.arrays, typed)


def _postgresql(doc, parsed: JsonPathFilter, typed) -> ColumnElement:
    base = "$" + "".join('."' + p.replace('"', '\\"') + '"' for p in parsed.path) + "[*]"
    element = func.jsonb_path_query(doc, literal(base).cast(JSONPATH)).table_valued("value").render_derived("element")
    tests = []
    for predicate, kind, value in typed:
        pointer = "{" + ",".join(predicate.path) + "}"
        if predicate.op is None:
            tests.append(element.c.value.op("#>")(literal(pointer)).is_not(None))
            continue
        if kind in ("integer", "number"):
            subject = element.c.value.op("#>>")(literal(pointer)).cast(NUMERIC)
        elif kind == "date-time":
            subject = element.c.value.op("#>>")(literal(pointer)).cast(TIMESTAMP(timezone=True))
        elif kind == "boolean":
            subject = element.c.value.op("#>")(literal(pointer))
            value = func.to_jsonb(value)
        else:
            subject = element.c.value.op("#>>")(literal(pointer))
        tests.append(subject.op(_SQL_OPS[predicate.op])(value))
    return select(1).select_from(element).where(and_(*tests)).exists()


def _sqlite(doc, parsed: JsonPathFilter, arrays, typed) -> ColumnElement:
    # One json_each per array on the holder's path, each reading the previous one's element.
    context, pending, sources = doc, [], []
    for index, (name, is_array) in enumerate(zip(parsed.path, arrays)):
        pending.append(name)
        if is_array:
            each = func.json_each(context, sqlite_path(pending)).table_valued("value").alias(f"fe{index}")
            sources.append(each)
            context, pending = each.c.value, []
    if not sources:  # a single object, not an array: test it in place
        return and_(*_sqlite_tests(func.json_extract(doc, sqlite_path(pending)), typed))
    element = func.json_extract(context, sqlite_path(pending)) if pending else context
    return select(1).select_from(*sources).where(and_(*_sqlite_tests(element, typed))).exists()


def _sqlite_tests(element, typed) -> list:
    tests = []
    for predicate, kind, value in typed:
        where = sqlite_path(predicate.path)
        if predicate.op is None:
            tests.append(func.json_type(element, where).is_not(None))
            continue
        leaf = func.json_extract(element, where)
        if kind == "date-time":
            leaf, value = func.julianday(leaf), func.julianday(value.isoformat())
        elif kind == "boolean":
            value = 1 if value else 0
        tests.append(leaf.op(_SQL_OPS[predicate.op])(value))
    return tests

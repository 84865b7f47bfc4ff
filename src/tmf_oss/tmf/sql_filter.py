"""Compile parsed TMF conditions and sort keys to SQL, for SQLite (JSON1) and PostgreSQL (jsonb + jsonpath).

Top-level attributes with a typed column are compared on that column (indexed); everything else is reached
inside the JSON document. On PostgreSQL, equality inside the document is a jsonpath `@?` test, which the GIN
(jsonb_path_ops) index answers; lax jsonpath walks through arrays by itself. Where the entity keeps a side table of
the values at a path (value index), equality on that path reads the table instead, with the same matches. On SQLite
each array on the path becomes an EXISTS over json_each.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Sequence

from sqlalchemy import and_, false, func, literal, not_, or_, select
from sqlalchemy.dialects.postgresql import JSONB, JSONPATH
from sqlalchemy.sql.elements import ColumnElement

from tmf_oss.tmf.catalog import AttributeCatalog, AttributeInfo
from tmf_oss.tmf.errors import bad_request
from tmf_oss.tmf.query import Condition, coerce, validate_regex

_ORDERING = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


@dataclass
class FilterTarget:
    """What a collection offers to filtering: its catalogue, typed columns and JSON document column."""

    catalog: AttributeCatalog
    doc: ColumnElement
    dialect: str
    columns: dict[str, ColumnElement] = field(default_factory=dict)
    # The entity's key, and its value index on PostgreSQL: an ORM class with path, value (jsonb) and seq (the
    # entity's), holding every scalar found at each of `value_paths` (canonical, dotted), kept by the database.
    key: ColumnElement | None = None
    value_table: type | None = None
    value_paths: frozenset[str] = frozenset()

    def info(self, path: tuple[str, ...], purpose: str = "filter") -> AttributeInfo:
        info = self.catalog.lookup(path)
        if info is None:
            raise bad_request(f"Unknown attribute '{'.'.join(path)}'", reason=f"Invalid {purpose}")
        return info


def compile_conditions(conditions: Sequence[Condition], target: FilterTarget) -> list[ColumnElement]:
    return [_compile(condition, target) for condition in conditions]


def _compile(condition: Condition, target: FilterTarget) -> ColumnElement:
    info = target.info(condition.path)
    where = condition.dotted
    if info.kind == "object":
        raise bad_request(f"'{where}' is an object: filter on one of its members", reason="Invalid filter")
    if condition.op == "regex":
        for pattern in condition.values:
            validate_regex(pattern)
        values = list(condition.values)
    else:
        kind = "string" if info.kind == "any" else info.kind
        values = [coerce(kind, raw, where) for raw in condition.values]
        if info.kind == "any":
            values = list(condition.values)
    column = target.columns.get(condition.dotted)
    if column is not None:
        return _on_column(column, condition.op, values)
    if target.dialect == "postgresql":
        indexed = _on_value_index(target, condition, info, values)
        if indexed is not None:
            return indexed
        return _on_jsonb(target.doc, condition, info, values)
    return _on_sqlite_json(target.doc, condition, info, values)


# --- typed columns ----------------------------------------------------------------------------------------

def _on_column(column, op: str, values: list) -> ColumnElement:
    if op == "eq":
        return column.in_(values) if len(values) > 1 else column == values[0]
    if op == "ne":
        return or_(column.is_(None), column.not_in(values))
    if op == "regex":
        return or_(*(column.regexp_match(v) for v in values))
    return column.op(_ORDERING[op])(values[0])


# --- PostgreSQL jsonb -----------------------------------------------------------------------------------

def _jsonpath_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _jsonpath_key(name: str) -> str:
    return "." + _jsonpath_string(name)


def _json_operands(kind: str, value) -> list:
    """The JSON scalars an equality with `value` compares with, for an attribute of this kind. Free-form ('any')
    attributes take the text as a string, and also as a number and a boolean where it reads as one."""
    if kind == "any":
        operands = [value]
        try:
            operands.append(float(value))
        except ValueError:
            pass
        if value in ("true", "false"):
            operands.append(value == "true")
        return operands
    return [value]


def _jsonpath_literal(kind: str, value) -> list[str]:
    return [_jsonpath_scalar(operand) for operand in _json_operands(kind, value)]


def _jsonpath_scalar(operand) -> str:
    if isinstance(operand, bool):
        return "true" if operand else "false"
    if isinstance(operand, float):
        return repr(operand)
    if isinstance(operand, int):
        return str(operand)
    return _jsonpath_string(operand)


def _on_jsonb(doc, condition: Condition, info: AttributeInfo, values: list) -> ColumnElement:
    base = "$" + "".join(_jsonpath_key(part) for part in condition.path)
    op = condition.op
    if info.kind == "date-time" and op != "regex":
        return _jsonb_instants(doc, base, op, values)
    if op == "regex":
        tests = [f"@ like_regex {_jsonpath_string(v)}" for v in values]
    else:
        symbol = "==" if op in ("eq", "ne") else _ORDERING[op]
        tests = [f"@ {symbol} {lit}" for v in values for lit in _jsonpath_literal(info.kind, v)]
    expression = doc.op("@?")(literal(f"{base} ? ({' || '.join(tests)})").cast(JSONPATH))
    return not_(expression) if op == "ne" else expression


# A string or integer longer than this may be among the values the value index leaves out (the migration keeps
# jsonb values up to 2,000 bytes): an equality with one keeps the jsonpath test.
_LONGEST_INDEXED_OPERAND = 1000


def _on_value_index(target: FilterTarget, condition: Condition, info: AttributeInfo, values: list):
    """Equality on a path the value index covers: the keys whose row holds one of the operands at that path. jsonb
    equality is the jsonpath `==` (numbers numerically, strings exactly, never across types) and the index holds
    every scalar the jsonpath walk reaches, so the matches are the same. None where the jsonpath test must answer:
    other operators and paths, and operands the jsonpath test refuses or the index may not hold."""
    if condition.op != "eq" or target.value_table is None or condition.dotted not in target.value_paths \
            or info.kind == "date-time":
        return None
    documents = []
    for value in values:
        for operand in _json_operands(info.kind, value):
            document = _indexable_json(operand)
            if document is None:
                return None
            documents.append(literal(document).cast(JSONB))
    table = target.value_table
    matched = table.value == documents[0] if len(documents) == 1 else table.value.in_(documents)
    return target.key.in_(select(table.seq).where(table.path == condition.dotted, matched))


def _indexable_json(operand) -> str | None:
    if isinstance(operand, float):
        return json.dumps(operand) if math.isfinite(operand) else None
    if isinstance(operand, bool):
        return "true" if operand else "false"
    if isinstance(operand, int):
        return str(operand) if len(str(abs(operand))) <= _LONGEST_INDEXED_OPERAND else None
    try:
        size = len(operand.encode())
    except UnicodeEncodeError:  # a lone surrogate: not text PostgreSQL accepts
        return None
    if size > _LONGEST_INDEXED_OPERAND or "\x00" in operand:
        return None
    return json.dumps(operand)


def _jsonb_instants(doc, base: str, op: str, values: list) -> ColumnElement:
    # jsonpath's datetime() cannot compare zoned instants inside an index-friendly operator, so extract
    # the strings and compare them as timestamptz in SQL.
    item = func.jsonb_path_query(doc, literal(base).cast(JSONPATH)).table_valued("value").render_derived("instant")
    moment = item.c.value.op("#>>")(literal("{}")).cast(_timestamptz())
    if op in ("eq", "ne"):
        test = moment.in_(values)
    else:
        test = moment.op(_ORDERING[op])(values[0])
    exists = select(1).select_from(item).where(test).exists()
    return not_(exists) if op == "ne" else exists


def _timestamptz():
    from sqlalchemy.dialects.postgresql import TIMESTAMP

    return TIMESTAMP(timezone=True)


# --- SQLite JSON1 ---------------------------------------------------------------------------------------

def sqlite_path(parts: Sequence[str]) -> str:
    return "$" + "".join('."' + part.replace('"', '""') + '"' for part in parts)


def _on_sqlite_json(doc, condition: Condition, info: AttributeInfo, values: list) -> ColumnElement:
    op = condition.op
    positive_op = "eq" if op == "ne" else op
    expression = _sqlite_walk(doc, list(condition.path), list(info.arrays), info.kind, positive_op, values, 0)
    return not_(expression) if op == "ne" else expression


def _sqlite_walk(context, parts, arrays, kind, op, values, depth) -> ColumnElement:
    # Members up to the first array are one json_extract path; an array becomes EXISTS over json_each.
    for index, is_array in enumerate(arrays):
        if is_array:
            holder = sqlite_path(parts[: index + 1]) if context is not None else None
            each = func.json_each(context, holder).table_valued("value").alias(f"je{depth}")
            rest_parts, rest_arrays = parts[index + 1:], arrays[index + 1:]
            if rest_parts:
                inner = _sqlite_walk(each.c.value, rest_parts, rest_arrays, kind, op, values, depth + 1)
            else:
                inner = _sqlite_leaf(each.c.value, kind, op, values)
            return select(1).select_from(each).where(inner).exists()
    return _sqlite_leaf(func.json_extract(context, sqlite_path(parts)), kind, op, values)


def _sqlite_leaf(leaf, kind: str, op: str, values: list) -> ColumnElement:
    if op == "regex":
        return or_(*(leaf.op("REGEXP")(v) for v in values))
    if kind == "date-time":
        subject = func.julianday(leaf)
        operands = [func.julianday(v.isoformat()) for v in values]
    elif kind == "boolean":
        subject, operands = leaf, [1 if v else 0 for v in values]
    elif kind == "any":
        subject, operands = leaf, []
        for v in values:
            operands.append(v)
            try:
                operands.append(float(v))
            except ValueError:
                pass
    else:
        subject, operands = leaf, list(values)
    if not operands:
        return false()
    if op == "eq":
        return or_(*(subject == operand for operand in operands))
    return subject.op(_ORDERING[op])(operands[0])


# --- sorting --------------------------------------------------------------------------------------------

def compile_sort(sort: str | None, target: FilterTarget) -> list[ColumnElement]:
    """`sort=name,-operationalState`: typed columns where they exist, else a JSON extraction."""
    if not sort:
        return []
    clauses = []
    for key in (part.strip() for part in sort.split(",")):
        if not key:
            continue
        descending = key.startswith("-")
        path = tuple(key.lstrip("+-").split("."))
        info = target.info(path, "sort")
        if any(info.arrays) or info.kind == "object":
            raise bad_request(f"Cannot sort on '{'.'.join(path)}': it is not a single value", reason="Invalid sort")
        column = target.columns.get(".".join(path))
        if column is None:
            if target.dialect == "postgresql":
                column = target.doc.op("#>>")(literal("{" + ",".join(path) + "}"))
            else:
                column = func.json_extract(target.doc, sqlite_path(path))
        clauses.append(column.desc() if descending else column.asc())
    return clauses


def all_of(clauses: list[ColumnElement]) -> ColumnElement | None:
    return and_(*clauses) if clauses else None

"""TMF attribute filtering (TMF630 part 1): parse once, then compile to SQL or evaluate on a document.

A query is a conjunction of conditions (AND across attributes); each condition holds a dot path, an operator
and one or more values (OR). Paths reach into nested objects and arrays: a path through an array matches when
any element matches.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Sequence
from urllib.parse import parse_qsl

from tmf_oss.tmf.errors import bad_request

# Parameters with their own meaning; never attribute filters.
RESERVED = frozenset({"fields", "offset", "limit", "sort", "before", "after", "filter", "expand", "depth"})

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "regex")
_SUFFIX = {f".{op}": op for op in OPERATORS}
_SYMBOL_KEY_SUFFIX = {">": "gte", "<": "lte", "!": "ne"}  # `a>=1` arrives as key 'a>' and value '1'
_BARE_SYMBOLS = ((">", "gt"), ("<", "lt"))  # `a>1` arrives as key 'a>1' and an empty value


@dataclass(frozen=True)
class Condition:
    path: tuple[str, ...]
    op: str
    values: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def parse_query_string(raw: str) -> list[tuple[str, str]]:
    return parse_qsl(raw, keep_blank_values=True)


def parse_conditions(pairs: Iterable[tuple[str, str]], reserved: frozenset[str] = RESERVED) -> list[Condition]:
    """Turn raw query pairs into conditions, merging repeats of one attribute and operator into an OR."""
    merged: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for key, value in pairs:
        if key in reserved:
            continue
        attribute, op, value = _split_operator(key, value)
        if not attribute or any(not part for part in attribute.split(".")):
            raise bad_request(f"'{key}' is not a valid attribute path", reason="Invalid filter")
        values = [value] if op == "regex" else _split_values(attribute, value)
        if op in ("gt", "gte", "lt", "lte") and len(values) != 1:
            raise bad_request(f"'{key}' compares with one value, got {len(values)}", reason="Invalid filter")
        merged.setdefault((tuple(attribute.split(".")), op), []).extend(values)
    return [Condition(path, op, tuple(values)) for (path, op), values in merged.items()]


def _split_operator(key: str, value: str) -> tuple[str, str, str]:
    for suffix, op in _SUFFIX.items():
        if key.endswith(suffix):
            return key[: -len(suffix)], op, value
    if key and key[-1] in _SYMBOL_KEY_SUFFIX:
        return key[:-1], _SYMBOL_KEY_SUFFIX[key[-1]], value
    if value == "":
        for symbol, op in _BARE_SYMBOLS:
            if symbol in key:
                attribute, _, operand = key.partition(symbol)
                return attribute, op, operand
    if value.startswith("~"):  # `a=~pattern`
        return key, "regex", value[1:]
    return key, "eq", value


def _split_values(attribute: str, value: str) -> list[str]:
    # `state=raised,cleared`, `state=raised;cleared` and `state=raised;state=cleared` all mean OR.
    parts = re.split(r"[,;]", value)
    prefix = attribute + "="
    return [part[len(prefix):] if part.startswith(prefix) else part for part in parts]


# ---------------------------------------------------------------------------------------------------------
# Typing values against the attribute catalogue


def coerce(kind: str, raw: str, where: str):
    """Convert a filter value to the attribute's type, or explain why it cannot be."""
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
        if kind == "boolean":
            lowered = raw.lower()
            if lowered not in ("true", "false"):
                raise ValueError
            return lowered == "true"
        if kind == "date-time":
            return parse_instant(raw)
    except ValueError:
        raise bad_request(f"'{raw}' is not a valid {kind} for '{where}'", reason="Invalid filter") from None
    return raw


def parse_instant(raw: str) -> datetime:
    text = raw.strip()
    # An unencoded '+' in a query string arrives as a space: '...T11:00:00 02:00' meant '+02:00'.
    text = re.sub(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$", r"\1+\2", text)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


# ---------------------------------------------------------------------------------------------------------
# Evaluation on an in-memory document (hub queries against events)


def matches(document, conditions: Sequence[Condition]) -> bool:
    return all(_condition_holds(document, condition) for condition in conditions)


def _leaves(node, path: Sequence[str]):
    if isinstance(node, list):
        for item in node:
            yield from _leaves(item, path)
        return
    if not path:
        yield node
        return
    if isinstance(node, dict) and path[0] in node:
        yield from _leaves(node[path[0]], path[1:])


def _condition_holds(document, condition: Condition) -> bool:
    found = list(_leaves(document, condition.path))
    if condition.op == "ne":
        return not any(_compare(leaf, "eq", value) for leaf in found for value in condition.values)
    return any(_compare(leaf, condition.op, value) for leaf in found for value in condition.values)


def _compare(leaf, op: str, raw: str) -> bool:
    if leaf is None or isinstance(leaf, (dict, list)):
        return False
    if op == "regex":
        return isinstance(leaf, str) and re.search(raw, leaf) is not None
    try:
        if isinstance(leaf, bool):
            operand, subject = raw.lower() == "true", leaf
        elif isinstance(leaf, (int, float)):
            operand, subject = float(raw), float(leaf)
        elif _looks_like_instant(leaf) and _looks_like_instant(raw):
            operand, subject = parse_instant(raw), parse_instant(leaf)
        else:
            operand, subject = raw, str(leaf)
    except ValueError:
        return False
    return {
        "eq": subject == operand,
        "gt": subject > operand,
        "gte": subject >= operand,
        "lt": subject < operand,
        "lte": subject <= operand,
    }[op]


_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _looks_like_instant(text) -> bool:
    return isinstance(text, str) and bool(_INSTANT.match(text))


def validate_regex(pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise bad_request(f"invalid regular expression '{pattern}': {exc}", reason="Invalid filter") from None

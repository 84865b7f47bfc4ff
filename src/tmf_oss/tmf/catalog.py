"""Which attribute paths an entity has, and their types, read from our OpenAPI documents.

Filtering, sorting and `fields` use it to reject unknown attributes and to compare values by type
(numbers as numbers, dates as instants). Built once per entity and API version at start-up.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

SCALAR_KINDS = ("string", "integer", "number", "boolean", "date-time")


@dataclass(frozen=True)
class AttributeInfo:
    kind: str  # one of SCALAR_KINDS, "object" (has members) or "any" (free-form)
    arrays: tuple[bool, ...]  # per path segment: does that member hold an array?


class AttributeCatalog:
    def __init__(self, entries: dict[tuple[str, ...], AttributeInfo]):
        self._entries = entries

    def lookup(self, path: tuple[str, ...]) -> AttributeInfo | None:
        info = self._entries.get(path)
        if info is not None:
            return info
        # Below a free-form member anything goes; array-ness there is unknown, so treated as scalar.
        for cut in range(len(path) - 1, 0, -1):
            parent = self._entries.get(path[:cut])
            if parent is not None:
                if parent.kind == "any":
                    return AttributeInfo("any", parent.arrays + (False,) * (len(path) - cut))
                return None
        return None

    def entries(self) -> dict[tuple[str, ...], AttributeInfo]:
        return dict(self._entries)

    def top_level(self) -> set[str]:
        return {path[0] for path in self._entries}

    @classmethod
    def from_openapi(cls, spec: dict, schema_names: Iterable[str], max_depth: int = 5) -> "AttributeCatalog":
        schemas = spec.get("components", {}).get("schemas", {})
        entries: dict[tuple[str, ...], AttributeInfo] = {}
        for name in schema_names:
            _collect(schemas, {"$ref": f"#/components/schemas/{name}"}, (), (), entries, max_depth, frozenset())
        return cls(entries)


def _merge(entries, path, info: AttributeInfo) -> None:
    known = entries.get(path)
    if known is None:
        entries[path] = info
    elif known != info:
        kind = known.kind if known.kind == info.kind else ("object" if {known.kind, info.kind} == {"object"} else "any")
        arrays = tuple(a or b for a, b in zip(known.arrays, info.arrays))
        entries[path] = AttributeInfo(kind, arrays)


def _members(schemas, schema, seen: frozenset) -> tuple[dict, set[str]]:
    """Properties of a schema through $ref, allOf, oneOf/anyOf and discriminator mappings (a union)."""
    props: dict[str, list] = {}
    types: set[str] = set()
    stack = [(schema, seen)]
    while stack:
        node, visited = stack.pop()
        ref = node.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            if name in visited or name not in schemas:
                continue
            visited = visited | {name}
            node = schemas[name]
        if "type" in node:
            types.add(node["type"] if node.get("format") != "date-time" else "date-time")
        for key in ("allOf", "oneOf", "anyOf"):
            stack.extend((sub, visited) for sub in node.get(key, []))
        for target in (node.get("discriminator") or {}).get("mapping", {}).values():
            stack.append(({"$ref": target}, visited))
        for prop, sub in node.get("properties", {}).items():
            props.setdefault(prop, []).append((sub, visited))
    return props, types


def _collect(schemas, schema, path, arrays, entries, depth, seen) -> None:
    for relative, info in _relative_entries(schemas, schema, depth, {}).items():
        _merge(entries, path + relative, AttributeInfo(info.kind, arrays + info.arrays))


def _relative_entries(schemas, schema, depth, memo) -> dict:
    """Paths below one schema, relative to it. Memoised per referenced schema and depth: the TMF model is a
    dense graph (Resource -> ResourceRefOrValue -> Resource ...), and walking it naively is exponential."""
    key = (schema.get("$ref"), depth) if set(schema) == {"$ref"} else None
    if key is not None and key in memo:
        return memo[key]
    found: dict[tuple[str, ...], AttributeInfo] = {}
    if depth > 0:
        props, _ = _members(schemas, schema, frozenset())
        for prop, variants in props.items():
            for sub, _visited in variants:
                is_array = False
                node = sub
                if node.get("type") == "array":
                    is_array, node = True, node.get("items", {})
                inner_props, item_types = _members(schemas, node, frozenset())
                _merge(found, (prop,), AttributeInfo(_kind(item_types, inner_props), (is_array,)))
                if inner_props:
                    for relative, info in _relative_entries(schemas, node, depth - 1, memo).items():
                        _merge(found, (prop,) + relative, AttributeInfo(info.kind, (is_array,) + info.arrays))
    if key is not None:
        memo[key] = found
    return found


def _kind(types: set[str], props: dict) -> str:
    if props:
        return "object"
    scalars = types - {"object", "array"}
    if len(scalars) == 1:
        return scalars.pop()
    if scalars == {"integer", "number"}:
        return "number"
    return "any"

"""One canonical form per entity in the database; each API version is a view of it, mapped at the edge."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from tmf_oss.tmf.query import Condition


@dataclass
class VersionView:
    """How one API version sees an entity: translate payloads in and representations out.

    `value_maps` rename enum values per top-level attribute (version value -> canonical value);
    `path_map` renames filter paths (version path -> canonical path)."""

    version: str
    to_canonical: Callable[[dict], dict] = lambda doc: doc
    from_canonical: Callable[[dict], dict] = lambda doc: doc
    value_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    path_map: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)

    def canonical_condition(self, condition: Condition) -> Condition:
        path = condition.path
        for prefix, target in self.path_map.items():
            if path[: len(prefix)] == prefix:
                path = target + path[len(prefix):]
                break
        mapping = self.value_maps.get(condition.path[0]) if len(condition.path) == 1 else None
        values = condition.values
        if mapping and condition.op != "regex":
            values = tuple(mapping.get(value, value) for value in values)
        return Condition(path, condition.op, values)


def invert(mapping: dict[str, str]) -> dict[str, str]:
    return {canonical: version_value for version_value, canonical in mapping.items()}


def map_values(doc: dict, value_maps: dict[str, dict[str, str]]) -> dict:
    for name, mapping in value_maps.items():
        value = doc.get(name)
        if isinstance(value, str) and value in mapping:
            doc[name] = mapping[value]
    return doc

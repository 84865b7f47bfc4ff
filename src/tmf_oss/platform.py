"""Everything a process needs, built once from settings: database, API definitions and their collections.

Both the HTTP app and the background worker build one, so events are rendered exactly as the API renders.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

import yaml

from tmf_oss.config import Settings
from tmf_oss.db.engine import Database
from tmf_oss.tmf.catalog import AttributeCatalog
from tmf_oss.tmf.collection import Collection, EntitySpec, ServedVersion
from tmf_oss.tmf.extensions import ExtendedCatalog, ExtensionRegistry
from tmf_oss.tmf.page_cache import PageCache
from tmf_oss.tmf.query import Condition
from tmf_oss.tmf.validation import SchemaValidator
from tmf_oss.tmf.versions import VersionView

SPECS_DIR = Path(__file__).resolve().parent / "specs"


@dataclass(frozen=True)
class VersionDefinition:
    version: str  # "v4" | "v5"
    base_path: str
    spec_file: str  # relative to specs/
    requires_type: bool


@dataclass(frozen=True)
class EntityDefinition:
    spec: EntitySpec
    operation_name: str  # "Resource" as in listResource
    views: dict[str, VersionView]  # the API versions serving this entity, each with its view
    schemas: tuple[str, ...]  # schema names of the family, for the attribute catalogue
    canonical_version: str = "v5"
    # For hooks that need other collections of the same platform (a task resource changing alarms): called
    # once per Platform with it and `spec`, returns the EntitySpec the collection is built with.
    bind: Callable[["Platform", EntitySpec], EntitySpec] | None = None


@dataclass(frozen=True)
class ApiDefinition:
    api: str  # "tmf639"
    title: str
    versions: tuple[VersionDefinition, ...]
    entities: tuple[EntityDefinition, ...] = field(default_factory=tuple)
    # Handlers for operations that are not an entity's CRUD (read sides over other storage), by operationId:
    # extra_operations(platform, version definition, settings) -> {operationId: handler}.
    extra_operations: Callable[..., dict] | None = None
    # Plain HTTP routes beside the API (downloads): routes(platform, settings) -> [(path, name, handler, methods)].
    routes: Callable[..., list] | None = None


_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml parses our large documents ~10x faster


def load_spec(spec_file: str) -> dict:
    with open(SPECS_DIR / spec_file, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_YamlLoader)


def all_apis() -> list[ApiDefinition]:
    from tmf_oss.alarms.api import ALARM_API
    from tmf_oss.catalog.api import SERVICE_CATALOG_API
    from tmf_oss.inventory.api import INVENTORY_API
    from tmf_oss.ordering.api import SERVICE_ORDERING_API
    from tmf_oss.performance.api import PERFORMANCE_API
    from tmf_oss.services.api import SERVICE_INVENTORY_API

    return [INVENTORY_API, ALARM_API, SERVICE_INVENTORY_API, SERVICE_CATALOG_API, SERVICE_ORDERING_API,
            PERFORMANCE_API]


class Platform:
    def __init__(self, settings: Settings, apis: list[ApiDefinition] | None = None):
        self.settings = settings
        self.apis = apis if apis is not None else all_apis()
        self.db = Database(settings.database_url)
        self.specs = {(api.api, v.version): load_spec(v.spec_file) for api in self.apis for v in api.versions}
        # One budget for the list pages of every collection of this process (tmf/page_cache.py).
        self.page_cache = PageCache(settings.list_page_cache_mb * 1024 * 1024)
        self.collections: dict[tuple[str, str], Collection] = {}
        for api in self.apis:
            for entity in api.entities:
                spec = entity.bind(self, entity.spec) if entity.bind else entity.spec
                self.collections[(api.api, spec.name)] = self._collection(api, entity, spec)

    def _collection(self, api: ApiDefinition, entity: EntityDefinition, entity_spec: EntitySpec) -> Collection:
        served = {}
        catalogs = {}
        extensions = ExtensionRegistry(self.db, entity_spec.name)
        for version in api.versions:
            if version.version not in entity.views:
                continue  # an entity of other versions only (TMF642: v4 `ackAlarms`, v5 `ackAlarm`)
            spec = self.specs[(api.api, version.version)]
            catalog = AttributeCatalog.from_openapi(spec, entity.schemas)
            catalogs[version.version] = catalog
            catalog = ExtendedCatalog(catalog, extensions)
            served[version.version] = ServedVersion(
                view=entity.views[version.version], base_path=version.base_path, catalog=catalog,
                validator=SchemaValidator(spec), requires_type=version.requires_type,
                list_parameters=declared_query_parameters(spec, f"/{entity_spec.name}", "get"))
        canonical = merge_catalogs(catalogs, entity.canonical_version, entity.views)
        return Collection(self.db, entity_spec, served, ExtendedCatalog(canonical, extensions),
                          default_limit=self.settings.default_page_size, max_limit=self.settings.max_page_size,
                          page_cache=self.page_cache)

    def collection(self, api: str, entity: str) -> Collection:
        return self.collections[(api, entity)]

    @cached_property
    def versions_by_api(self) -> dict[str, dict[str, VersionDefinition]]:
        return {api.api: {v.version: v for v in api.versions} for api in self.apis}

    def close(self) -> None:
        self.db.dispose()


def declared_query_parameters(spec: dict, path: str, method: str) -> frozenset[str]:
    operation = spec.get("paths", {}).get(path, {}).get(method, {})
    parameters = spec.get("paths", {}).get(path, {}).get("parameters", []) + operation.get("parameters", [])
    names = set()
    for parameter in parameters:
        if "$ref" in parameter:
            parameter = spec["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[-1]]
        if parameter.get("in") == "query":
            names.add(parameter["name"])
    return frozenset(names)


def merge_catalogs(catalogs: dict[str, AttributeCatalog], canonical_version: str,
                   views: dict[str, VersionView]) -> AttributeCatalog:
    """The canonical catalogue: the canonical version's attributes, plus attributes only older versions have
    (stored as they are, e.g. v4 resourceStatus) under their canonical path."""
    if canonical_version not in catalogs:
        canonical_version = next(iter(catalogs))
    entries = catalogs[canonical_version].entries()
    for version, catalog in catalogs.items():
        if version == canonical_version:
            continue
        view = views[version]
        for path, info in catalog.entries().items():
            canonical_path = view.canonical_condition(Condition(path, "eq", ())).path
            if canonical_path not in entries and entries.get(canonical_path[:1]) is None:
                entries[canonical_path] = info
    return AttributeCatalog(entries)

"""Attributes clients add beyond the standard (subtype extensions such as `rackUnits` on an `Equipment`).

The spec cannot list them, yet "filter on any attribute" must include them. Every write records the paths
it carries that the catalogue does not know, with the type their values show; filters, sorting and `fields`
then accept those paths like standard ones, and still refuse names no stored document has ever had.
"""
from __future__ import annotations

import re
import threading
import time

from sqlalchemy import String, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from tmf_oss.db.base import Base
from tmf_oss.tmf.catalog import AttributeCatalog, AttributeInfo

_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")
MAX_DEPTH = 6


class ExtensionAttribute(Base):
    __tablename__ = "extension_attribute"

    collection: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(String(512), primary_key=True)  # dotted
    kind: Mapped[str] = mapped_column(String(16))
    arrays: Mapped[str] = mapped_column(String(16))  # one '1'/'0' per segment


def infer_kind(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "date-time" if _INSTANT.match(value) else "string"
    if isinstance(value, dict):
        return "object"
    return "any"


def discover(document: dict, catalog: AttributeCatalog) -> dict[tuple[str, ...], AttributeInfo]:
    """Paths in the document that the catalogue does not know, with what their values show."""
    found: dict[tuple[str, ...], AttributeInfo] = {}

    def walk(node: dict, path: tuple[str, ...], arrays: tuple[bool, ...]) -> None:
        if len(path) >= MAX_DEPTH:
            return
        for name, value in node.items():
            here = path + (name,)
            is_array = isinstance(value, list)
            items = value if is_array else [value]
            here_arrays = arrays + (is_array,)
            known = catalog.lookup(here)
            if known is not None and known.kind == "any":
                continue  # free-form by the standard: already filterable
            if known is None:
                kinds = {infer_kind(item) for item in items if item is not None}
                kind = kinds.pop() if len(kinds) == 1 else ("number" if kinds == {"integer", "number"} else "any")
                _merge(found, here, AttributeInfo(kind, here_arrays))
            for item in items:
                if isinstance(item, dict):
                    walk(item, here, here_arrays)

    walk(document, (), ())
    return found


def _merge(found: dict, path: tuple[str, ...], info: AttributeInfo) -> None:
    known = found.get(path)
    if known is None or known == info:
        found[path] = info
    else:
        found[path] = AttributeInfo(known.kind if known.kind == info.kind else "any",
                                    tuple(a or b for a, b in zip(known.arrays, info.arrays)))


class ExtensionRegistry:
    """The extension paths of one collection, cached per process and shared through the database."""

    RELOAD_AFTER_SECONDS = 1.0

    def __init__(self, db, collection: str):
        self.db = db
        self.collection = collection
        self._known: dict[tuple[str, ...], AttributeInfo] = {}
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def lookup(self, path: tuple[str, ...]) -> AttributeInfo | None:
        info = self._find(path)
        if info is None and time.monotonic() - self._loaded_at > self.RELOAD_AFTER_SECONDS:
            self._reload()  # another process may have stored it since
            info = self._find(path)
        return info

    def _find(self, path: tuple[str, ...]) -> AttributeInfo | None:
        return AttributeCatalog(self._known).lookup(path)

    def _reload(self) -> None:
        with self.db.read() as connection:
            rows = connection.execute(
                select(ExtensionAttribute.path, ExtensionAttribute.kind, ExtensionAttribute.arrays)
                .where(ExtensionAttribute.collection == self.collection)
            ).all()
        with self._lock:
            self._known = {tuple(path.split(".")): AttributeInfo(kind, tuple(flag == "1" for flag in arrays))
                           for path, kind, arrays in rows}
            self._loaded_at = time.monotonic()

    def record(self, session: Session, found: dict[tuple[str, ...], AttributeInfo]) -> None:
        """Store paths not seen before (inside the writing transaction); a type clash widens to 'any'."""
        if not found:
            return
        if not self._loaded_at:
            self._reload()
        fresh, widened = [], []
        for path, info in found.items():
            known = self._known.get(path)
            if known is None:
                fresh.append((path, info))
            elif known.kind != info.kind and known.kind != "any":
                widened.append(path)
        if fresh:
            insert = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
            session.execute(insert(ExtensionAttribute).values([
                {"collection": self.collection, "path": ".".join(path), "kind": info.kind,
                 "arrays": "".join("1" if flag else "0" for flag in info.arrays)} for path, info in fresh
            ]).on_conflict_do_nothing())
        for path in widened:
            session.execute(update(ExtensionAttribute).where(
                ExtensionAttribute.collection == self.collection, ExtensionAttribute.path == ".".join(path)
            ).values(kind="any"))
        with self._lock:
            for path, info in fresh:
                self._known[path] = info
            for path in widened:
                self._known[path] = AttributeInfo("any", self._known[path].arrays)


class ExtendedCatalog(AttributeCatalog):
    """The standard's attributes first, then the extensions clients have stored."""

    def __init__(self, base: AttributeCatalog, registry: ExtensionRegistry):
        super().__init__(base.entries())
        self.base = base
        self.registry = registry

    def lookup(self, path: tuple[str, ...]) -> AttributeInfo | None:
        return self.base.lookup(path) or self.registry.lookup(path)

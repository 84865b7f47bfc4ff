"""Loading catalog files into the service specification collection.

A catalog file is YAML: a mapping whose `serviceSpecification` member lists TMF633 ServiceSpecification documents,
each with a stable `id` (orders name it). The file tmf-oss ships (default-catalog.yaml) is loaded first, then
`settings.service_catalog_file` if set; an entry of a later file replaces the entry of an earlier one with the same
id. Loading creates the entries the database lacks and rewrites those whose file entry changed since it was last
loaded (through the collection, with their events); it never removes a specification that is not in the files
(clients may have created it), and it leaves alone an entry whose file content is unchanged, even if a client has
edited it since. Every entry of every file is checked before anything is written: one bad entry and nothing loads.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import orjson
import yaml
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError

from tmf_oss.catalog.model import ServiceSpecificationRow
from tmf_oss.catalog.orderable import CatalogError, parse_spec
from tmf_oss.events.outbox import wake_up
from tmf_oss.tmf.collection import RowUpdate, now_text
from tmf_oss.tmf.errors import TmfError

log = logging.getLogger("tmf_oss.catalog")

DEFAULT_CATALOG = Path(__file__).resolve().parent / "default-catalog.yaml"
API, ENTITY, VERSION = "tmf633", "serviceSpecification", "v4"
_SEED_LOCK = 633_000_001  # pg_advisory_xact_lock key: loaders in several processes take turns


@dataclass
class CatalogLoadReport:
    files: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"files": self.files, "created": self.created, "updated": self.updated, "unchanged": self.unchanged}

    def __str__(self) -> str:
        return (f"service catalog: {len(self.created)} created, {len(self.updated)} updated, "
                f"{len(self.unchanged)} unchanged (from {', '.join(self.files)})")


@dataclass(frozen=True)
class _Entry:
    ident: str
    canonical: dict
    digest: str
    source: str


def catalog_files(settings, path: str | Path | None = None) -> list[Path]:
    if path is not None:
        return [Path(path)]
    files = [DEFAULT_CATALOG]
    if settings.service_catalog_file:
        files.append(Path(settings.service_catalog_file))
    return files


def read_entries(collection, files: Iterable[Path]) -> dict[str, _Entry]:
    """Every entry of the files, checked as the API would check it and by the catalog's own rules. Raises
    CatalogError naming the file and the entry."""
    served = collection.served(VERSION)
    entries: dict[str, _Entry] = {}
    for file in files:
        try:
            with open(file, encoding="utf-8") as handle:
                content = yaml.safe_load(handle)
        except OSError as exc:
            raise CatalogError(f"catalog file {file}: cannot be read: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise CatalogError(f"catalog file {file}: not valid YAML: {exc}") from None
        if not isinstance(content, dict) or not isinstance(content.get("serviceSpecification"), list):
            raise CatalogError(f"catalog file {file}: expected a mapping with a 'serviceSpecification' list")
        seen: set[str] = set()
        for index, raw in enumerate(content["serviceSpecification"]):
            where = f"catalog file {file}, entry #{index + 1}"
            if not isinstance(raw, dict):
                raise CatalogError(f"{where}: must be a ServiceSpecification object")
            ident = raw.get("id")
            if not isinstance(ident, str) or not ident.strip():
                raise CatalogError(f"{where}: needs an 'id' (a stable identifier orders refer to)")
            where = f"catalog file {file}, entry '{ident}'"
            if ident in seen:
                raise CatalogError(f"{where}: the id appears twice in the file")
            seen.add(ident)
            entries[ident] = _entry(collection, served, ident, raw, where, str(file))
    return entries


def _entry(collection, served, ident: str, raw: dict, where: str, source: str) -> _Entry:
    payload = {key: value for key, value in raw.items() if key not in ("id", "href")}
    if not isinstance(payload.get("name"), str) or not payload["name"]:
        raise CatalogError(f"{where}: needs a 'name'")
    try:
        # JSON round trip: YAML may give dates or other types a JSON document cannot hold
        payload = orjson.loads(orjson.dumps(payload))
        served.validator.check(payload, "ServiceSpecification_Create")
        canonical = served.view.to_canonical(payload)
        collection.spec.family.settle(canonical)
    except TmfError as exc:
        raise CatalogError(f"{where}: {exc.message or exc.reason}") from None
    except TypeError as exc:
        raise CatalogError(f"{where}: holds a value JSON cannot represent: {exc}") from None
    for name in collection.spec.server_owned:
        canonical.pop(name, None)
    try:
        parse_spec(ident, canonical)
    except CatalogError as exc:
        raise CatalogError(f"{where}: {exc}") from None
    digest = hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return _Entry(ident, canonical, digest, source)


def load_catalog(platform, path: str | Path | None = None, *, base_url: str) -> CatalogLoadReport:
    """Load catalog files into the database (see the module description). `path=None`: the shipped catalog
    plus settings.service_catalog_file. Safe when several processes load at once."""
    collection = platform.collection(API, ENTITY)
    files = catalog_files(platform.settings, path)
    entries = read_entries(collection, files)
    for attempt in range(3):
        try:
            report = _write(platform, collection, entries, base_url)
            break
        except (IntegrityError, OperationalError):
            # Another process created the same entries first (SQLite: or held the write lock): read again.
            if attempt == 2:
                raise
    report.files = [str(file) for file in files]
    if report.created or report.updated:
        wake_up.notify()
    return report


def _write(platform, collection, entries: dict[str, _Entry], base_url: str) -> CatalogLoadReport:
    report = CatalogLoadReport()
    model = ServiceSpecificationRow
    with platform.db.transaction() as session:
        if platform.db.dialect == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SEED_LOCK})
        existing = {row.id: row for row in session.execute(
            select(model.seq, model.id, model.version, model.doc, model.seed_digest)
            .where(model.id.in_(sorted(entries)))).all()}
        fresh, changes, adopted = [], [], []
        for ident, entry in entries.items():
            row = existing.get(ident)
            if row is None:
                fresh.append((ident, {**entry.canonical, "lastUpdate": now_text()}))
                report.created.append(ident)
            elif row.seed_digest == entry.digest:
                report.unchanged.append(ident)
            elif {k: v for k, v in row.doc.items() if k != "lastUpdate"} == entry.canonical:
                adopted.append(ident)  # stored as the file says already: only remember the file entry
                report.unchanged.append(ident)
            else:
                changes.append(RowUpdate(seq=row.seq, ident=ident, version=row.version, previous=row.doc,
                                         canonical={**entry.canonical, "lastUpdate": now_text()}))
                report.updated.append(ident)
        if fresh:
            collection.insert(session, fresh, base_url=base_url, correlation_id=None)
        if changes:
            collection.update_rows(session, changes, base_url=base_url, correlation_id=None)
        for ident in report.created + report.updated + adopted:
            session.execute(update(model).where(model.id == ident).values(seed_digest=entries[ident].digest))
    return report


def ensure_catalog(platform) -> CatalogLoadReport:
    """What `serve` and `worker` run at start: load the shipped catalog and the configured file, with the public
    base URL of the settings (or the listening address) in the events' hrefs."""
    settings = platform.settings
    base_url = settings.public_base_url or f"http://{settings.host}:{settings.port}"
    report = load_catalog(platform, base_url=base_url)
    log.info("%s", report)
    return report

"""Generic TMF collection operations (list, create, retrieve, patch, delete) over one entity table.

A domain describes its entity once (an EntitySpec); this module does the rest the same way for every API:
version mapping, polymorphism, filtering, paging, fields, PATCH, ETag/If-Match, counts and events.
"""
from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import orjson
from sqlalchemy import ARRAY, DateTime, any_, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tmf_oss.db.base import rfc3339, utcnow
from tmf_oss.db.bulk import update_rows_where_version
from tmf_oss.db.coalesced_read import CoalescedReads
from tmf_oss.db.engine import Database
from tmf_oss.db.fast_read import DynamicReads, FastRead
from tmf_oss.db.locking import locked
from tmf_oss.events.outbox import emit, wake_up
from tmf_oss.tmf.catalog import AttributeCatalog
from tmf_oss.tmf.counts import CollectionCount, count_change
from tmf_oss.tmf.errors import TmfError, bad_request, not_found
from tmf_oss.tmf.etags import check_if_match, etag
from tmf_oss.tmf.extensions import ExtendedCatalog, discover
from tmf_oss.tmf.fields import Selection, select_fields
from tmf_oss.tmf.jsonpath_filter import compile_filter
from tmf_oss.tmf.lru import BoundedCache
from tmf_oss.tmf.page_cache import PageCache
from tmf_oss.tmf.patch import PatchError, apply_patch, media_kind
from tmf_oss.tmf.polymorphism import TypeFamily
from tmf_oss.tmf.query import RESERVED, Condition, parse_conditions, parse_instant
from tmf_oss.tmf.sql_filter import (
    FilterTarget,
    all_of,
    compile_conditions,
    compile_sort,
)
from tmf_oss.tmf.validation import SchemaValidator
from tmf_oss.tmf.versions import VersionView

IDENTITY = ("id", "href")


@dataclass
class EntitySpec:
    name: str  # collection path segment and event payload key, e.g. "resource"
    api: str  # e.g. "tmf639"
    model: type  # ORM class with seq, id, type, base_type, version, created_at, updated_at, doc
    family: TypeFamily
    event_prefix: str  # "Resource" -> ResourceCreateEvent, ...
    columns: dict[str, str] = field(default_factory=dict)  # TMF attribute -> typed ORM column kept in step with doc
    # Nested attribute paths ("alarmedObject.id") that filters and sorts read from a column the entity keeps in step
    # itself (derived_columns), rather than from the document.
    column_paths: dict[str, str] = field(default_factory=dict)
    state_fields: frozenset[str] = frozenset()
    # Members whose change the standard announces with an event of its own (member -> event kind, e.g. TMF638
    # operatingStatus -> OperatingStatusChangeEvent) instead of the attribute-value change event.
    member_events: dict[str, str] = field(default_factory=dict)
    server_owned: frozenset[str] = frozenset()  # maintained by us: refused in PATCH, ignored on create
    fixed: frozenset[str] = frozenset()  # set by the client at creation, refused in PATCH afterwards
    on_create: Callable[[dict], None] | None = None  # fill in server-owned members of a new entity
    # Keeps side tables in step with a written row, e.g. links (on_write(session, row, canonical, created=...),
    # row with seq and id), on every path: create, insert, PATCH and update_rows.
    on_write: Callable[..., None] | None = None
    # Runs in the creating transaction before the row is built, and may complete the document: a task
    # resource does its work here (on_insert(session, canonical, WriteContext)), all or nothing with the row.
    on_insert: Callable[..., None] | None = None
    # Checks a PATCH against the entity's life-cycle and fills in what follows from it (on_update(previous,
    # canonical), raising a TmfError for a change the domain does not allow).
    on_update: Callable[[dict, dict], None] | None = None
    # API version -> column holding that version's representation (without id/href) as JSON text, rendered
    # when the entity is written, so reads send stored text instead of parsing and re-serialising documents.
    rendered_columns: dict[str, str] = field(default_factory=dict)
    # Further column values computed from the canonical document on every write (lookup keys a domain needs
    # that are not one attribute, e.g. an alarm's deduplication key).
    derived_columns: Callable[[dict], dict] | None = None
    # Checks a PATCH that needs the database (on_patch(session, previous, canonical, WriteContext)), in the
    # patching transaction after on_update: what a referenced entity allows, e.g. an order's items.
    on_patch: Callable[..., None] | None = None
    # Refuses a DELETE the life-cycle does not allow (on_delete(doc) raises a TmfError).
    on_delete: Callable[[dict], None] | None = None
    # Whether the API defines events for the entity at all (TMF628 has none for indicator specifications).
    events: bool = True
    # Event kind (CreateEvent, AttributeValueChangeEvent, StateChangeEvent, DeleteEvent) -> the event's name,
    # where the API does not call it event_prefix + kind (TMF633 v4: ServiceSpecificationChangeEvent).
    event_names: dict[str, str] = field(default_factory=dict)
    # Nested attribute paths (canonical, "resourceCharacteristic.value") whose scalar values the database keeps in
    # value_table (path, value, seq; see inventory/model.py ResourceValueRow): PostgreSQL equality filters on them
    # read that table instead of testing every document the GIN index proposes.
    value_index_paths: tuple[str, ...] = ()
    value_table: type | None = None


@dataclass(frozen=True)
class InsertedRow:
    seq: int
    id: str


@dataclass
class RowUpdate:
    """One entity rewritten inside a caller's transaction (see Collection.update_rows)."""

    seq: int
    ident: str
    version: int  # the version read; the write fails if another writer moved it on
    previous: dict  # canonical document as read
    canonical: dict  # canonical document to store


@dataclass(frozen=True)
class WriteContext:
    """What a domain hook needs to emit events of its own in the same transaction."""

    base_url: str
    correlation_id: str | None
    ident: str | None = None  # the id of the entity being created (on_insert)


@dataclass
class ServedVersion:
    view: VersionView
    base_path: str
    catalog: AttributeCatalog
    validator: SchemaValidator
    requires_type: bool  # v5 makes @type mandatory in every representation
    list_parameters: frozenset[str] = frozenset()  # query parameters the list operation declares


@dataclass
class _PageRequest:
    """A list request checked and normalised; `key` names its page in the kept pages (None: not kept)."""
    served: ServedVersion
    version: str
    conditions: list
    base_url: str
    offset: int
    limit: int
    sort: str | None
    selection: Selection | None
    jsonpath_filter: str | None
    key: tuple | None


@dataclass
class Page:
    body: bytes  # the JSON array, ready to send
    count: int
    total: int


class Collection:
    def __init__(self, db: Database, spec: EntitySpec, versions: dict[str, ServedVersion],
                 canonical_catalog: AttributeCatalog, *, default_limit: int = 100, max_limit: int = 1000,
                 page_cache: PageCache | None = None):
        self.db = db
        self.spec = spec
        self.versions = versions
        self.default_limit = default_limit
        self.max_limit = max_limit
        model = spec.model
        columns = {attr: getattr(model, column) for attr, column in spec.columns.items()}
        self._instant_columns = {column for column in spec.columns.values()
                                 if isinstance(getattr(model, column).type, DateTime)}
        columns["id"] = model.id
        columns["@type"] = model.type
        columns.update({path: getattr(model, column) for path, column in spec.column_paths.items()})
        self.target = FilterTarget(canonical_catalog, model.doc, db.dialect, columns, model.seq, spec.value_table,
                                   frozenset(spec.value_index_paths))
        # Built once: constructing statements per request shows up in profiles of the hot read paths.
        self._body_columns = {version: getattr(model, column) for version, column in spec.rendered_columns.items()}
        self._count_statement = select(CollectionCount.total).where(CollectionCount.name == spec.name)
        self._reads = DynamicReads(db)
        # ORM attribute -> table column name (they differ where a column name says more, e.g. at_type)
        self._column_names = {attribute.key: attribute.columns[0].name
                              for attribute in model.__mapper__.column_attrs}
        # Filtered counts by query, each valid for the generation it was taken at (exact, never stale).
        self._counts = BoundedCache(1024)
        self._pages = page_cache if page_cache is not None else PageCache(0)
        generation = select(CollectionCount.generation).where(CollectionCount.name == spec.name)
        self._fast_generation = FastRead(db, generation)
        # The handlers' reads: concurrent requests share a statement (db/coalesced_read.py).
        self._generation_reads = CoalescedReads(self._generation_now)
        self._generation_column = generation.scalar_subquery().label("generation")
        self._fast_retrieve = {
            version: FastRead(db, select(column, model.version).where(model.id == bindparam("ident")))
            for version, column in self._body_columns.items()
        }
        self._fast_retrieve_many = {
            version: FastRead(db, select(model.id, column, model.version)
                              .where(model.id == any_(bindparam("idents", type_=ARRAY(model.id.type)))))
            for version, column in self._body_columns.items()
        } if db.read_engine.dialect.name == "postgresql" else {}
        self._retrieve_reads = {
            version: CoalescedReads(functools.partial(self._stored_bodies_by_id, version))
            for version in self._body_columns
        }
        self._fast_page = {
            version: FastRead(db, select(model.id, column, self._count_statement.scalar_subquery(),
                                         self._generation_column)
                              .order_by(model.seq).limit(bindparam("limit")).offset(bindparam("offset")))
            for version, column in self._body_columns.items()
        }
        self._retrieve_statements = {
            version: select(self._body_columns.get(version, model.doc), model.version)
            .where(model.id == bindparam("ident"))
            for version in versions
        }

    # --- representation --------------------------------------------------------------------------------

    def href(self, served: ServedVersion, base_url: str, ident: str) -> str:
        return f"{base_url}{served.base_path}/{self.spec.name}/{ident}"

    def render(self, served: ServedVersion, base_url: str, ident: str, doc: dict,
               selection: Selection | None = None) -> dict:
        shaped = served.view.from_canonical(dict(doc))
        body = {"id": ident, "href": self.href(served, base_url, ident)}
        body.update(shaped)
        if selection is None:
            return body
        return select_fields(body, selection, ("@type",) if served.requires_type else ())

    def served(self, version: str) -> ServedVersion:
        return self.versions[version]

    # --- list ------------------------------------------------------------------------------------------

    def conditions(self, served: ServedVersion, pairs: Iterable[tuple[str, str]]) -> list[Condition]:
        # Only what this version declares is a parameter; anything else is an attribute filter (v4 has no
        # `filter=`, so there it is an unknown attribute, not silently ignored).
        parsed = parse_conditions(pairs, served.list_parameters or RESERVED)
        for condition in parsed:
            if served.catalog.lookup(condition.path) is None:
                raise bad_request(f"Unknown attribute '{condition.dotted}'", reason="Invalid filter")
        return [served.view.canonical_condition(condition) for condition in parsed]

    def stored_query(self, version: str, pairs: Sequence[tuple[str, str]]):
        """The SQL condition of a query that domain code keeps and applies later (a collection job's monitored
        objects, a threshold's objectFilter): attribute filters only, as in a list request's query string. An
        unknown attribute is the same 400 as in a list; a list parameter (limit, fields...) is a 400 too, since a
        stored query selects entities and has no page. None when it has no condition."""
        served = self.served(version)
        parameters = RESERVED | served.list_parameters
        for key, _ in pairs:
            if key in parameters:
                raise bad_request(f"'{key}' is a list parameter, not an attribute", reason="Invalid filter")
        return all_of(compile_conditions(self.conditions(served, pairs), self.target))

    def ids_matching(self, session: Session, version: str, pairs: Sequence[tuple[str, str]]) -> list[str]:
        """The ids of every entity a stored query (see stored_query) selects, in creation order, read in the
        caller's transaction."""
        where = self.stored_query(version, pairs)
        statement = select(self.spec.model.id).order_by(self.spec.model.seq)
        if where is not None:
            statement = statement.where(where)
        return list(session.execute(statement).scalars())

    def list(self, version: str, pairs: Sequence[tuple[str, str]], *, base_url: str, offset: int | None,
             limit: int | None, sort: str | None, selection: Selection | None,
             jsonpath_filter: str | None = None) -> Page:
        request = self._page_request(version, pairs, base_url, offset, limit, sort, selection, jsonpath_filter)
        if request.key is not None:
            kept = self._pages.get(request.key)
            if kept is not None:
                now = self._fast_generation.rows()
                if now and now[0][0] == kept[0]:
                    return kept[1]
        return self._read_and_keep(request)

    async def kept_page(self, request_identity: tuple) -> Page | None:
        """For a request handler on an event loop: the page kept for a request of this identity (its version,
        public base URL and raw query string: everything a page depends on besides the stored rows), if the
        collection has not been written since it was read; the check shares its statement with the other
        requests in flight (db/coalesced_read.py). None: read it with `read_page`."""
        if not self._pages.enabled:
            return None
        kept = self._pages.get((self.spec.api, self.spec.name) + request_identity)
        if kept is not None and await self._generation_reads.get(None) == kept[0]:
            return kept[1]
        return None

    def read_page(self, version: str, pairs: Sequence[tuple[str, str]], *, request_identity: tuple,
                  base_url: str, offset: int | None, limit: int | None, sort: str | None,
                  selection: Selection | None, jsonpath_filter: str | None = None) -> Page:
        """`list` without looking for a kept page first; the page read is kept under `request_identity` (see
        `kept_page`)."""
        request = self._page_request(version, pairs, base_url, offset, limit, sort, selection, jsonpath_filter,
                                     key=(self.spec.api, self.spec.name) + request_identity)
        return self._read_and_keep(request)

    def _generation_now(self, _keys) -> dict:
        found = self._fast_generation.rows()
        return {None: found[0][0]} if found else {}

    def _page_request(self, version, pairs, base_url, offset, limit, sort, selection, jsonpath_filter,
                      key: tuple | None = None) -> _PageRequest:
        served = self.served(version)
        offset, limit = self._paging(offset, limit)
        conditions = self.conditions(served, pairs)
        if not self._pages.enabled:
            key = None
        elif key is None:
            key = (self.spec.api, self.spec.name, version, base_url, offset, limit, sort,
                   None if selection is None else repr(selection), tuple(sorted(conditions, key=repr)),
                   jsonpath_filter)
        return _PageRequest(served, version, conditions, base_url, offset, limit, sort, selection,
                            jsonpath_filter, key)

    def _read_and_keep(self, request: _PageRequest) -> Page:
        page, generation = self._read_page(
            request.served, request.version, request.conditions, base_url=request.base_url,
            offset=request.offset, limit=request.limit, sort=request.sort, selection=request.selection,
            jsonpath_filter=request.jsonpath_filter)
        if request.key is not None and generation is not None:
            self._pages.put(request.key, generation, page)
        return page

    def _read_page(self, served: ServedVersion, version: str, conditions: list[Condition], *, base_url: str,
                   offset: int, limit: int, sort: str | None, selection: Selection | None,
                   jsonpath_filter: str | None) -> tuple[Page, int | None]:
        """The page, and the write generation it was read at where everything in it (rows and total) comes
        from that one generation; None where it does not."""
        clauses = compile_conditions(conditions, self.target)
        if jsonpath_filter is not None:
            clauses.append(compile_filter(jsonpath_filter, self.target))
        where = all_of(clauses)
        order = compile_sort(self._canonical_sort(served, sort), self.target)
        model = self.spec.model
        body_column = self._body_columns.get(version) if selection is None else None
        if where is None and not order and body_column is not None and limit:
            rows = self._fast_page[version].rows(limit=limit, offset=offset)
            if rows and rows[0][2] is not None and all(body is not None for _, body, *_ in rows):
                items = [self._with_identity(served, base_url, ident, body) for ident, body, *_ in rows]
                return Page(b"[" + b",".join(items) + b"]", len(items), rows[0][2]), rows[0][3]
        # The kept count (unfiltered) and the generation come with the page: one round trip.
        kept = select(CollectionCount.total).where(
            CollectionCount.name == self.spec.name).scalar_subquery().label("kept")
        # Pick the page's keys first and fetch the representations for those rows only: sorting many
        # matches then carries a key each, not a document each.
        page_keys = select(model.seq)
        if where is not None:
            page_keys = page_keys.where(where)
        page_keys = page_keys.order_by(*order, model.seq).offset(offset).limit(limit)
        columns = [model.id, body_column if body_column is not None else model.doc, kept, self._generation_column]
        statement = select(*columns).where(model.seq.in_(page_keys.scalar_subquery())).order_by(*order, model.seq)
        rows = self._reads.rows(statement)
        generation = rows[0][3] if rows else None
        if where is None and rows and rows[0][2] is not None:
            total, counted_at = rows[0][2], generation
        else:
            key = (tuple(sorted(conditions, key=repr)), jsonpath_filter)
            total, counted_at = self._total(where, offset, limit, len(rows), key, generation)
        if body_column is not None:
            items = self._stored_bodies(served, base_url, rows)
        else:
            items = [orjson.dumps(self.render(served, base_url, ident, doc, selection))
                     for ident, doc, *_ in rows]
        page = Page(b"[" + b",".join(items) + b"]", len(items), total)
        return page, generation if counted_at == generation else None

    def _stored_bodies(self, served: ServedVersion, base_url: str, rows) -> list[bytes]:
        missing = [ident for ident, body, *_ in rows if body is None]
        docs = {}
        if missing:  # written before this version's column existed: render from the document
            model = self.spec.model
            docs = dict(self._reads.rows(select(model.id, model.doc).where(model.id.in_(missing))))
        return [self._with_identity(served, base_url, ident, body) if body is not None
                else orjson.dumps(self.render(served, base_url, ident, docs[ident]))
                for ident, body, *_ in rows]

    def _with_identity(self, served: ServedVersion, base_url: str, ident: str, body: str) -> bytes:
        """id and href in front of a stored representation, without parsing it."""
        head = b'{"id":' + orjson.dumps(ident) + b',"href":' + orjson.dumps(self.href(served, base_url, ident))
        return head + b"}" if body == "{}" else head + b"," + body[1:].encode()

    def _rendered(self, canonical: dict) -> dict[str, str]:
        """Column values holding each version's representation of this canonical document."""
        rendered = {}
        for version, column in self._body_columns.items():
            if column.key not in rendered:  # versions may share a column when they render alike
                rendered[column.key] = orjson.dumps(
                    self.versions[version].view.from_canonical(dict(canonical))).decode()
        return rendered

    def _paging(self, offset: int | None, limit: int | None) -> tuple[int, int]:
        offset = 0 if offset is None else offset
        limit = self.default_limit if limit is None else limit
        if offset < 0:
            raise bad_request("offset must be zero or more", reason="Invalid paging")
        if limit < 0:
            raise bad_request("limit must be zero or more", reason="Invalid paging")
        return offset, min(limit, self.max_limit)

    def _canonical_sort(self, served: ServedVersion, sort: str | None) -> str | None:
        if not sort:
            return sort
        keys = []
        for key in sort.split(","):
            key = key.strip()
            if not key:
                continue
            sign = "-" if key.startswith("-") else ""
            path = tuple(key.lstrip("+-").split("."))
            if served.catalog.lookup(path) is None:
                raise bad_request(f"Unknown attribute '{'.'.join(path)}'", reason="Invalid sort")
            canonical = served.view.canonical_condition(Condition(path, "eq", ())).path
            keys.append(sign + ".".join(canonical))
        return ",".join(keys)

    def _total(self, where, offset: int, limit: int, returned: int, key, generation) -> tuple[int, int | None]:
        """The number of matches, and the generation it was counted at (`generation`, the page's, when the page
        itself tells it)."""
        if limit and (0 < returned < limit or (returned == 0 and offset == 0)):
            return offset + returned, generation  # the page ends before the limit: known without counting
        if where is None:
            found = self._reads.rows(self._count_statement)
            if found:
                return found[0][0], None
        cached = self._counts.get(key)
        if cached is not None and generation is not None and cached[0] == generation:
            return cached[1], generation
        generation_now = select(CollectionCount.generation).where(
            CollectionCount.name == self.spec.name).scalar_subquery()
        statement = select(func.count(), generation_now).select_from(self.spec.model)
        if where is not None:
            statement = statement.where(where)
        total, counted_at = self._reads.rows(statement)[0]
        if counted_at is not None:
            self._counts.put(key, (counted_at, total))
        return total, counted_at

    # --- retrieve --------------------------------------------------------------------------------------

    def retrieve(self, version: str, ident: str, *, base_url: str,
                 selection: Selection | None) -> tuple[bytes, str]:
        """The representation as JSON bytes, and its ETag."""
        if selection is None and version in self._fast_retrieve:
            found = self._fast_retrieve[version].rows(ident=ident)
            if found and found[0][0] is not None:
                return self._identified(version, base_url, ident, found[0])
        return self._retrieve_slowly(version, ident, base_url=base_url, selection=selection)

    async def retrieve_coalesced(self, version: str, ident: str, *, base_url: str,
                                 selection: Selection | None) -> tuple[bytes, str]:
        """`retrieve` for a request handler on an event loop: the stored representation is read together with
        those of the other requests in flight (db/coalesced_read.py)."""
        if selection is None and version in self._retrieve_reads:
            found = await self._retrieve_reads[version].get(ident)
            if found is not None and found[0] is not None:
                return self._identified(version, base_url, ident, found)
        return self._retrieve_slowly(version, ident, base_url=base_url, selection=selection)

    def _stored_bodies_by_id(self, version: str, idents: list[str]) -> dict[str, tuple]:
        """ident -> (stored representation, row version) for those that exist."""
        many = self._fast_retrieve_many.get(version)
        if many is not None and len(idents) > 1:  # (PostgreSQL answers one key faster by equality than by ANY)
            return {ident: (body, row_version) for ident, body, row_version in many.rows(idents=idents)}
        one = self._fast_retrieve[version]  # one key; or SQLite, where a call per key costs no round trip
        found = {}
        for ident in idents:
            rows = one.rows(ident=ident)
            if rows:
                found[ident] = rows[0]
        return found

    def _identified(self, version: str, base_url: str, ident: str, stored: tuple) -> tuple[bytes, str]:
        body, row_version = stored
        return self._with_identity(self.served(version), base_url, ident, body), etag(row_version)

    def _retrieve_slowly(self, version: str, ident: str, *, base_url: str,
                         selection: Selection | None) -> tuple[bytes, str]:
        """Through SQLAlchemy: a selection of fields, a version without a stored representation, rows written
        before it had one, and unknown ids."""
        served = self.served(version)
        with self.db.read() as connection:
            row = connection.execute(self._retrieve_statements[version], {"ident": ident}).first()
            if row is None:
                raise not_found(self.spec.name, ident)
            stored, row_version = row
            if version in self._body_columns:
                if stored is not None and selection is None:
                    return self._with_identity(served, base_url, ident, stored), etag(row_version)
                model = self.spec.model
                stored = connection.execute(select(model.doc).where(model.id == ident)).scalar_one()
        return orjson.dumps(self.render(served, base_url, ident, stored, selection)), etag(row_version)

    # --- create ----------------------------------------------------------------------------------------

    def create(self, version: str, payload: dict, *, base_url: str, correlation_id: str | None,
               selection: Selection | None = None) -> tuple[dict, str]:
        return self.create_many(version, [payload], base_url=base_url, correlation_id=correlation_id,
                                selection=selection)[0]

    def create_many(self, version: str, payloads: Sequence[dict], *, base_url: str, correlation_id: str | None,
                    selection: Selection | None = None) -> list[tuple[dict, str]]:
        """Create several entities in one transaction (all or none), each with its event: what a discovery
        run or a burst of faults writes. Rows go in with one multi-row INSERT and the count moves once."""
        served = self.served(version)
        prepared = [self._new_entity(served, payload) for payload in payloads]
        try:
            with self.db.transaction() as session:
                if self.spec.on_insert:
                    for ident, canonical in prepared:
                        self.spec.on_insert(session, canonical, WriteContext(base_url, correlation_id, ident))
                self.insert(session, prepared, base_url=base_url, correlation_id=correlation_id)
        except IntegrityError:
            idents = ", ".join(f"'{ident}'" for ident, _ in prepared)
            raise TmfError(409, "Conflict", f"a {self.spec.name} with id {idents} already exists") from None
        wake_up.notify()
        return [(self.render(served, base_url, ident, canonical, selection), etag(1)) for ident, canonical in prepared]

    def insert(self, session: Session, prepared: Sequence[tuple[str, dict]], *, base_url: str,
               correlation_id: str | None, standard_only: bool = False) -> list:
        """New entities (id, canonical document) into the caller's transaction, with their events and count.
        For domain code that writes many entities at once (the fault engine); the caller commits, then calls
        `wake_up.notify()`. Returns the new rows' keys (seq, id), in order. `standard_only`: the caller only
        writes attributes of the standard (no client extensions to record)."""
        model = self.spec.model
        now = utcnow()
        values = [{"id": ident, "version": 1, "doc": canonical, "created_at": now, "updated_at": now,
                   **self._typed_columns(canonical), **self._rendered(canonical)} for ident, canonical in prepared]
        # A bulk INSERT ... RETURNING, sent as multi-row statements. (Asking for the rows back in parameter order
        # would make SQLAlchemy send them one by one here: matched by id instead.)
        seqs = dict((ident, seq) for seq, ident in session.execute(insert(model).returning(model.seq, model.id),
                                                                    values))
        rows = [InsertedRow(seqs[ident], ident) for ident, _ in prepared]
        for row, (ident, canonical) in zip(rows, prepared):
            if not standard_only:
                self._record_extensions(session, canonical)
            if self.spec.on_write:
                self.spec.on_write(session, row, canonical, created=True)
        self._count(session, len(rows))
        for ident, canonical in prepared:
            self._emit(session, "CreateEvent", ident, canonical, base_url, correlation_id)
        return rows

    def update_rows(self, session: Session, updates: Sequence[RowUpdate], *, base_url: str,
                    correlation_id: str | None, standard_only: bool = False) -> None:
        """Rewrite existing entities in the caller's transaction: one executemany UPDATE guarded by each row's
        version, then the attribute-value and state change events each change calls for. Raises a 409 TmfError
        when another writer changed one of the rows since it was read."""
        if not updates:
            return
        model = self.spec.model
        now = utcnow()
        rows = []
        for change in updates:
            values = self._typed_columns(change.canonical)
            values.update(doc=change.canonical, version=change.version + 1, updated_at=now,
                          **self._rendered(change.canonical))
            row = {self._column_names[key]: value for key, value in values.items()}
            row.update(seq=change.seq, expected_version=change.version)
            rows.append(row)
        updated = update_rows_where_version(session.connection(), model.__table__, rows)
        if updated not in (-1, len(updates)):
            raise TmfError(409, "Conflict", f"a {self.spec.name} was changed concurrently; retry")
        self._count(session, 0)
        for change in updates:
            if not standard_only:
                self._record_extensions(session, change.canonical)
            if self.spec.on_write:
                self.spec.on_write(session, InsertedRow(change.seq, change.ident), change.canonical, created=False)
            changed = {name for name in set(change.previous) | set(change.canonical)
                       if change.previous.get(name) != change.canonical.get(name)}
            self._change_events(session, changed, change.ident, change.canonical, base_url, correlation_id)

    def _change_events(self, session: Session, changed: set[str], ident: str, canonical: dict, base_url: str,
                       correlation_id: str | None) -> None:
        """The events a change of these members calls for: state, members with events of their own, the rest."""
        own = self.spec.member_events
        if changed - self.spec.state_fields - own.keys():
            self._emit(session, "AttributeValueChangeEvent", ident, canonical, base_url, correlation_id)
        if changed & self.spec.state_fields:
            self._emit(session, "StateChangeEvent", ident, canonical, base_url, correlation_id)
        for kind in dict.fromkeys(own[name] for name in own if name in changed):
            self._emit(session, kind, ident, canonical, base_url, correlation_id)

    def prepare(self, version: str, payload: dict) -> tuple[str, dict]:
        """(id, canonical document) of a new entity as `create` would store it, for domain code that inserts it
        in its own transaction (`insert`)."""
        return self._new_entity(self.served(version), payload)

    def remove(self, session: Session, ident: str, *, base_url: str, correlation_id: str | None) -> dict | None:
        """Delete an entity in the caller's transaction, with its event; returns its document (None if absent)."""
        row = session.execute(select(self.spec.model).where(self.spec.model.id == ident)).scalar_one_or_none()
        if row is None:
            return None
        doc = row.doc
        session.delete(row)
        self._count(session, -1)
        self._emit(session, "DeleteEvent", ident, doc, base_url, correlation_id)
        return doc

    def _new_entity(self, served: ServedVersion, payload: dict) -> tuple[str, dict]:
        payload = dict(payload)
        payload.pop("href", None)
        ident = str(payload.pop("id", None) or uuid.uuid4())
        canonical = self._canonical(served, payload)
        for name in self.spec.server_owned:
            canonical.pop(name, None)
        if self.spec.on_create:
            self.spec.on_create(canonical)
        return ident, canonical

    def _canonical(self, served: ServedVersion, payload: dict) -> dict:
        canonical = served.view.to_canonical(payload)
        self.spec.family.settle(canonical)
        return canonical

    def _record_extensions(self, session: Session, canonical: dict) -> None:
        catalog = self.target.catalog
        if isinstance(catalog, ExtendedCatalog):
            catalog.registry.record(session, discover(canonical, catalog.base))

    def _typed_columns(self, canonical: dict) -> dict:
        values = {}
        for attr, column in self.spec.columns.items():
            value = canonical.get(attr)
            if column in self._instant_columns:
                values[column] = _instant(value) if isinstance(value, str) else utcnow()
            else:
                values[column] = _scalar(value)
        values["type"] = canonical["@type"]
        values["base_type"] = canonical.get("@baseType")
        if self.spec.derived_columns:
            values.update(self.spec.derived_columns(canonical))
        return values

    def _count(self, session: Session, delta: int) -> None:
        """Keep the row count and move the generation on, when the writing transaction commits."""
        count_change(session, self.spec.name, delta)

    def emit_event(self, session: Session, suffix: str, ident: str, canonical: dict, *, base_url: str,
                   correlation_id: str | None) -> None:
        """An event of this entity beyond create/change/delete (e.g. ServiceOrderMilestoneEvent), in the
        caller's transaction."""
        self._emit(session, suffix, ident, canonical, base_url, correlation_id)

    def _emit(self, session: Session, suffix: str, ident: str, canonical: dict, base_url: str,
              correlation_id: str | None) -> None:
        if not self.spec.events:
            return
        event_type = self.spec.event_names.get(suffix) or self.spec.event_prefix + suffix
        emit(session, api=self.spec.api, event_type=event_type, entity_name=self.spec.name,
             entity={"id": ident, **canonical}, base_url=base_url, correlation_id=correlation_id)

    # --- patch -----------------------------------------------------------------------------------------

    def patch(self, version: str, ident: str, body, *, content_type: str | None, if_match: str | None,
              base_url: str, correlation_id: str | None, selection: Selection | None = None) -> tuple[dict, str]:
        served = self.served(version)
        try:
            kind = media_kind(content_type)
        except PatchError as exc:
            raise TmfError(exc.status, "Unsupported patch", exc.message) from None
        model = self.spec.model
        with self.db.transaction() as session:
            row = self._locked_row(session, ident, if_match)
            current = self.render(served, base_url, ident, row.doc)
            try:
                patched = apply_patch(current, body, kind, immutable=frozenset(IDENTITY) | self.spec.fixed,
                                      server_owned=self.spec.server_owned)
            except PatchError as exc:
                raise TmfError(exc.status, "Invalid patch", exc.message) from None
            patched.pop("id", None)
            patched.pop("href", None)
            if served.requires_type and "@type" not in patched:
                raise bad_request("'@type' cannot be removed", reason="Invalid patch")
            canonical = self._canonical(served, patched)
            for name in self.spec.server_owned:
                if name in row.doc:
                    canonical[name] = row.doc[name]
            if self.spec.on_update:
                self.spec.on_update(row.doc, canonical)
            if self.spec.on_patch:
                self.spec.on_patch(session, row.doc, canonical, WriteContext(base_url, correlation_id, ident))
            standard_class = self.spec.family.settle(canonical)
            served.validator.check(self.render(served, base_url, ident, canonical), standard_class)
            changed = {name for name in set(row.doc) | set(canonical) if row.doc.get(name) != canonical.get(name)}
            if not changed:
                return self.render(served, base_url, ident, row.doc, selection), etag(row.version)
            previous_version = row.version
            values = self._typed_columns(canonical)
            values.update(doc=canonical, version=previous_version + 1, updated_at=utcnow(), **self._rendered(canonical))
            result = session.execute(
                update(model).where(model.seq == row.seq, model.version == previous_version).values(**values)
            )
            if result.rowcount != 1:
                raise TmfError(409, "Conflict", f"{self.spec.name} '{ident}' was changed concurrently; retry")
            self._record_extensions(session, canonical)
            self._count(session, 0)
            if self.spec.on_write:
                self.spec.on_write(session, row, canonical, created=False)
            self._change_events(session, changed, ident, canonical, base_url, correlation_id)
        wake_up.notify()
        return self.render(served, base_url, ident, canonical, selection), etag(previous_version + 1)

    def _locked_row(self, session: Session, ident: str, if_match: str | None):
        """The row to change, locked until the transaction ends (PostgreSQL), after the If-Match check."""
        row = locked(session, self.spec.model, id=ident)
        if row is None:
            raise not_found(self.spec.name, ident)
        check_if_match(if_match, row.version)
        return row

    # --- delete ----------------------------------------------------------------------------------------

    def delete(self, version: str, ident: str, *, if_match: str | None, base_url: str,
               correlation_id: str | None) -> None:
        with self.db.transaction() as session:
            row = self._locked_row(session, ident, if_match)
            doc = row.doc
            if self.spec.on_delete:
                self.spec.on_delete(doc)
            session.delete(row)
            self._count(session, -1)
            self._emit(session, "DeleteEvent", ident, doc, base_url, correlation_id)
        wake_up.notify()


@functools.lru_cache(maxsize=4096)
def _instant(text: str):
    """The same few timestamps are written again and again (an alarm's raised time on every repeat)."""
    return parse_instant(text)


def _scalar(value):
    return value if isinstance(value, (str, int, float)) or value is None else str(value)


def now_text() -> str:
    return rfc3339(utcnow())

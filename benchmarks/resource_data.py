"""Realistic TMF639 resources, and a fast bulk load that writes exactly the rows the server writes.

Used by api_throughput.py. A slice of the resources goes through POST /resource; the rest is built in
parallel processes with the collection's own helpers (what Collection.create stores: canonical document,
typed and pre-rendered columns, resource_link rows, attributes beyond the standard) and written with COPY.
Before that, one payload is written both ways and the two rows are compared column by column, so a change
in what the server stores stops the benchmark instead of silently measuring another layout.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import multiprocessing
import random
import signal
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable

import httpx
import orjson
from sqlalchemy import delete, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from tmf_oss.config import Settings
from tmf_oss.db.engine import make_engine
from tmf_oss.inventory.model import ResourceLinkRow, ResourceRow
from tmf_oss.inventory.topology import relationship_links
from tmf_oss.platform import Platform

API = "/tmf-api/resourceInventoryManagement/v5"
BATCH = 2500  # resources per COPY transaction


# --- realistic resources ----------------------------------------------------------------------------------

SITES = [f"{city}{n:02d}" for city in ("par", "lon", "fra", "ams", "mad", "mil", "ber", "vie", "zrh", "bru")
         for n in (1, 2, 3, 4)]
PARTIES = [(f"party-{n:03d}", name) for n, name in enumerate(
    ("Acme Networks", "Globex Telecom", "Initech Fibre", "Umbrella Mobile", "Stark Backbone", "Wayne Transit",
     "Hooli Cloud", "Vandelay Carrier", "Soylent Access", "Tyrell Metro", "Cyberdyne Core", "Wonka Wholesale"))]
PHYSICAL = (  # category, name code, specification id, specification name
    ("router", "rtr", "rs-router-7750", "7750 SR-7 service router"),
    ("switch", "sw", "rs-switch-7220", "7220 IXR-D3 data centre switch"),
    ("card", "card", "rs-card-iom5", "IOM5 line card"),
    ("port", "port", "rs-port-qsfp28", "100G QSFP28 port"),
)
LOGICAL = (
    ("interface", "if", "rs-l3-interface", "Layer 3 interface"),
    ("vlan", "vlan", "rs-vlan", "802.1Q VLAN"),
    ("endpoint", "ep", "rs-service-endpoint", "L2VPN service endpoint"),
)
# Every resource carries a vlan characteristic drawn from VLAN_COUNT values, so each value is held by ~1% of the
# rows: the nested filter of the benchmark is selective without being trivial.
VLAN_BASE, VLAN_COUNT = 2000, 100
FILTER_VLAN = str(VLAN_BASE + 42)
EPOCH = dt.datetime(2019, 1, 1, tzinfo=dt.timezone.utc)


class ResourceFactory:
    """TMF639 v5 resources as an inventory holds them: devices, cards and ports (PhysicalResource); interfaces,
    VLANs and service endpoints (LogicalResource); 3-6 characteristics, parties, some topology links."""

    def __init__(self, seed: int, stream: str, id_of: Callable[[int], str]):
        # One random stream per batch, so batches built in different processes give the same data every run.
        self.rng = random.Random(f"{seed}/{stream}")
        self.id_of = id_of  # number -> id of a resource created before, for resourceRelationship targets

    def _moment(self, spread_days: int) -> str:
        moment = EPOCH + dt.timedelta(seconds=self.rng.randrange(spread_days * 86400))
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def _pick(self, *weighted: tuple[str, float]) -> str:
        return self.rng.choices([value for value, _ in weighted], [weight for _, weight in weighted])[0]

    def characteristics(self) -> list[dict]:
        rng = self.rng
        items = [
            {"@type": "StringCharacteristic", "name": "vlan", "value": str(VLAN_BASE + rng.randrange(VLAN_COUNT))},
            {"@type": "IntegerCharacteristic", "name": "mtu", "value": rng.choice((1500, 1500, 9000, 9216))},
            {"@type": "StringCharacteristic", "name": "role", "value": rng.choice(("core", "edge", "access",
                                                                                   "aggregation"))},
        ]
        optional = [
            {"@type": "StringCharacteristic", "name": "speed", "value": rng.choice(("1G", "10G", "100G", "400G"))},
            {"@type": "StringCharacteristic", "name": "vendor", "value": rng.choice(("Nokia", "Cisco", "Juniper",
                                                                                     "Arista", "Huawei"))},
            {"@type": "StringCharacteristic", "name": "ipAddress",
             "value": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}/31"},
        ]
        return items + rng.sample(optional, rng.randint(0, 3))

    def payload(self, number: int) -> dict:
        """The POST body (no id) of resource `number`; it may point at resources numbered below it."""
        rng = self.rng
        physical = rng.random() < 0.4
        category, code, spec_id, spec_name = rng.choice(PHYSICAL if physical else LOGICAL)
        site = rng.choice(SITES)
        party_id, party_name = rng.choice(PARTIES)
        parties = [{"@type": "RelatedPartyRefOrPartyRoleRef", "role": "owner",
                    "partyOrPartyRole": {"@type": "PartyRef", "id": party_id, "name": party_name,
                                         "@referredType": "Organization"}}]
        if rng.random() < 0.3:
            party_id, party_name = rng.choice(PARTIES)
            parties.append({"@type": "RelatedPartyRefOrPartyRoleRef", "role": "maintainer",
                            "partyOrPartyRole": {"@type": "PartyRef", "id": party_id, "name": party_name}})
        doc = {
            "@type": "PhysicalResource" if physical else "LogicalResource",
            "name": f"{site}-{code}-{number:06d}",
            "description": f"{spec_name} at {site}",
            "category": category,
            "resourceVersion": f"{rng.randint(1, 4)}.{rng.randint(0, 9)}",
            "administrativeState": self._pick(("unlocked", 0.9), ("locked", 0.08), ("shuttingDown", 0.02)),
            "operationalState": "enabled" if rng.random() < 0.85 else "disabled",
            "usageState": self._pick(("idle", 0.3), ("active", 0.6), ("busy", 0.1)),
            "lifecycleState": self._pick(("installed", 0.8), ("planned", 0.15), ("pendingRemoval", 0.05)),
            "startOperatingDate": self._moment(6 * 365),
            "resourceSpecification": {"@type": "ResourceSpecificationRef", "id": spec_id, "name": spec_name,
                                      "version": "1.0"},
            "resourceCharacteristic": self.characteristics(),
            "relatedParty": parties,
        }
        if physical:
            doc["serialNumber"] = f"NS{rng.randrange(10 ** 10):010d}"
            doc["manufactureDate"] = self._moment(5 * 365)
            doc["place"] = [{"@type": "RelatedPlaceRef", "role": "installedAt",
                             "place": {"@type": "PlaceRef", "id": f"site-{site}", "name": site.upper()}}]
        else:
            doc["value"] = f"{code}-{site}-{number}"
        relationships = []
        if number and rng.random() < 0.3:
            kind = "isContainedIn" if physical else "isSupportedBy"
            relationships.append((kind, self.id_of(rng.randrange(number))))
        if number and rng.random() < 0.1:
            relationships.append(("connectedTo", self.id_of(rng.randrange(number))))
        if relationships:
            doc["resourceRelationship"] = [
                {"@type": "ResourceRelationship", "relationshipType": kind,
                 "resource": {"@type": "ResourceRef", "id": target}} for kind, target in relationships]
        return doc


# --- ids ----------------------------------------------------------------------------------------------------

def bulk_id(seed: int, number: int | str) -> str:
    """The id of bulk-loaded resource `number`: derived, so any process can name any resource."""
    return str(uuid.UUID(bytes=hashlib.blake2b(f"{seed}/{number}".encode(), digest_size=16).digest(), version=4))


@dataclass
class IdSpace:
    """Resource number -> id: the ids the server gave the API slice, then derived ones."""

    seed: int
    api_ids: list[str] = field(default_factory=list)

    def of(self, number: int) -> str:
        return self.api_ids[number] if number < len(self.api_ids) else bulk_id(self.seed, number)


# --- what the server stores for a POST ------------------------------------------------------------------------

class RowBuilder:
    """The resource row Collection.create writes for a v5 POST body, built with the collection's own helpers
    (version mapping, @type rules, server-owned members, typed and pre-rendered columns)."""

    def __init__(self, database_url: str):
        self.platform = Platform(Settings(database_url=database_url))
        self.collection = self.platform.collection("tmf639", "resource")
        self.served = self.collection.served("v5")
        self.spec = self.collection.spec
        # Helpers not every version of the server has: looked up rather than assumed, and the round-trip check
        # in load() says when the rows differ from the server's.
        self._rendered = getattr(self.collection, "_rendered", None)
        self._record_extensions = getattr(self.collection, "_record_extensions", None)

    def row(self, ident: str, payload: dict, creation_date: str | None = None) -> dict:
        """ORM attribute -> value, as create() passes them to the model."""
        payload = dict(payload)
        payload.pop("href", None)
        payload.pop("id", None)
        canonical = self.collection._canonical(self.served, payload)
        for name in self.spec.server_owned:
            canonical.pop(name, None)
        if self.spec.on_create:
            self.spec.on_create(canonical)
        if creation_date is not None:  # to compare with a row written at another moment
            canonical["creationDate"] = creation_date
        row = {"id": ident, "version": 1, "doc": canonical, **self.collection._typed_columns(canonical)}
        if self._rendered is not None:
            row.update(self._rendered(canonical))
        return row

    def record_extensions(self, session: Session, docs: list[dict]) -> None:
        """What create records about attributes beyond the standard (nothing new after the first batch)."""
        if self._record_extensions is not None:
            for doc in docs:
                self._record_extensions(session, doc)

    def close(self) -> None:
        self.platform.close()


def link_rows(canonical: dict) -> list[dict]:
    """The resource_link rows the server writes for a document (minus source_seq)."""
    return relationship_links(canonical)


# --- COPY -------------------------------------------------------------------------------------------------

def _copy_field(value) -> str:
    """One value in COPY's text format (tab-separated, \\N for NULL, backslash escapes)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        text_value = "t" if value else "f"
    elif isinstance(value, (dict, list)):
        text_value = orjson.dumps(value).decode()  # the server's JSON serializer (tmf_oss.db.engine)
    elif isinstance(value, dt.datetime):
        text_value = value.isoformat()
    else:
        text_value = str(value)
    return text_value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class ResourceWriter:
    """Writes built rows, and their links, into the tables with COPY, inside the caller's transaction."""

    LINK_STAGE = "bench_resource_link"

    def __init__(self, builder: RowBuilder):
        self.builder = builder
        self.columns = {attribute.key: attribute.columns[0] for attribute in sa_inspect(ResourceRow).column_attrs}

    def _complete(self, row: dict) -> dict:
        """Fill what the ORM would: Python-side column defaults (updated_at...). The surrogate key is the
        database's, like any column with a server default."""
        row = dict(row)
        for key, column in self.columns.items():
            if key in row or column.server_default is not None or column.primary_key:
                continue
            default = column.default
            if default is None:
                row[key] = None
            elif default.is_callable:
                row[key] = default.arg(None)
            else:
                row[key] = default.arg
        return row

    def write(self, connection: Connection, rows: list[dict]) -> int:
        """COPY the resource rows, then their links (joined to the new rows' seq); returns the link count."""
        rows = [self._complete(row) for row in rows]
        keys = list(rows[0])
        quote = connection.dialect.identifier_preparer.quote
        names = ", ".join(quote(self.columns[key].name) for key in keys)
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join(_copy_field(row[key]) for key in keys) + "\n")
        cursor = connection.connection.cursor()
        try:
            buffer.seek(0)
            cursor.copy_expert(f"COPY {ResourceRow.__tablename__} ({names}) FROM STDIN", buffer)
            links = io.StringIO()
            count = 0
            for row in rows:
                for link in link_rows(row["doc"]):
                    links.write("\t".join(_copy_field(value) for value in (
                        row["id"], link["target_id"], link["relationship_type"], link["position"])) + "\n")
                    count += 1
            if count:
                cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {self.LINK_STAGE} (source_id text, target_id text,"
                               " relationship_type text, position integer) ON COMMIT DELETE ROWS")
                links.seek(0)
                cursor.copy_expert(f"COPY {self.LINK_STAGE} FROM STDIN", links)
                link_table = ResourceLinkRow.__tablename__
                cursor.execute(
                    f"INSERT INTO {link_table} (source_seq, target_id, relationship_type, position) "
                    f"SELECT r.seq, s.target_id, s.relationship_type, s.position FROM {self.LINK_STAGE} s "
                    f"JOIN {ResourceRow.__tablename__} r ON r.id = s.source_id ORDER BY r.seq, s.position")
        finally:
            cursor.close()
        with Session(bind=connection) as session:  # joins the caller's transaction
            self.builder.record_extensions(session, [row["doc"] for row in rows])
        return count


# --- the parallel bulk load ------------------------------------------------------------------------------------

_worker: dict = {}


def _start_worker(database_url: str, seed: int, api_ids: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops the pool
    builder = RowBuilder(database_url)
    _worker.update(builder=builder, writer=ResourceWriter(builder), engine=make_engine(database_url, pool_size=1),
                   seed=seed, ids=IdSpace(seed, api_ids))


def _load_batch(span: tuple[int, int]) -> tuple[int, int]:
    first, end = span
    builder, ids = _worker["builder"], _worker["ids"]
    factory = ResourceFactory(_worker["seed"], f"bulk/{first}", ids.of)
    rows = [builder.row(ids.of(number), factory.payload(number)) for number in range(first, end)]
    with _worker["engine"].begin() as connection:
        links = _worker["writer"].write(connection, rows)
    return len(rows), links


@dataclass
class Dataset:
    ids: IdSpace
    http_created: int = 0
    http_seconds: float = 0.0
    bulk_inserted: int = 0
    bulk_seconds: float = 0.0
    links: int = 0
    vacuum_seconds: float = 0.0


def load(database_url: str, base_url: str, resources: int, http_slice: int, seed: int, processes: int,
         log: Callable[[str], None]) -> Dataset:
    data = Dataset(IdSpace(seed))
    started = time.monotonic()
    factory = ResourceFactory(seed, "api", data.ids.of)
    first_payload = None
    with httpx.Client(base_url=base_url + API, timeout=30) as client:
        for number in range(http_slice):
            payload = factory.payload(number)
            response = client.post("/resource", json=payload)
            if response.status_code != 201:
                raise RuntimeError(f"POST /resource answered {response.status_code}: {response.text[:500]}")
            data.ids.api_ids.append(response.json()["id"])
            first_payload = first_payload or payload
    data.http_created = http_slice
    data.http_seconds = time.monotonic() - started
    log(f"created {http_slice:,} resources through the API in {data.http_seconds:.1f} s")

    engine = make_engine(database_url, pool_size=1)  # the server's engine setup (orjson for JSON)
    builder = RowBuilder(database_url)
    try:
        check_round_trip(engine, builder, data.ids.api_ids[0], first_payload, bulk_id(seed, "check"))
        log("a row written by the bulk load equals the row the API wrote for the same payload")

        started = time.monotonic()
        spans = [(first, min(first + BATCH, resources)) for first in range(http_slice, resources, BATCH)]
        context = multiprocessing.get_context("spawn")  # fresh interpreters: no inherited connections
        with context.Pool(processes, initializer=_start_worker,
                          initargs=(database_url, seed, data.ids.api_ids)) as pool:
            reported = 0
            for rows, links in pool.imap_unordered(_load_batch, spans):
                data.bulk_inserted += rows
                data.links += links
                if data.bulk_inserted - reported >= 20_000:
                    reported = data.bulk_inserted
                    log(f"  bulk loaded {data.bulk_inserted:,} / {resources - http_slice:,}")
        with engine.begin() as connection:
            # Each POST counted itself; the bulk rows are counted from the table.
            connection.execute(text("UPDATE collection_count SET total = (SELECT count(*) FROM resource) "
                                    "WHERE name = 'resource'"))
        data.bulk_seconds = time.monotonic() - started
        log(f"bulk loaded {data.bulk_inserted:,} resources ({data.links:,} links) in {data.bulk_seconds:.1f} s "
            f"with {processes} processes")

        started = time.monotonic()
        # VACUUM as well as ANALYZE: otherwise autovacuum notices the fresh rows and starts work in the middle
        # of a measurement; a vacuumed table is also what a long-running inventory looks like.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM (ANALYZE) resource, resource_link, resource_value, collection_count"))
            connection.execute(text("ANALYZE"))
        data.vacuum_seconds = time.monotonic() - started
        log(f"VACUUM (ANALYZE) took {data.vacuum_seconds:.1f} s")
    finally:
        builder.close()
        engine.dispose()
    return data


def check_round_trip(engine, builder: RowBuilder, api_id: str, payload: dict, check_id: str) -> None:
    """Write `payload` through the bulk path and compare the stored row, every column, and its links with the
    row the API stored for the same payload; then remove it."""
    columns = {attribute.key for attribute in sa_inspect(ResourceRow).column_attrs}

    def stored(session: Session, ident: str) -> tuple[dict, list]:
        row = session.execute(select(ResourceRow).where(ResourceRow.id == ident)).scalar_one()
        links = session.execute(
            select(ResourceLinkRow.target_id, ResourceLinkRow.relationship_type, ResourceLinkRow.position)
            .where(ResourceLinkRow.source_seq == row.seq).order_by(ResourceLinkRow.position)).all()
        return {key: getattr(row, key) for key in columns}, [tuple(link) for link in links]

    with Session(engine) as session:
        api_row, api_links = stored(session, api_id)
    bulk = builder.row(check_id, payload, creation_date=api_row["doc"].get("creationDate"))
    try:
        with engine.begin() as connection:
            ResourceWriter(builder).write(connection, [bulk])
        with Session(engine) as session:
            bulk_row, bulk_links = stored(session, check_id)
    finally:
        with engine.begin() as connection:  # its links go with it (ON DELETE CASCADE)
            connection.execute(delete(ResourceRow).where(ResourceRow.id == check_id))
    # seq is the database's, updated_at the moment of writing.
    differences = [key for key in sorted(columns - {"seq", "id", "updated_at"}) if api_row[key] != bulk_row[key]]
    if api_links != bulk_links:
        differences.append("resource_link rows")
    if differences:
        raise RuntimeError(f"the bulk load does not write what the server writes ({', '.join(differences)}); "
                           "update RowBuilder / ResourceWriter in benchmarks/resource_data.py")

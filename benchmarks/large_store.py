"""How filtered, paged lists behave on a large resource store (PostgreSQL).

Fills a scratch database with N resources (default 1,000,000) straight in SQL, then times typical list queries
through the same code path the API uses (Collection.list: filter compilation, count, rendering) and prints the
median and worst of several runs, with the plan PostgreSQL chose. Nothing here talks HTTP: this measures the
database side of a list request.

    python benchmarks/large_store.py [--rows 1000000] [--repeat 7] [--keep-database]
"""
from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tmf_oss.config import Settings
from tmf_oss.db.migrate import upgrade
from tmf_oss.platform import Platform

QUERIES = [
    ("first page, no filter", "", None),
    ("deep page (offset 100000)", "", 100_000),
    ("name = one value (typed column)", "name=res-123457", None),
    ("operationalState = disabled (typed, ~20%)", "operationalState=disabled", None),
    ("@type + operationalState (typed)", "@type=LogicalResource&operationalState=enabled", None),
    ("characteristic value, ~0.1% (value index)", "resourceCharacteristic.value=vlan-777", None),
    ("characteristic name AND value (value index)",
     "resourceCharacteristic.name=vlan&resourceCharacteristic.value=vlan-42", None),
    ("related party id, ~1% (value index)", "relatedParty.partyOrPartyRole.id=org-17", None),
    ("creationDate range (indexed column)", "creationDate.gt=2026-01-01T00:00:00Z&creationDate.lt=2026-01-01T00:10:00Z",
     None),
    ("sort by name (indexed)", "sort=name", None),
    ("sort by -name with typed filter", "sort=-name&operationalState=disabled", None),
    ("regex on name (scan)", "name.regex=^res-99999", None),
]

FILL = """
INSERT INTO resource (id, at_type, name, category, administrative_state, operational_state, usage_state,
                      version, created_at, updated_at, doc, body_v5)
SELECT id, at_type, name, category, administrative_state, operational_state, usage_state, version, created_at,
       updated_at, doc, doc::text
FROM (
SELECT 'r-' || g AS id,
       CASE WHEN g % 3 = 0 THEN 'LogicalResource' ELSE 'PhysicalResource' END AS at_type,
       'res-' || g AS name,
       'cat-' || (g % 20) AS category,
       CASE WHEN g % 10 = 0 THEN 'locked' ELSE 'unlocked' END AS administrative_state,
       CASE WHEN g % 5 = 0 THEN 'disabled' ELSE 'enabled' END AS operational_state,
       'active' AS usage_state, 1 AS version,
       timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => g) AS created_at,
       now() AS updated_at,
       jsonb_build_object(
         '@type', CASE WHEN g % 3 = 0 THEN 'LogicalResource' ELSE 'PhysicalResource' END,
         'name', 'res-' || g,
         'category', 'cat-' || (g % 20),
         'operationalState', CASE WHEN g % 5 = 0 THEN 'disabled' ELSE 'enabled' END,
         'administrativeState', CASE WHEN g % 10 = 0 THEN 'locked' ELSE 'unlocked' END,
         'usageState', 'active',
         'creationDate', to_char((timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => g))
                                 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         'resourceCharacteristic', jsonb_build_array(
            jsonb_build_object('@type', 'StringCharacteristic', 'name', 'vlan', 'value', 'vlan-' || (g % 1000)),
            jsonb_build_object('@type', 'IntegerCharacteristic', 'name', 'mtu', 'value', 1500 + (g % 4) * 1000),
            jsonb_build_object('@type', 'StringCharacteristic', 'name', 'role', 'value',
                               (ARRAY['core','edge','access'])[1 + g % 3])),
         'relatedParty', jsonb_build_array(jsonb_build_object(
            '@type', 'RelatedPartyRefOrPartyRoleRef', 'role', 'owner',
            'partyOrPartyRole', jsonb_build_object('@type', 'PartyRef', 'id', 'org-' || (g % 100))))) AS doc
FROM generate_series(:first, :last) AS g
) AS generated
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="tmf_oss_large_store")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()

    admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    url = make_url(args.admin_url).set(database=args.database).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{args.database}"'))
    try:
        upgrade(url)
        fill(url, args.rows)
        # No kept pages: each repeat reads its page from the database, which is what is measured.
        platform = Platform(Settings(database_url=url, list_page_cache_mb=0))
        try:
            report(platform, args.repeat, args.rows)
        finally:
            platform.close()
    finally:
        if not args.keep_database:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'))
        admin.dispose()


def fill(url: str, rows: int) -> None:
    engine = create_engine(url)
    started = time.perf_counter()
    with engine.begin() as connection:
        batch = 200_000
        for first in range(1, rows + 1, batch):
            connection.execute(text(FILL), {"first": first, "last": min(rows, first + batch - 1)})
        connection.execute(text("UPDATE collection_count SET total = :n WHERE name = 'resource'"), {"n": rows})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE resource"))
        connection.execute(text("VACUUM ANALYZE resource_value"))  # filled by its trigger with the resources
        size = connection.execute(text(
            "SELECT pg_size_pretty(pg_total_relation_size('resource') + pg_total_relation_size('resource_value'))"
        )).scalar()
    engine.dispose()
    print(f"loaded {rows:,} resources in {time.perf_counter() - started:.0f} s; tables + indexes: {size}")


def report(platform: Platform, repeat: int, rows: int) -> None:
    collection = platform.collection("tmf639", "resource")
    print(f"\n{'query (limit 20, v5)':48} {'median ms':>10} {'max ms':>8} {'total':>9}  plan")
    for title, query, offset in QUERIES:
        pairs = [tuple(p.split("=", 1)) for p in query.split("&") if p]
        sort = next((v for k, v in pairs if k == "sort"), None)
        filters = [(k, v) for k, v in pairs if k != "sort"]
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            page = collection.list("v5", filters, base_url="http://bench", offset=offset, limit=20, sort=sort,
                                   selection=None)
            timings.append((time.perf_counter() - started) * 1000)
        plan = explain(platform, collection, filters, sort, offset)
        print(f"{title:48} {statistics.median(timings):10.1f} {max(timings):8.1f} {page.total:9,}  {plan}")


def explain(platform, collection, filters, sort, offset) -> str:
    """The access paths PostgreSQL picked for the page query (index names or sequential scans)."""
    from sqlalchemy import select

    from tmf_oss.tmf.sql_filter import all_of, compile_conditions, compile_sort

    served = collection.served("v5")
    where = all_of(compile_conditions(collection.conditions(served, filters), collection.target))
    order = compile_sort(collection._canonical_sort(served, sort), collection.target)
    model = collection.spec.model
    statement = select(model.id)
    if where is not None:
        statement = statement.where(where)
    statement = statement.order_by(*order, model.seq).offset(offset or 0).limit(20)
    compiled = statement.compile(platform.db.engine, compile_kwargs={"literal_binds": True})
    with platform.db.engine.connect() as connection:
        lines = [row[0] for row in connection.execute(text(f"EXPLAIN {compiled}"))]
    paths = []
    for line in lines:
        step = line.strip().lstrip("-> ").split("  (")[0]
        if "Scan" in step:
            paths.append(step.split(" on ")[0] if " using " in step else step)
    return "; ".join(dict.fromkeys(paths)) or lines[0].strip()


if __name__ == "__main__":
    main()

"""The SQL the filter compiler emits for each dialect (behaviour is tested end to end in tests/api)."""
import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB

from tmf_oss.tmf.catalog import AttributeCatalog, AttributeInfo
from tmf_oss.tmf.errors import TmfError
from tmf_oss.tmf.query import parse_conditions, parse_query_string
from tmf_oss.tmf.sql_filter import FilterTarget, compile_conditions, compile_sort

CATALOG = AttributeCatalog({
    ("name",): AttributeInfo("string", (False,)),
    ("size",): AttributeInfo("integer", (False,)),
    ("created",): AttributeInfo("date-time", (False,)),
    ("tags",): AttributeInfo("string", (True,)),
    ("characteristic",): AttributeInfo("object", (True,)),
    ("characteristic", "name"): AttributeInfo("string", (True, False)),
    ("characteristic", "value"): AttributeInfo("any", (True, False)),
    ("place",): AttributeInfo("object", (False,)),
    ("place", "id"): AttributeInfo("string", (False, False)),
})


def target(dialect: str) -> tuple[FilterTarget, object]:
    table = Table("thing", MetaData(), Column("seq", Integer), Column("name", String),
                  Column("doc", JSONB if dialect == "postgresql" else JSON))
    return FilterTarget(CATALOG, table.c.doc, dialect, {"name": table.c.name}), table


def sql(query: str, dialect: str) -> str:
    filter_target, _ = target(dialect)
    clauses = compile_conditions(parse_conditions(parse_query_string(query)), filter_target)
    engine_dialect = postgresql.dialect() if dialect == "postgresql" else sqlite.dialect()
    return " AND ".join(str(c.compile(dialect=engine_dialect, compile_kwargs={"literal_binds": True}))
                        for c in clauses)


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_typed_column_is_used_for_top_level_attributes(dialect):
    assert sql("name=a,b", dialect) == "thing.name IN ('a', 'b')"


def test_postgresql_nested_equality_is_an_index_friendly_jsonpath_test():
    text = sql("characteristic.name=vlan", "postgresql")
    assert text == "thing.doc @? CAST('$.\"characteristic\".\"name\" ? (@ == \"vlan\")' AS JSONPATH)"


def test_postgresql_escapes_quotes_inside_jsonpath_strings():
    assert '\\"' in sql('characteristic.name=a"b', "postgresql")


def test_postgresql_free_form_values_match_text_or_number():
    assert '@ == "100" || @ == 100.0' in sql("characteristic.value=100", "postgresql")


def test_postgresql_dates_compare_as_instants():
    text = sql("created.gt=2026-01-01T00:00:00Z", "postgresql")
    assert "AS TIMESTAMP WITH TIME ZONE) >" in text and "jsonb_path_query" in text


def test_sqlite_arrays_become_exists_over_json_each():
    text = sql("characteristic.name=vlan", "sqlite")
    assert text.startswith("EXISTS (SELECT 1") and "json_each(thing.doc, '$.\"characteristic\"')" in text


def test_sqlite_scalars_and_dates():
    assert sql("place.id=p1", "sqlite") == "json_extract(thing.doc, '$.\"place\".\"id\"') = 'p1'"
    assert "julianday(json_extract" in sql("created.lt=2026-01-01T00:00:00Z", "sqlite")


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_ne_is_the_negation_of_any_match(dialect):
    assert sql("characteristic.name.ne=vlan", dialect).startswith("NOT ")


@pytest.mark.parametrize("query", ["unknown=1", "place=x", "size.gt=ten", "created.gt=soon"])
def test_refusals(query):
    with pytest.raises(TmfError) as info:
        sql(query, "sqlite")
    assert info.value.status == 400


def test_sort_keys():
    filter_target, _ = target("postgresql")
    assert [str(c) for c in compile_sort("-name", filter_target)] == ["thing.name DESC"]
    with pytest.raises(TmfError):
        compile_sort("tags", filter_target)


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_a_nested_path_kept_in_a_column_is_filtered_and_sorted_on_it(dialect):
    table = Table("thing", MetaData(), Column("place_id", String), Column("doc", JSON))
    kept = FilterTarget(CATALOG, table.c.doc, dialect, {"place.id": table.c.place_id})
    (where,) = compile_conditions(parse_conditions(parse_query_string("place.id=p1,p2")), kept)
    assert str(where.compile(compile_kwargs={"literal_binds": True})) == "thing.place_id IN ('p1', 'p2')"
    (order,) = compile_sort("-place.id", kept)
    assert str(order) == "thing.place_id DESC"

"""Attribute catalogue derived from an OpenAPI document."""
from tmf_oss.tmf.catalog import AttributeCatalog, AttributeInfo

SPEC = {"components": {"schemas": {
    "Extensible": {"type": "object", "properties": {"@type": {"type": "string"}}},
    "Thing": {"allOf": [{"$ref": "#/components/schemas/Extensible"}, {"type": "object", "properties": {
        "name": {"type": "string"},
        "created": {"type": "string", "format": "date-time"},
        "size": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "parts": {"type": "array", "items": {"$ref": "#/components/schemas/Part"}},
        "extra": {},
    }}]},
    "Part": {"type": "object", "properties": {
        "name": {"type": "string"}, "owner": {"$ref": "#/components/schemas/Thing"},
        "value": {"type": "string"}}},
    "BigPart": {"allOf": [{"$ref": "#/components/schemas/Part"}, {"properties": {"value": {"type": "integer"}}}]},
}}}


def test_paths_types_and_arrays():
    catalog = AttributeCatalog.from_openapi(SPEC, ["Thing"])
    assert catalog.lookup(("name",)) == AttributeInfo("string", (False,))
    assert catalog.lookup(("@type",)) == AttributeInfo("string", (False,))
    assert catalog.lookup(("created",)) == AttributeInfo("date-time", (False,))
    assert catalog.lookup(("size",)) == AttributeInfo("integer", (False,))
    assert catalog.lookup(("tags",)) == AttributeInfo("string", (True,))
    assert catalog.lookup(("parts",)).kind == "object"
    assert catalog.lookup(("parts", "name")) == AttributeInfo("string", (True, False))
    assert catalog.lookup(("parts", "owner", "name")) == AttributeInfo("string", (True, False, False))
    assert catalog.lookup(("nope",)) is None
    assert catalog.lookup(("name", "deeper")) is None


def test_free_form_members_accept_any_sub_path():
    catalog = AttributeCatalog.from_openapi(SPEC, ["Thing"])
    assert catalog.lookup(("extra", "a", "b")).kind == "any"


def test_conflicting_kinds_become_any():
    spec = {"components": {"schemas": dict(SPEC["components"]["schemas"])}}
    spec["components"]["schemas"]["Part"] = {
        "type": "object", "properties": {"value": {"type": "string"}},
        "discriminator": {"propertyName": "@type", "mapping": {"BigPart": "#/components/schemas/BigPart"}}}
    catalog = AttributeCatalog.from_openapi(spec, ["Part"])
    assert catalog.lookup(("value",)).kind == "any"

"""Request parameter handling: path-level parameters folded into operations, validators built once."""
from __future__ import annotations

import pytest
from connexion.validators.parameter import ParameterValidator

from tmf_oss.tmf.request_validation import CachedParameterValidator, fold_path_parameters

DOCUMENT = {
    "openapi": "3.0.3",
    "paths": {
        "/resource/{id}": {
            "parameters": [{"$ref": "#/components/parameters/Id"},
                           {"name": "trace", "in": "header", "schema": {"type": "string"}}],
            "get": {"parameters": [{"$ref": "#/components/parameters/Fields"}]},
            "patch": {"parameters": [{"name": "trace", "in": "header", "schema": {"type": "integer"}}]},
            "delete": {},
        },
        "/resource": {"get": {"parameters": [{"$ref": "#/components/parameters/Fields"}]}},
    },
    "components": {"parameters": {
        "Id": {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
        "Fields": {"name": "fields", "in": "query", "schema": {"type": "string"}},
    }},
}


def test_each_operation_lists_the_path_items_parameters_itself():
    folded = fold_path_parameters(DOCUMENT)
    item = folded["paths"]["/resource/{id}"]
    assert "parameters" not in item
    assert item["get"]["parameters"] == [{"$ref": "#/components/parameters/Fields"},
                                         {"$ref": "#/components/parameters/Id"},
                                         {"name": "trace", "in": "header", "schema": {"type": "string"}}]
    # An operation's own parameter of the same name and location wins.
    assert item["patch"]["parameters"] == [{"name": "trace", "in": "header", "schema": {"type": "integer"}},
                                           {"$ref": "#/components/parameters/Id"}]
    assert item["delete"]["parameters"] == [{"$ref": "#/components/parameters/Id"},
                                            {"name": "trace", "in": "header", "schema": {"type": "string"}}]
    assert folded["paths"]["/resource"] == DOCUMENT["paths"]["/resource"]
    assert "parameters" in DOCUMENT["paths"]["/resource/{id}"], "the original document is left as it was"


@pytest.mark.parametrize("definition, value", [
    ({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0}}, -1),
    ({"name": "limit", "in": "query", "schema": {"type": "integer"}}, "ten"),
    ({"name": "state", "in": "query", "schema": {"type": "string", "enum": ["a", "b"]}}, "c"),
    ({"name": "limit", "in": "query", "schema": {"type": "integer"}}, 10),
    ({"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}, None),
    ({"name": "fields", "in": "query", "schema": {"type": "string", "nullable": True}}, None),
])
def test_same_verdicts_as_connexions_validator(definition, value):
    cached = CachedParameterValidator([definition], uri_parser=None)
    expected = ParameterValidator.validate_parameter(definition["in"], value, definition)
    assert cached.validate_parameter(definition["in"], value, definition) == expected
    assert cached.validate_parameter(definition["in"], value, definition) == expected  # from the cache


def test_body_validator_is_built_once_per_schema_and_judges_alike():
    from connexion.exceptions import BadRequestProblem
    from connexion.validators import JSONRequestBodyValidator

    from tmf_oss.tmf.request_validation import CachedJSONBodyValidator

    schema = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    options = dict(schema=schema, required=True, nullable=False, encoding="utf-8", strict_validation=False)
    ours, theirs = CachedJSONBodyValidator(**options), JSONRequestBodyValidator(**options)
    assert ours._validator is CachedJSONBodyValidator(**options)._validator
    ours._validate({"name": "r1"})
    for bad in ({}, {"name": 5}):
        with pytest.raises(BadRequestProblem) as refused:
            ours._validate(bad)
        with pytest.raises(BadRequestProblem) as expected:
            theirs._validate(bad)
        assert refused.value.detail == expected.value.detail

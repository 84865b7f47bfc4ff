"""Validate a whole representation against a schema of our OpenAPI document (used after PATCH)."""
from __future__ import annotations

from functools import lru_cache

from jsonschema import Draft4Validator, FormatChecker

from tmf_oss.tmf.errors import bad_request


class SchemaValidator:
    def __init__(self, spec: dict):
        self._components = spec.get("components", {})

    @lru_cache(maxsize=64)
    def _validator(self, schema_name: str) -> Draft4Validator:
        schema = {"$ref": f"#/components/schemas/{schema_name}", "components": self._components}
        return Draft4Validator(schema, format_checker=FormatChecker())

    def check(self, document: dict, schema_name: str) -> None:
        if schema_name not in self._components.get("schemas", {}):
            return
        error = next(iter(self._validator(schema_name).iter_errors(document)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(document)"
            raise bad_request(f"the result would be invalid at '{where}': {error.message}",
                              reason="Invalid resulting representation")

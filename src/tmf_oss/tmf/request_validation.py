"""Request validation without connexion's per-request set-up costs.

Costs connexion 3 pays on every request, found by profiling, and removed here without changing what is validated
or the errors a client gets:

- connexion appends a path item's parameters to each operation's own list in place, once for every middleware
  that builds its view of the operations, so an operation under `/resource/{id}` ended up validating `id` six
  times per request. `fold_path_parameters` gives every operation the path item's parameters itself, so there is
  nothing left to append.
- for every parameter present in a request it deep-copies the parameter's definition and builds a new JSON
  Schema validator. `CachedParameterValidator` builds each validator once (definitions are not changed by
  validation, so the copy protects nothing).
- for every request with a JSON body it builds a new validator of the body's schema (with the whole document's
  components) and a new reference registry for it. `CachedJSONBodyValidator` keeps one per schema.
"""
from __future__ import annotations

import copy

from connexion.datastructures import MediaTypeDict
from connexion.json_schema import Draft4RequestValidator
from connexion.utils import is_null, is_nullable
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator
from connexion.validators.parameter import ParameterValidator, draft4_format_checker
from jsonschema import Draft4Validator, ValidationError

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _resolved(document: dict, parameter: dict) -> dict:
    reference = parameter.get("$ref", "")
    if not reference.startswith("#/"):
        return parameter
    found = document
    for part in reference[2:].split("/"):
        found = found[part.replace("~1", "/").replace("~0", "~")]
    return found


def fold_path_parameters(document: dict) -> dict:
    """A copy of an OpenAPI document in which path-level parameters are listed by each operation instead (an
    operation's own parameter of the same name and location still wins, as OpenAPI says)."""
    folded = copy.deepcopy(document)
    for path_item in folded.get("paths", {}).values():
        shared = path_item.pop("parameters", None)
        if not shared:
            continue
        for method in HTTP_METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            own = operation.get("parameters", [])
            declared = {(p.get("name"), p.get("in")) for p in (_resolved(folded, p) for p in own)}
            operation["parameters"] = own + [p for p in shared
                                              if (_resolved(folded, p).get("name"),
                                                  _resolved(folded, p).get("in")) not in declared]
    return folded


class CachedParameterValidator(ParameterValidator):
    """connexion's ParameterValidator with one compiled schema validator per parameter definition."""

    # id(definition) -> (definition, validator); the definition is kept so that its id cannot be reused
    _validators: dict[int, tuple[dict, Draft4Validator]] = {}

    def validate_parameter(self, parameter_type, value, param, param_name=None):  # connexion's signature
        if is_nullable(param) and is_null(value):
            return None
        if value is not None:
            cached = self._validators.get(id(param))
            if cached is None:
                cached = self._validators[id(param)] = (
                    param, Draft4Validator(param.get("schema", param), format_checker=draft4_format_checker))
            try:
                cached[1].validate(value)
            except ValidationError as exception:
                return str(exception)
            return None
        if param.get("required"):
            return f"Missing {parameter_type} parameter '{param['name']}'"
        return None


class CachedJSONBodyValidator(JSONRequestBodyValidator):
    """connexion's JSON body validator with one compiled schema validator per body schema."""

    # id(schema) -> (schema, validator); connexion hands over the same schema object for every request of an
    # operation and media type
    _validators: dict[int, tuple[dict, Draft4Validator]] = {}

    @property
    def _validator(self):
        cached = self._validators.get(id(self._schema))
        if cached is None:
            cached = self._validators[id(self._schema)] = (
                self._schema, Draft4RequestValidator(self._schema, format_checker=Draft4Validator.FORMAT_CHECKER))
        return cached[1]


VALIDATORS = {
    **VALIDATOR_MAP,
    "parameter": CachedParameterValidator,
    "body": MediaTypeDict({media: CachedJSONBodyValidator if validator is JSONRequestBodyValidator else validator
                           for media, validator in VALIDATOR_MAP["body"].items()}),
}

"""What the ordering engine needs from a service specification: the rules an order item must follow, and how the
service is activated on devices.

A specification is a TMF633 ServiceSpecification document. Its standard members carry the rules:
`lifecycleStatus` (orderable when Active, Launched or Released, in any case), `specCharacteristic[]` (`name`,
`valueType` string|integer|number|boolean, `minCardinality` >= 1 for a required one, `maxCardinality` > 1 for a
list of values, `characteristicValueSpecification[]`: `value` an allowed value, `valueFrom`/`valueTo` a range
(both ends included), `isDefault` the default). A `NetworkServiceSpecification` (`@baseType:
ServiceSpecification`) adds `endpoints` (the supporting resources an order item names) and `activation` (NETCONF
templates, TMF639 resources to record), as extensions.

Templates are Jinja2, rendered in a sandbox with strict undefined variables; NETCONF templates escape every value
for XML. Their variables are exactly `service` (id, name), `characteristic` (name -> typed value, defaults
applied; None for an optional characteristic the order leaves out) and `endpoint` (id, name, interface, device).
"""
from __future__ import annotations

import math
import re
import threading
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

import jinja2
from jinja2 import StrictUndefined, meta
from jinja2.sandbox import SandboxedEnvironment

ORDERABLE_STATUSES = frozenset({"active", "launched", "released"})
VALUE_TYPES = frozenset({"string", "integer", "number", "boolean"})
NETCONF_TEMPLATES = ("apply", "remove", "read")
VARIABLES = frozenset({"service", "characteristic", "endpoint"})
SERVICE_MEMBERS = ("id", "name")
ENDPOINT_MEMBERS = ("id", "name", "interface", "device")
# Members whose old TMF633 names are easy to write by mistake: v4 names them otherwise, and a specification using
# the old names would silently have no rules.
OLD_NAMES = {"serviceSpecCharacteristic": "specCharacteristic",
             "serviceSpecCharacteristicValue": "characteristicValueSpecification"}

_INTEGER_TEXT = re.compile(r"^[+-]?\d+$")
_NUMBER_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")

# Values escaped for XML (markupsafe's escaping yields entities XML knows); resource templates render plain text.
_XML = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True, keep_trailing_newline=False)
_TEXT = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class CatalogError(ValueError):
    """A service specification (or a catalog file) that cannot be used; the message says what is wrong."""


def _show(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def _type_phrase(value_type: str) -> str:
    return {"integer": "an integer", "number": "a number", "boolean": "a boolean (true or false)",
            "string": "a string"}.get(value_type, value_type)


def coerce(value_type: str, value: Any) -> Any:
    """The value as value_type, accepting numbers given as numeric strings; ValueError when it is not one."""
    if value_type == "integer":
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INTEGER_TEXT.match(value.strip()):
            return int(value.strip())
        raise ValueError
    if value_type == "number":
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, (int, float)) and math.isfinite(value):
            return value
        if isinstance(value, str) and _NUMBER_TEXT.match(value.strip()):
            text = value.strip()
            return int(text) if _INTEGER_TEXT.match(text) else float(text)
        raise ValueError
    if value_type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError
    if value_type == "string":
        if isinstance(value, str):
            return value
        raise ValueError
    return value  # a valueType tmf-oss does not interpret (object, a schema name ...): taken as given


@dataclass(frozen=True)
class CharacteristicRule:
    name: str
    value_type: str  # string | integer | number | boolean, or a type taken as given
    required: bool
    default: Any
    allowed: tuple | None  # the allowed values, when the specification lists them (and gives no range)
    minimum: float | None
    maximum: float | None
    multiple: bool  # maxCardinality > 1: the value is a list

    def problem(self, value: Any) -> tuple[Any, str | None]:
        """(typed value, None) or (None, what is wrong with it)."""
        if self.multiple:
            items = value if isinstance(value, list) else [value]
            typed = []
            for item in items:
                one, problem = self._one(item)
                if problem:
                    return None, problem
                typed.append(one)
            return typed, None
        if isinstance(value, list):
            return None, f"'{self.name}' takes one value, got a list"
        return self._one(value)

    def _one(self, value: Any) -> tuple[Any, str | None]:
        if value is None:
            return None, f"'{self.name}' has no value"
        try:
            typed = coerce(self.value_type, value)
        except ValueError:
            return None, f"'{self.name}' must be {_type_phrase(self.value_type)}, got {_show(value)}"
        if self.allowed is not None and typed not in self.allowed:
            return None, f"'{self.name}' must be one of {', '.join(str(v) for v in self.allowed)}"
        if self.minimum is not None and typed < self.minimum:
            return None, f"'{self.name}' {typed} is below the minimum {_number(self.minimum)}"
        if self.maximum is not None and typed > self.maximum:
            return None, f"'{self.name}' {typed} is above the maximum {_number(self.maximum)}"
        return typed, None

    def sample(self) -> Any:
        """A valid value of the right type, for checking templates."""
        if self.default is not None:
            return self.default
        if self.allowed:
            one = self.allowed[0]
        elif self.value_type == "integer":
            one = int(self.minimum) if self.minimum is not None else int(self.maximum) if self.maximum is not None else 1
        elif self.value_type == "number":
            one = self.minimum if self.minimum is not None else self.maximum if self.maximum is not None else 1.5
        elif self.value_type == "boolean":
            one = True
        else:
            one = "sample <text> & 'quotes'"  # what escaping must cope with
        return [one] if self.multiple else one


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass(frozen=True)
class EndpointRule:
    minimum: int
    maximum: int
    resource_types: tuple[str, ...]  # allowed @type of the supporting resources; empty: any


@dataclass(frozen=True)
class OrderableSpec:
    id: str
    name: str
    version: str | None
    lifecycle_status: str | None
    orderable: bool
    characteristics: tuple[CharacteristicRule, ...]
    endpoints: EndpointRule
    has_activation: bool = False
    _netconf: dict = field(default_factory=dict, repr=False, compare=False)  # which -> compiled template
    _resources: tuple = field(default=(), repr=False, compare=False)  # resource documents with compiled strings

    def rule(self, name: str) -> CharacteristicRule | None:
        return next((rule for rule in self.characteristics if rule.name == name), None)

    def check(self, characteristics: list[dict] | None) -> tuple[dict[str, Any], list[str]]:
        """TMF641 serviceCharacteristic entries ({name, value, valueType?}) -> (values by name, typed, defaults
        applied, None for optional ones left out; problems, as sentences). valueType in an entry is not
        compared: the specification's type decides how the value is read."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        seen: set[str] = set()
        for index, entry in enumerate(characteristics or ()):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
                problems.append(f"characteristic #{index + 1} has no name")
                continue
            name = entry["name"]
            rule = self.rule(name)
            if rule is None:
                problems.append(f"unknown characteristic '{name}'")
                continue
            if name in seen:
                problems.append(f"duplicate '{name}'")
                continue
            seen.add(name)
            typed, problem = rule.problem(entry.get("value"))
            if problem:
                problems.append(problem)
            else:
                values[name] = typed
        for rule in self.characteristics:
            if rule.name in seen:
                continue
            if rule.required and rule.default is None:
                problems.append(f"required '{rule.name}' missing")
            else:
                values[rule.name] = rule.default
        return values, problems

    def render_netconf(self, which: str, context: dict) -> str:
        """The NETCONF content `which` (apply, remove or read) for one endpoint. Raises CatalogError."""
        if which not in NETCONF_TEMPLATES:
            raise CatalogError(f"no NETCONF template '{which}': use one of {', '.join(NETCONF_TEMPLATES)}")
        template = self._netconf.get(which)
        if template is None:
            raise CatalogError(f"service specification '{self.name}' has no activation.netconf templates")
        return _render_xml(template, _checked_context(context), f"service specification '{self.name}', "
                           f"activation.netconf.{which}")

    def render_resources(self, context: dict) -> list[dict]:
        """The TMF639 resources to record for one endpoint (deep copies, strings rendered)."""
        context = _checked_context(context)
        return [_render_value(resource, context, f"service specification '{self.name}', activation.resources"
                              f"[{index}]") for index, resource in enumerate(self._resources)]


def _checked_context(context: dict) -> dict:
    missing = [name for name in sorted(VARIABLES) if name not in context]
    if missing:
        raise CatalogError(f"template context lacks {', '.join(missing)}")
    return {name: context[name] for name in VARIABLES}


def _render_xml(template: jinja2.Template, context: dict, where: str) -> str:
    try:
        text = template.render(context)
    except jinja2.TemplateError as exc:
        raise CatalogError(f"{where}: {_template_problem(exc)}") from None
    problem = xml_problem(text)
    if problem:
        raise CatalogError(f"{where}: the rendered XML is not well-formed: {problem}")
    return text.strip()


def _render_value(node: Any, context: dict, where: str) -> Any:
    if isinstance(node, jinja2.Template):
        try:
            return node.render(context)
        except jinja2.TemplateError as exc:
            raise CatalogError(f"{where}: {_template_problem(exc)}") from None
    if isinstance(node, dict):
        return {key: _render_value(value, context, where) for key, value in node.items()}
    if isinstance(node, list):
        return [_render_value(value, context, where) for value in node]
    return node


def _template_problem(exc: jinja2.TemplateError) -> str:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"template syntax error on line {exc.lineno}: {exc.message}"
    if isinstance(exc, jinja2.UndefinedError):
        return f"unknown variable or member: {exc.message}"
    return f"template failed: {exc}"


def xml_problem(text: str) -> str | None:
    """Why an XML fragment (one or more elements, namespaces declared inside) is not well-formed, or None."""
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        return "document type declarations are not allowed"
    try:
        ElementTree.fromstring(f"<fragment>{text}</fragment>")
    except ElementTree.ParseError as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------- parsing


def parse_spec(ident: str, doc: dict) -> OrderableSpec:
    """A canonical stored ServiceSpecification document -> its rules and compiled templates. Raises CatalogError
    naming the specification and what is wrong; templates are checked by rendering them with sample values."""
    label = f"service specification '{doc.get('name') or ident}'"
    for old, new in OLD_NAMES.items():
        if _mentions(doc, old):
            raise CatalogError(f"{label}: '{old}' is not a TMF633 v4 member; write '{new}'")
    rules = tuple(_characteristics(label, doc.get("specCharacteristic")))
    endpoints = _endpoints(label, doc.get("endpoints"))
    activation = doc.get("activation")
    netconf: dict = {}
    resources: tuple = ()
    if activation is not None:
        if not isinstance(activation, dict):
            raise CatalogError(f"{label}: 'activation' must be an object")
        netconf = _netconf(label, activation.get("netconf"))
        resources = _resources(label, activation.get("resources"))
        if (netconf or resources) and endpoints.maximum < 1:
            raise CatalogError(f"{label}: 'activation' acts on endpoints, but 'endpoints' allows none")
    status = doc.get("lifecycleStatus")
    spec = OrderableSpec(
        id=ident, name=str(doc.get("name") or ident), version=doc.get("version"), lifecycle_status=status,
        orderable=isinstance(status, str) and status.strip().lower() in ORDERABLE_STATUSES,
        characteristics=rules, endpoints=endpoints, has_activation=bool(netconf), _netconf=netconf,
        _resources=resources)
    _check_templates(label, spec)
    return spec


def _mentions(doc: dict, member: str) -> bool:
    if member in doc:
        return True
    return any(isinstance(item, dict) and member in item for item in doc.get("specCharacteristic") or ())


def _characteristics(label: str, entries) -> Iterable[CharacteristicRule]:
    if entries is None:
        return
    if not isinstance(entries, list):
        raise CatalogError(f"{label}: 'specCharacteristic' must be a list")
    seen = set()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
            raise CatalogError(f"{label}: specCharacteristic #{index + 1} has no name")
        name = entry["name"]
        if name in seen:
            raise CatalogError(f"{label}: characteristic '{name}' is specified twice")
        seen.add(name)
        yield _characteristic(f"{label}, characteristic '{name}'", name, entry)


def _cardinality(where: str, entry: dict, key: str, default: int) -> int:
    value = entry.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CatalogError(f"{where}: '{key}' must be a whole number of 0 or more")
    return value


def _characteristic(where: str, name: str, entry: dict) -> CharacteristicRule:
    value_type = entry.get("valueType") or "string"
    if not isinstance(value_type, str):
        raise CatalogError(f"{where}: 'valueType' must be a string")
    minimum_count = _cardinality(where, entry, "minCardinality", 0)
    maximum_count = _cardinality(where, entry, "maxCardinality", max(1, minimum_count))
    if maximum_count < minimum_count:
        raise CatalogError(f"{where}: maxCardinality {maximum_count} is below minCardinality {minimum_count}")
    values = entry.get("characteristicValueSpecification") or []
    if not isinstance(values, list):
        raise CatalogError(f"{where}: 'characteristicValueSpecification' must be a list")
    allowed, default, ranges = [], None, []
    for index, value_spec in enumerate(values):
        if not isinstance(value_spec, dict):
            raise CatalogError(f"{where}: characteristicValueSpecification #{index + 1} must be an object")
        low, high = _blank(value_spec.get("valueFrom")), _blank(value_spec.get("valueTo"))
        if low is not None or high is not None:
            if value_type not in ("integer", "number"):
                raise CatalogError(f"{where}: a range (valueFrom/valueTo) needs valueType integer or number, "
                                   f"not {value_type}")
            try:
                low = None if low is None else coerce("number", low)
                high = None if high is None else coerce("number", high)
            except ValueError:
                raise CatalogError(f"{where}: valueFrom and valueTo must be numbers") from None
            if low is not None and high is not None and low > high:
                raise CatalogError(f"{where}: valueFrom {_number(low)} is above valueTo {_number(high)}")
            ranges.append((low, high))
        if "value" in value_spec and value_spec["value"] is not None:
            try:
                typed = coerce(value_type, value_spec["value"])
            except ValueError:
                raise CatalogError(f"{where}: value {_show(value_spec['value'])} is not "
                                   f"{_type_phrase(value_type)}") from None
            allowed.append(typed)
            if value_spec.get("isDefault") is True:
                if default is not None:
                    raise CatalogError(f"{where}: more than one value is marked isDefault")
                default = typed
    if len(ranges) > 1:
        raise CatalogError(f"{where}: at most one range (valueFrom/valueTo) is supported")
    minimum, maximum = ranges[0] if ranges else (None, None)
    # With a range, listed values are the default or examples and must lie within it; without, they are the
    # only values allowed.
    rule = CharacteristicRule(
        name=name, value_type=value_type, required=minimum_count >= 1, default=None,
        allowed=tuple(dict.fromkeys(allowed)) if allowed and not ranges else None,
        minimum=minimum, maximum=maximum, multiple=maximum_count > 1)
    for value in allowed:
        _, problem = rule._one(value)
        if problem:
            raise CatalogError(f"{where}: listed value {_show(value)} breaks its own rule ({problem})")
    if default is not None and rule.multiple:
        default = [default]
    return replace(rule, default=default)


def _blank(value):
    return None if value is None or value == "" else value


def _endpoints(label: str, value) -> EndpointRule:
    if value is None:
        return EndpointRule(0, 0, ())
    if not isinstance(value, dict):
        raise CatalogError(f"{label}: 'endpoints' must be an object (minimum, maximum, resourceType)")
    minimum = _cardinality(f"{label}, endpoints", value, "minimum", 0)
    maximum = _cardinality(f"{label}, endpoints", value, "maximum", minimum)
    if maximum < minimum:
        raise CatalogError(f"{label}: endpoints maximum {maximum} is below minimum {minimum}")
    types = value.get("resourceType") or []
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, list) or not all(isinstance(t, str) and t for t in types):
        raise CatalogError(f"{label}: endpoints 'resourceType' must be a list of resource class names")
    return EndpointRule(minimum, maximum, tuple(types))


def _netconf(label: str, value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CatalogError(f"{label}: 'activation.netconf' must be an object with apply, remove and read")
    missing = [name for name in NETCONF_TEMPLATES if not isinstance(value.get(name), str) or not value[name].strip()]
    if missing:
        raise CatalogError(f"{label}: 'activation.netconf' needs all of apply, remove and read; "
                           f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing")
    return {name: _compile(_XML, value[name], f"{label}, activation.netconf.{name}") for name in NETCONF_TEMPLATES}


def _resources(label: str, value) -> tuple:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise CatalogError(f"{label}: 'activation.resources' must be a list of TMF639 resource objects")
    return tuple(_compile_strings(item, f"{label}, activation.resources[{index}]")
                 for index, item in enumerate(value))


def _compile_strings(node, where: str):
    if isinstance(node, str):
        return _compile(_TEXT, node, where)
    if isinstance(node, dict):
        return {key: _compile_strings(value, where) for key, value in node.items()}
    if isinstance(node, list):
        return [_compile_strings(value, where) for value in node]
    return node


_COMPILED: dict[tuple[int, str], jinja2.Template] = {}
_COMPILED_LOCK = threading.Lock()


def _compile(environment: SandboxedEnvironment, source: str, where: str) -> jinja2.Template:
    key = (id(environment), source)
    found = _COMPILED.get(key)
    if found is not None:
        return found
    try:
        unknown = sorted(meta.find_undeclared_variables(environment.parse(source)) - VARIABLES)
        template = environment.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise CatalogError(f"{where}: {_template_problem(exc)}") from None
    if unknown:
        raise CatalogError(f"{where}: unknown variable {', '.join(repr(name) for name in unknown)} "
                           f"(templates see {', '.join(sorted(VARIABLES))})")
    with _COMPILED_LOCK:
        if len(_COMPILED) > 4096:
            _COMPILED.clear()
        _COMPILED[key] = template
    return template


def sample_context(spec: OrderableSpec, *, optional_left_out: bool = False) -> dict:
    characteristic = {rule.name: (None if optional_left_out and not rule.required and rule.default is None
                                  else rule.sample()) for rule in spec.characteristics}
    return {
        "service": {"id": "sample-service-id", "name": "sample service <a&b>"},
        "characteristic": characteristic,
        "endpoint": {"id": "sample-endpoint-id", "name": "sample endpoint", "interface": "eth0",
                     "device": "192.0.2.1"},
    }


def _check_templates(label: str, spec: OrderableSpec) -> None:
    """Render every template with sample values of the right types (and once more with the optional
    characteristics left out), so an unknown member or broken XML is found when the specification is written."""
    if not spec._netconf and not spec._resources:
        return
    for optional_left_out in (False, True):
        context = sample_context(spec, optional_left_out=optional_left_out)
        for which in spec._netconf:
            spec.render_netconf(which, context)
        spec.render_resources(context)


# --------------------------------------------------------------------------- reading from the database

_CACHE: dict[tuple, OrderableSpec] = {}
_CACHE_LOCK = threading.Lock()


def orderable_specs(session, ids: Iterable[str]) -> dict[str, OrderableSpec]:
    """The specifications with these ids, read in the caller's SQLAlchemy session; ids not in the catalog are
    absent from the result. Parsed specifications are cached per (id, row version, last write)."""
    from sqlalchemy import select

    from tmf_oss.catalog.model import ServiceSpecificationRow as Row

    wanted = sorted(set(ids))
    if not wanted:
        return {}
    found: dict[str, OrderableSpec] = {}
    rows = session.execute(select(Row.id, Row.version, Row.updated_at).where(Row.id.in_(wanted))).all()
    missing = []
    for ident, version, updated_at in rows:
        cached = _CACHE.get((ident, version, updated_at))
        if cached is not None:
            found[ident] = cached
        else:
            missing.append(ident)
    if missing:
        for ident, version, updated_at, doc in session.execute(
                select(Row.id, Row.version, Row.updated_at, Row.doc).where(Row.id.in_(missing))).all():
            spec = parse_spec(ident, doc)
            with _CACHE_LOCK:
                if len(_CACHE) > 1024:
                    _CACHE.clear()
                _CACHE[(ident, version, updated_at)] = spec
            found[ident] = spec
    return found

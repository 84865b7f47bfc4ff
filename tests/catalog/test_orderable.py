"""The rules and templates the ordering engine reads from a service specification (catalog/orderable.py)."""
from __future__ import annotations

import copy

import pytest
import yaml

from tmf_oss.catalog.orderable import CatalogError, coerce, parse_spec, xml_problem
from tmf_oss.catalog.seed import DEFAULT_CATALOG

SHIPPED = {entry["id"]: entry for entry in yaml.safe_load(DEFAULT_CATALOG.read_text())["serviceSpecification"]}


def context(characteristic, **endpoint):
    return {"service": {"id": "svc-1", "name": "Acme <HQ> & co"}, "characteristic": characteristic,
            "endpoint": {"id": "res-1", "name": "r1 eth1", "interface": "eth1", "device": "10.0.0.1", **endpoint}}


def spec_with(**members):
    doc = copy.deepcopy(SHIPPED["vlan-service"])
    doc.update(members)
    return doc


@pytest.mark.parametrize("ident", sorted(SHIPPED))
def test_every_shipped_specification_parses_and_renders(ident):
    spec = parse_spec(ident, SHIPPED[ident])
    assert spec.orderable and spec.has_activation and spec.name == ident
    values, problems = spec.check([{"name": "vlanId", "value": 10}] if ident == "vlan-service" else [])
    assert problems == []
    for which in ("apply", "remove", "read"):
        assert xml_problem(spec.render_netconf(which, context(values))) is None


def test_vlan_rules():
    spec = parse_spec("vlan-service", SHIPPED["vlan-service"])
    assert spec.endpoints.minimum == spec.endpoints.maximum == 2
    assert spec.endpoints.resource_types == ("LogicalResource",)
    vlan = spec.rule("vlanId")
    assert (vlan.value_type, vlan.required, vlan.minimum, vlan.maximum, vlan.allowed) == ("integer", True, 1, 4094, None)
    assert spec.check([{"name": "vlanId", "value": "100", "valueType": "integer"}]) == (
        {"vlanId": 100, "description": None}, [])
    assert spec.check([{"name": "vlanId", "value": 100.0}])[0]["vlanId"] == 100


@pytest.mark.parametrize("given, problem", [
    ([], "required 'vlanId' missing"),
    ([{"name": "vlanId", "value": "abc"}], "'vlanId' must be an integer, got 'abc'"),
    ([{"name": "vlanId", "value": 5000}], "'vlanId' 5000 is above the maximum 4094"),
    ([{"name": "vlanId", "value": 0}], "'vlanId' 0 is below the minimum 1"),
    ([{"name": "vlanId", "value": True}], "'vlanId' must be an integer, got true"),
    ([{"name": "vlanId", "value": 1.5}], "'vlanId' must be an integer, got 1.5"),
    ([{"name": "vlanId", "value": [1, 2]}], "'vlanId' takes one value, got a list"),
    ([{"name": "vlanId"}], "'vlanId' has no value"),
    ([{"name": "vlanId", "value": 7}, {"name": "vlanId", "value": 8}], "duplicate 'vlanId'"),
    ([{"name": "vlanId", "value": 7}, {"name": "colour", "value": "red"}], "unknown characteristic 'colour'"),
    ([{"name": "vlanId", "value": 7}, {"name": "description", "value": 5}], "'description' must be a string, got 5"),
    ([{"value": 7}], "characteristic #1 has no name"),
])
def test_vlan_problems_are_precise(given, problem):
    spec = parse_spec("vlan-service", SHIPPED["vlan-service"])
    assert problem in spec.check(given)[1]


def test_allowed_values_and_defaults():
    spec = parse_spec("interface-activation", SHIPPED["interface-activation"])
    assert spec.check([]) == ({"adminState": "up", "description": None}, [])
    assert spec.check([{"name": "adminState", "value": "sideways"}])[1] == ["'adminState' must be one of up, down"]
    access = parse_spec("internet-access", SHIPPED["internet-access"])
    assert access.check([]) == ({"bandwidth": 100}, [])
    assert access.check([{"name": "bandwidth", "value": "250"}]) == ({"bandwidth": 250}, [])
    assert access.check([{"name": "bandwidth", "value": 200000}])[1] == [
        "'bandwidth' 200000 is above the maximum 100000"]
    assert "<bandwidth>250000</bandwidth>" in access.render_netconf("apply", context({"bandwidth": 250}))


def test_number_boolean_and_multiple_values():
    doc = {"name": "mixed", "specCharacteristic": [
        {"name": "ratio", "valueType": "number", "characteristicValueSpecification": [{"valueFrom": 0, "valueTo": 1}]},
        {"name": "enabled", "valueType": "boolean", "minCardinality": 1},
        {"name": "tags", "valueType": "string", "maxCardinality": 3},
    ]}
    spec = parse_spec("mixed", doc)
    values, problems = spec.check([{"name": "ratio", "value": "0.25"}, {"name": "enabled", "value": "true"},
                                   {"name": "tags", "value": ["a", "b"]}])
    assert problems == [] and values == {"ratio": 0.25, "enabled": True, "tags": ["a", "b"]}
    assert spec.check([{"name": "enabled", "value": "maybe"}])[1] == [
        "'enabled' must be a boolean (true or false), got 'maybe'"]
    assert not spec.orderable  # no lifecycleStatus
    assert not spec.has_activation


@pytest.mark.parametrize("status, orderable", [
    ("Active", True), ("launched", True), ("Released", True), ("In design", False), ("Retired", False), (None, False)])
def test_orderable_statuses(status, orderable):
    assert parse_spec("x", {"name": "x", "lifecycleStatus": status}).orderable is orderable


def test_rendering_escapes_values_for_xml():
    spec = parse_spec("vlan-service", SHIPPED["vlan-service"])
    text = spec.render_netconf("apply", context({"vlanId": 7, "description": "</description><evil/>"}))
    assert "<evil/>" not in text and "&lt;/description&gt;&lt;evil/&gt;" in text
    assert "Acme &lt;HQ&gt; &amp; co" in text
    assert xml_problem(text) is None
    resources = spec.render_resources(context({"vlanId": 7, "description": None}))
    assert resources[0]["name"] == "vlan 7 on r1 eth1"  # plain text: no XML escaping in resource documents
    assert resources[0]["resourceCharacteristic"][0] == {"name": "vlanId", "value": "7"}


def test_rendering_needs_the_three_variables():
    spec = parse_spec("vlan-service", SHIPPED["vlan-service"])
    with pytest.raises(CatalogError, match="lacks endpoint"):
        spec.render_netconf("apply", {"service": {}, "characteristic": {}})
    with pytest.raises(CatalogError, match="no NETCONF template 'merge'"):
        spec.render_netconf("merge", context({"vlanId": 1}))
    with pytest.raises(CatalogError, match="has no attribute 'vlanId'"):
        spec.render_netconf("apply", context({}))


def netconf(apply="<a/>", remove="<a/>", read="<a/>"):
    return {"netconf": {"apply": apply, "remove": remove, "read": read}}


@pytest.mark.parametrize("members, message", [
    ({"activation": netconf(apply="<a>{{ vlan }}</a>")}, "activation.netconf.apply: unknown variable 'vlan'"),
    ({"activation": netconf(read="<a>{{ characteristic.vlanid }}</a>")},
     "activation.netconf.read: unknown variable or member"),
    ({"activation": netconf(remove="<a>{% if %}</a>")}, "activation.netconf.remove: template syntax error on line 1"),
    ({"activation": netconf(apply="<a><b></a>")}, "activation.netconf.apply: the rendered XML is not well-formed"),
    ({"activation": netconf(apply="<nc:a>x</nc:a>")}, "the rendered XML is not well-formed"),
    ({"activation": {"netconf": {"apply": "<a/>", "remove": "<a/>"}}},
     "needs all of apply, remove and read; read is missing"),
    ({"activation": {"netconf": {"apply": "<a/>"}}}, "remove, read are missing"),
    ({"activation": {"resources": [{"name": "{{ endpoint.port }}"}]}}, "activation.resources[0]: unknown variable"),
    ({"activation": netconf(), "endpoints": None}, "'activation' acts on endpoints, but 'endpoints' allows none"),
    ({"endpoints": {"minimum": 3, "maximum": 2}}, "endpoints maximum 2 is below minimum 3"),
    ({"specCharacteristic": [{"name": "a"}, {"name": "a"}]}, "characteristic 'a' is specified twice"),
    ({"specCharacteristic": [{"name": "a", "valueType": "string",
                              "characteristicValueSpecification": [{"valueFrom": 1, "valueTo": 2}]}]},
     "a range (valueFrom/valueTo) needs valueType integer or number, not string"),
    ({"specCharacteristic": [{"name": "a", "valueType": "integer",
                              "characteristicValueSpecification": [{"valueFrom": 1, "valueTo": 9},
                                                                   {"value": 10, "isDefault": True}]}]},
     "listed value 10 breaks its own rule ('a' 10 is above the maximum 9)"),
    ({"specCharacteristic": [{"name": "a", "valueType": "integer",
                              "characteristicValueSpecification": [{"value": "x"}]}]},
     "value 'x' is not an integer"),
    ({"specCharacteristic": [{"name": "a", "minCardinality": 2, "maxCardinality": 1}]},
     "maxCardinality 1 is below minCardinality 2"),
    ({"serviceSpecCharacteristic": [{"name": "a"}]}, "'serviceSpecCharacteristic' is not a TMF633 v4 member"),
])
def test_bad_specifications_are_refused_precisely(members, message):
    with pytest.raises(CatalogError) as caught:
        parse_spec("vlan-service", spec_with(**members))
    assert message in str(caught.value)
    assert "service specification 'vlan-service'" in str(caught.value)


def test_coerce():
    assert coerce("integer", " 42 ") == 42 and coerce("number", "1e3") == 1000.0 and coerce("number", "7") == 7
    for value_type, value in (("integer", "4.5"), ("number", "nan"), ("boolean", 1), ("string", 3)):
        with pytest.raises(ValueError):
            coerce(value_type, value)
    assert coerce("object", {"a": 1}) == {"a": 1}  # types tmf-oss does not interpret are taken as given

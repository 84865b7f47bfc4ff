"""The TMF filter language: parsing and evaluation on documents (used for hub queries)."""
import pytest

from tmf_oss.tmf.errors import TmfError
from tmf_oss.tmf.query import Condition, matches, parse_conditions, parse_query_string


def conditions(raw: str):
    return parse_conditions(parse_query_string(raw))


@pytest.mark.parametrize("raw, expected", [
    ("state=raised", [Condition(("state",), "eq", ("raised",))]),
    ("state=raised,cleared", [Condition(("state",), "eq", ("raised", "cleared"))]),
    ("state=raised;cleared", [Condition(("state",), "eq", ("raised", "cleared"))]),
    ("state=raised;state=cleared", [Condition(("state",), "eq", ("raised", "cleared"))]),
    ("state=raised&state=cleared", [Condition(("state",), "eq", ("raised", "cleared"))]),
    ("a.b.c=1", [Condition(("a", "b", "c"), "eq", ("1",))]),
    ("n.gt=5", [Condition(("n",), "gt", ("5",))]),
    ("n.gte=5", [Condition(("n",), "gte", ("5",))]),
    ("n.lt=5", [Condition(("n",), "lt", ("5",))]),
    ("n.lte=5", [Condition(("n",), "lte", ("5",))]),
    ("n.ne=5", [Condition(("n",), "ne", ("5",))]),
    ("n.eq=5", [Condition(("n",), "eq", ("5",))]),
    ("name.regex=^ro.*,x", [Condition(("name",), "regex", ("^ro.*,x",))]),
    ("name=~^ro", [Condition(("name",), "regex", ("^ro",))]),
    ("n%3E=5", [Condition(("n",), "gte", ("5",))]),
    ("n%3C=5", [Condition(("n",), "lte", ("5",))]),
    ("n%3E5", [Condition(("n",), "gt", ("5",))]),
    ("n%3C5", [Condition(("n",), "lt", ("5",))]),
    ("fields=name&offset=2&limit=3&sort=name", []),
])
def test_parse(raw, expected):
    assert conditions(raw) == expected


@pytest.mark.parametrize("raw", ["a..b=1", ".a=1", "n.gt=1,2"])
def test_parse_rejects(raw):
    with pytest.raises(TmfError) as info:
        conditions(raw)
    assert info.value.status == 400


EVENT = {
    "eventType": "ResourceStateChangeEvent",
    "eventTime": "2026-03-01T10:00:00.000Z",
    "event": {"resource": {
        "name": "router-1", "resourceStatus": "alarm", "weight": 12,
        "resourceCharacteristic": [{"name": "vlan", "value": 100}, {"name": "mtu", "value": "9000"}],
        "enabled": True,
    }},
}


@pytest.mark.parametrize("raw, expected", [
    ("eventType=ResourceStateChangeEvent", True),
    ("eventType=ResourceCreateEvent", False),
    ("eventType=ResourceCreateEvent,ResourceStateChangeEvent", True),
    ("eventType=ResourceStateChangeEvent&event.resource.resourceStatus=alarm", True),
    ("eventType=ResourceStateChangeEvent&event.resource.resourceStatus=available", False),
    ("event.resource.resourceCharacteristic.name=mtu", True),
    ("event.resource.resourceCharacteristic.name=speed", False),
    ("event.resource.resourceCharacteristic.value=100", True),
    ("event.resource.weight.gt=11.5", True),
    ("event.resource.weight.gt=12", False),
    ("event.resource.weight.lte=12", True),
    ("eventTime.gt=2026-03-01T09:00:00Z", True),
    ("eventTime.gt=2026-03-01T11:00:00+02:00", True),  # 09:00Z: compared as instants, not text
    ("eventTime.lt=2026-03-01T10:00:00Z", False),
    ("event.resource.name.regex=^rou", True),
    ("event.resource.name.regex=^sw", False),
    ("event.resource.name.ne=router-1", False),
    ("event.resource.name.ne=router-2", True),
    ("event.resource.missing=x", False),
    ("event.resource.enabled=true", True),
])
def test_matches(raw, expected):
    assert matches(EVENT, conditions(raw)) is expected

"""How SNMP values become Python values: an interface's physical address is hex whatever its bytes spell."""
from __future__ import annotations

from pysnmp.proto.rfc1902 import OctetString

from tmf_oss.southbound.snmp import _mac, _python


def test_a_mac_address_whose_bytes_are_printable_is_still_hex():
    printable = OctetString(bytes.fromhex("76386162676b"))  # "v8abgk", a veth address seen in the lab
    assert _python(printable) == "v8abgk"  # as any other octet string would be shown
    assert _mac(_python(printable)) == "76:38:61:62:67:6b"


def test_other_mac_addresses_and_none():
    assert _mac(_python(OctetString(bytes.fromhex("02005e1000ff")))) == "02:00:5e:10:00:ff"
    assert _mac("") == "" and _mac(None) == ""

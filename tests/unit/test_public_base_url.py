"""The base URL hrefs are built from: Host, X-Forwarded-* (when trusted), the configured override."""
from __future__ import annotations

import pytest

from tmf_oss.tmf.http import public_base_url, query_pairs


def request(headers: dict[str, str], scheme: str = "http", server=("127.0.0.1", 8080)) -> dict:
    """An ASGI scope as servers give it: header names in lower case, as bytes."""
    return {"type": "http", "scheme": scheme, "server": server, "path": "/", "query_string": b"",
            "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()]}


@pytest.mark.parametrize("headers, trusted, expected", [
    ({"Host": "oss:8080"}, True, "http://oss:8080"),
    ({"Host": "oss:8080", "X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "oss.example.net, proxy"},
     True, "https://oss.example.net"),
    ({"Host": "oss", "X-Forwarded-Host": "oss.example.net", "X-Forwarded-Port": "8443"}, True,
     "http://oss.example.net:8443"),
    ({"Host": "oss", "X-Forwarded-Host": "oss.example.net:9000", "X-Forwarded-Port": "8443"}, True,
     "http://oss.example.net:9000"),
    ({"Host": "oss", "X-Forwarded-Prefix": "/inventory/"}, True, "http://oss/inventory"),
    ({"Host": "oss", "X-Forwarded-Proto": "https", "X-Forwarded-Prefix": "/inventory"}, False, "http://oss"),
    ({}, True, "http://127.0.0.1:8080"),
])
def test_base_url(headers, trusted, expected):
    assert public_base_url(request(headers), "", trusted) == expected


def test_default_port_left_out_without_host_header():
    assert public_base_url(request({}, scheme="https", server=("oss", 443))) == "https://oss"


def test_configured_base_url_wins():
    assert public_base_url(request({"Host": "oss"}), "https://api.example.net/", True) == "https://api.example.net"


def test_query_pairs_keep_order_repeats_and_blank_values():
    scope = {"query_string": b"name=r1&name=r2&fields=&state.ne=a%2Cb&x=%C3%A9"}
    assert query_pairs(scope) == [("name", "r1"), ("name", "r2"), ("fields", ""), ("state.ne", "a,b"),
                                  ("x", "\u00e9")]

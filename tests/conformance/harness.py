"""Conformance harness: checks a running TMF server against the official TM Forum documents.

Three parts, all independent of any one API:

* ``OfficialSpec`` reads an official Swagger 2.0 (v4) or OpenAPI 3.0 (v5) document, finds the
  operation behind a request path and validates bodies against the schemas the document declares.
* ``TmfClient`` is a small httpx client bound to one API version (base path + official document);
  ``TmfClient.expect`` asserts a status and validates the response against the official document.
* ``EntityConformance`` holds the checks every TMF managed entity must pass (CRUD, errors, query
  behaviour, hub).  An API's test module subclasses it and supplies only its payloads.

The official documents are reference data: they are read at test time and never copied.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote, urljoin, urlsplit

import httpx
import pytest
import yaml
from jsonschema import Draft4Validator, ValidationError
from jsonschema import _keywords as json_keywords
from jsonschema.validators import extend
from openapi_schema_validator import OAS30Validator
from openapi_schema_validator._format import oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


# =========================================================================== official documents


def media_essence(media_type: str | None) -> str:
    """`application/json;charset=utf-8` -> `application/json` (parameters do not change the format)."""
    return (media_type or "").split(";")[0].strip().lower()


def _escape(part: str) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _pointer(*parts: Any) -> str:
    return "".join("/" + _escape(p) for p in parts)


def _json_path(path: Iterable[Any]) -> str:
    text = "$"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


# OpenAPI 3.0 discriminators.  openapi-schema-validator follows the discriminator mapping, but TM Forum
# documents map a base type onto itself and let subclasses `allOf` their base (Resource -> PhysicalResource
# -> Resource -> ...), which recurses forever.  These keywords validate the subschemas as usual and then
# the schema named by `@type`, never the same (instance, schema) pair twice.
_dispatching = threading.local()


def _discriminated_schema(validator, instance, schema):
    discriminator = schema["discriminator"]
    if not isinstance(instance, dict):
        return
    value = instance.get(discriminator.get("propertyName", ""))
    if not isinstance(value, str):
        return  # a missing @type is reported by the `required` of Extensible
    ref = discriminator.get("mapping", {}).get(value) or f"#/components/schemas/{value}"
    active = _dispatching.__dict__.setdefault("active", set())
    key = (id(instance), ref)
    if key in active:
        return
    try:
        validator._resolver.lookup(ref)
    except Exception:
        yield ValidationError(f"{discriminator['propertyName']} {value!r} names no schema of the document "
                              f"(discriminator mapping: {sorted(discriminator.get('mapping', {}))})")
        return
    active.add(key)
    try:
        errors = list(validator.descend(instance, {"$ref": ref}))  # eagerly, so `active` stays nested
    finally:
        active.discard(key)
    yield from errors


def _all_of(validator, all_of, instance, schema):
    yield from json_keywords.allOf(validator, all_of, instance, schema)
    if "discriminator" in schema:
        yield from _discriminated_schema(validator, instance, schema)


def _one_of(validator, one_of, instance, schema):
    # With a discriminator the named alternative decides; TMF alternatives (XRef | X) overlap otherwise.
    if "discriminator" in schema:
        yield from _discriminated_schema(validator, instance, schema)
    else:
        yield from json_keywords.oneOf(validator, one_of, instance, schema)


def _any_of(validator, any_of, instance, schema):
    if "discriminator" in schema:
        yield from _discriminated_schema(validator, instance, schema)
    else:
        yield from json_keywords.anyOf(validator, any_of, instance, schema)


Oas30TmfValidator = extend(OAS30Validator, {"allOf": _all_of, "oneOf": _one_of, "anyOf": _any_of})


@dataclass(frozen=True)
class Operation:
    method: str  # lower case
    path: str  # template relative to the API base path, e.g. "/resource/{id}"
    operation_id: str
    pointer: str  # JSON pointer of the operation object in the document

    @property
    def is_listener(self) -> bool:
        """Listener operations describe the client's endpoint that receives events; servers do not serve them."""
        return self.path.startswith("/listener/")

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path} ({self.operation_id})"


class OfficialSpec:
    """One official TM Forum API document (Swagger 2.0 or OpenAPI 3.0)."""

    def __init__(self, document: dict, source: Path):
        self.document = document
        self.source = source
        self.is_swagger2 = str(document.get("swagger", "")).startswith("2.")
        self._uri = f"urn:tmf-official:{source.name}"
        self._registry = Registry().with_resource(self._uri, Resource(contents=document, specification=DRAFT4))
        self.operations = [
            Operation(method, path, op.get("operationId", f"{method} {path}"), _pointer("paths", path, method))
            for path, item in document.get("paths", {}).items()
            for method, op in item.items() if method in HTTP_METHODS
        ]
        self._matchers = [(re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(op.path.rstrip("/")))
                                      + "/?$"), op) for op in self.operations]

    @classmethod
    def load(cls, path: Path) -> "OfficialSpec":
        return _load_spec(Path(path).resolve())

    # ------------------------------------------------------------------ navigation

    def _node(self, pointer: str) -> Any:
        node = self.document
        for part in pointer.split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def _follow(self, pointer: str) -> tuple[str, Any]:
        """Follow local `$ref`s of non-schema objects (responses, request bodies, parameters, headers)."""
        node = self._node(pointer)
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
            pointer = node["$ref"][1:]
            node = self._node(pointer)
        return pointer, node

    def operation(self, method: str, path: str) -> Operation:
        for op in self.operations:
            if op.method == method.lower() and op.path == path:
                return op
        raise LookupError(f"the official {self.source.name} has no operation {method.upper()} {path}")

    def match(self, method: str, path: str) -> Operation | None:
        """The operation serving a concrete path relative to the base path (e.g. /resource/42)."""
        path = path.split("?")[0]
        for pattern, op in self._matchers:
            if op.method == method.lower() and pattern.match(path):
                return op
        return None

    def declared_statuses(self, op: Operation) -> list[str]:
        return list(self._node(op.pointer).get("responses", {}))

    def response_pointer(self, op: Operation, status: int) -> str | None:
        """The response object declared for `status` (or the `default` one); None when neither exists."""
        responses = self._node(op.pointer).get("responses", {})
        key = str(status) if str(status) in responses else "default" if "default" in responses else None
        if key is None:
            return None
        return self._follow(op.pointer + _pointer("responses", key))[0]

    def response_media_types(self, op: Operation, status: int) -> list[str]:
        pointer = self.response_pointer(op, status)
        if pointer is None:
            return []
        if self.is_swagger2:
            if "schema" not in self._node(pointer):
                return []
            return self._node(op.pointer).get("produces") or self.document.get("produces") or ["application/json"]
        return list(self._node(pointer).get("content", {}))

    def response_schema_pointer(self, op: Operation, status: int, media_type: str | None = None) -> str | None:
        """Pointer of the body schema for (operation, status); None when the response has no body."""
        pointer = self.response_pointer(op, status)
        if pointer is None:
            return None
        response = self._node(pointer)
        if self.is_swagger2:
            return pointer + "/schema" if "schema" in response else None
        content = response.get("content", {})
        for declared in content:
            if media_type is None or media_essence(declared) == media_essence(media_type):
                return pointer + _pointer("content", declared, "schema") if "schema" in content[declared] else None
        return None

    def response_headers(self, op: Operation, status: int) -> dict[str, str]:
        """Declared response headers: name -> pointer of its schema."""
        pointer = self.response_pointer(op, status)
        if pointer is None:
            return {}
        headers = {}
        for name in self._node(pointer).get("headers", {}):
            header_pointer, header = self._follow(pointer + _pointer("headers", name))
            headers[name] = header_pointer if self.is_swagger2 else header_pointer + "/schema"
        return headers

    def request_media_types(self, op: Operation) -> list[str]:
        if self.is_swagger2:
            return self._node(op.pointer).get("consumes") or self.document.get("consumes") or ["application/json"]
        if "requestBody" not in self._node(op.pointer):
            return []
        return list(self._follow(op.pointer + "/requestBody")[1].get("content", {}))

    def request_schema_pointer(self, op: Operation, media_type: str | None = None) -> str | None:
        if self.is_swagger2:
            params = self._node(op.pointer).get("parameters", [])
            for index in range(len(params)):
                param_pointer, param = self._follow(op.pointer + _pointer("parameters", index))
                if param.get("in") == "body":
                    return param_pointer + "/schema"
            return None
        if "requestBody" not in self._node(op.pointer):
            return None
        body_pointer, body = self._follow(op.pointer + "/requestBody")
        for declared in body.get("content", {}):
            if media_type is None or media_essence(declared) == media_essence(media_type):
                return body_pointer + _pointer("content", declared, "schema")
        return None

    def schema_pointer(self, name: str) -> str:
        """Pointer of a named schema (`definitions` in v4, `components/schemas` in v5)."""
        pointer = _pointer("definitions", name) if self.is_swagger2 else _pointer("components", "schemas", name)
        self._node(pointer)  # KeyError when absent
        return pointer

    # ------------------------------------------------------------------ validation

    def errors(self, schema_pointer: str, instance: Any) -> list[str]:
        """Readable validation errors of `instance` against the schema at `schema_pointer`."""
        schema = {"$ref": f"{self._uri}#{schema_pointer}"}
        if self.is_swagger2:  # Swagger 2.0 schemas are a JSON Schema draft 4 dialect
            validator = Draft4Validator(schema, registry=self._registry,
                                        format_checker=Draft4Validator.FORMAT_CHECKER)
        else:
            validator = Oas30TmfValidator(schema, registry=self._registry, format_checker=oas30_format_checker)
        found: list[str] = []
        for error in validator.iter_errors(instance):
            for leaf in _leaves(error):
                text = f"{_json_path(leaf.absolute_path)}: {_shorten(leaf.message)}"
                if text not in found:  # a discriminator may visit the same schema twice
                    found.append(text)
        return found

    def response_errors(self, op: Operation, status: int, body: Any, media_type: str | None = None) -> list[str]:
        pointer = self.response_schema_pointer(op, status, media_type)
        return [] if pointer is None else self.errors(pointer, body)

    def request_errors(self, op: Operation, body: Any, media_type: str | None = None) -> list[str]:
        pointer = self.request_schema_pointer(op, media_type)
        return [] if pointer is None else self.errors(pointer, body)

    def schema_location(self, pointer: str | None) -> str:
        """Where a schema is, for messages: the named schema it refers to, or its pointer."""
        if pointer is None:
            return "(no schema)"
        node = self._node(pointer)
        if isinstance(node, dict) and "$ref" in node:
            return f"{self.source.name}{node['$ref']}"
        if isinstance(node, dict) and isinstance(node.get("items"), dict) and "$ref" in node["items"]:
            return f"{self.source.name} array of {node['items']['$ref']}"
        return f"{self.source.name}#{pointer}"


@lru_cache(maxsize=None)
def _load_spec(path: Path) -> OfficialSpec:
    text = path.read_text(encoding="utf-8")
    document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return OfficialSpec(document, path)


def _leaves(error: ValidationError) -> list[ValidationError]:
    """The most specific errors: for anyOf/oneOf failures, those of the closest alternative."""
    if not error.context:
        return [error]
    by_branch: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        by_branch.setdefault(sub.relative_schema_path[0] if sub.relative_schema_path else 0, []).append(sub)
    closest = min(by_branch.values(), key=len)
    return [leaf for sub in closest for leaf in _leaves(sub)]


def _shorten(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# =========================================================================== HTTP client


@dataclass(frozen=True)
class ApiVersion:
    """One version of a TMF API as served: the official document and the standard base path."""

    version: str  # "v4", "v5"
    official_file: str  # relative to the official files directory
    base_path: str  # e.g. "/tmf-api/resourceInventoryManagement/v5"

    @property
    def major(self) -> int:
        return int(self.version.lstrip("v").split(".")[0])

    @property
    def always_present(self) -> tuple[str, ...]:
        """Members every representation carries, even with `fields=` (TMF630; v5 makes @type mandatory)."""
        return ("id", "href", "@type") if self.major >= 5 else ("id", "href")


@dataclass(frozen=True)
class ApiDefinition:
    name: str  # "TMF639"
    versions: tuple[ApiVersion, ...]

    def version(self, version: str) -> ApiVersion:
        return next(v for v in self.versions if v.version == version)


def query_string(params: Iterable[tuple[str, Any]] | dict[str, Any]) -> str:
    """Encode query parameters keeping TMF630's delimiters (`,` `;`) and `@`, `:` literal; `+` is encoded."""
    items = params.items() if isinstance(params, dict) else params
    return "&".join(f"{quote(str(k), safe='.@')}={quote(str(v), safe=',;:@.-_~')}" for k, v in items)


class ConformanceFailure(AssertionError):
    pass


def describe_exchange(response: httpx.Response, limit: int = 1500) -> str:
    request = response.request
    lines = [f"{request.method} {request.url}"]
    content_type = request.headers.get("content-type")
    if request.content:
        lines.append(f"  request ({content_type}): {_shorten(request.content.decode('utf-8', 'replace'), limit)}")
    lines.append(f"  -> {response.status_code} ({response.headers.get('content-type', 'no content-type')})")
    if response.content:
        lines.append(f"  response: {_shorten(response.text, limit)}")
    return "\n".join(lines)


class TmfClient:
    """httpx bound to one API version; every exchange can be checked against the official document."""

    def __init__(self, root_url: str, api: ApiVersion, spec: OfficialSpec, timeout: float = 30.0):
        self.api = api
        self.spec = spec
        self.base_url = root_url.rstrip("/") + api.base_path
        self.http = httpx.Client(timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def url(self, path: str, params: Any = None) -> str:
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        return f"{url}?{query_string(params)}" if params else url

    def request(self, method: str, path: str, *, params: Any = None, json_body: Any = None,
                content: bytes | None = None, media_type: str | None = None,
                validate_request: bool = True) -> httpx.Response:
        """Send a request.  Bodies are checked against the official request schema first, so that a
        failure always means the server is wrong, not the payload (pass validate_request=False for
        deliberately invalid bodies)."""
        headers = {"Accept": "application/json"}
        if json_body is not None:
            media_type = media_type or "application/json"
            content = json.dumps(json_body).encode()
            if validate_request:
                op = self._operation(method, path)
                problems = self.spec.request_errors(op, json_body, media_type)
                assert not problems, (f"harness bug: the {method} {path} payload is not valid against the "
                                      f"official request schema:\n  " + "\n  ".join(problems))
        if media_type:
            headers["Content-Type"] = media_type
        return self.http.request(method.upper(), self.url(path, params), content=content, headers=headers)

    def get(self, path: str, **kw) -> httpx.Response:
        return self.request("get", path, **kw)

    def post(self, path: str, body: Any, **kw) -> httpx.Response:
        return self.request("post", path, json_body=body, **kw)

    def patch(self, path: str, body: Any, media_type: str, **kw) -> httpx.Response:
        return self.request("patch", path, json_body=body, media_type=media_type, **kw)

    def delete(self, path: str, **kw) -> httpx.Response:
        return self.request("delete", path, **kw)

    def relative_path(self, url: str) -> str:
        path = urlsplit(str(url)).path
        base = urlsplit(self.base_url).path
        return path[len(base):] if path.startswith(base) else path

    def _operation(self, method: str, path: str) -> Operation:
        relative = self.relative_path(self.url(path)) if path.startswith(("http://", "https://")) else path
        op = self.spec.match(method, relative)
        assert op is not None, f"harness bug: no official operation for {method.upper()} {relative}"
        return op

    def expect(self, response: httpx.Response, status: int) -> Any:
        """Assert the status and that the response is what the official document declares for it:
        a declared status, a declared media type, a body valid against the declared schema and
        declared headers of the declared type.  Returns the parsed body (None when empty)."""
        method = response.request.method
        op = self._operation(method, self.relative_path(response.request.url))
        where = describe_exchange(response)
        if response.status_code != status:
            raise ConformanceFailure(f"expected {status} from {op}, got {response.status_code}\n{where}")
        problems = []
        if self.spec.response_pointer(op, status) is None:
            problems.append(f"the official document declares no {status} response for {op} "
                            f"(declared: {', '.join(self.spec.declared_statuses(op))})")
        body = None
        media_types = self.spec.response_media_types(op, status)
        if media_types:
            received = media_essence(response.headers.get("content-type"))
            if received not in {media_essence(m) for m in media_types}:
                problems.append(f"Content-Type {response.headers.get('content-type')!r} is none of the "
                                f"declared {media_types}")
                received = media_types[0]  # still check the body against what was declared
            try:
                body = response.json()
            except ValueError:
                problems.append("the body is not JSON")
            else:
                pointer = self.spec.response_schema_pointer(op, status, received)
                schema_problems = self.spec.response_errors(op, status, body, received)
                if schema_problems:
                    problems.append(f"body does not validate against {self.spec.schema_location(pointer)}:\n    "
                                    + "\n    ".join(schema_problems))
        elif response.content:
            try:
                body = response.json()
            except ValueError:
                body = response.text
        for name, schema_pointer in self.spec.response_headers(op, status).items():
            value = response.headers.get(name)
            if value is None:
                continue  # presence is checked where the API requires it
            header_problems = self.spec.errors(schema_pointer, _header_value(value, self.spec._node(schema_pointer)))
            if header_problems:
                problems.append(f"header {name}: {value!r} does not match its declared schema: {header_problems}")
        if problems:
            raise ConformanceFailure(f"{op} answered {status} but:\n  - " + "\n  - ".join(problems) + f"\n{where}")
        return body


def _header_value(text: str, schema: dict) -> Any:
    if schema.get("type") in ("integer", "number"):
        try:
            return int(text) if schema["type"] == "integer" else float(text)
        except ValueError:
            return text
    return text


# =========================================================================== helpers for the checks


def values_at(item: Any, dotted: str) -> list[Any]:
    """All values at a dot path; a path through an array collects every element's value."""
    current = [item]
    for part in dotted.split("."):
        found = []
        for node in current:
            if isinstance(node, list):
                node_values = [n.get(part) for n in node if isinstance(n, dict) and part in n]
            elif isinstance(node, dict) and part in node:
                node_values = [node[part]]
            else:
                node_values = []
            for value in node_values:
                found.extend(value if isinstance(value, list) else [value])
        current = found
    return current


def parse_instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _looks_like_instant(value: Any) -> bool:
    return isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value) is not None


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


ABSENT = _Absent()  # as an expected value: the member must not be present


def differences(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Where `actual` does not carry `expected` (objects: subset, ABSENT members must be missing;
    arrays: same length, element-wise; date-times: the same instant, whatever the notation)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        found = []
        for key, value in expected.items():
            if value is ABSENT:
                if key in actual:
                    found.append(f"{path}.{key}: expected to be removed, got {actual[key]!r}")
            elif key not in actual:
                found.append(f"{path}.{key}: missing (expected {value!r})")
            else:
                found += differences(value, actual[key], f"{path}.{key}")
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {expected!r}, got {actual!r}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual)) for d in differences(e, a, f"{path}[{i}]")]
    if _looks_like_instant(expected) and _looks_like_instant(actual):
        try:
            if parse_instant(expected) == parse_instant(actual):
                return []
        except ValueError:
            pass
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]


def assert_carries(expected: Any, actual: Any, what: str) -> None:
    found = differences(expected, actual)
    assert not found, f"{what}:\n  " + "\n  ".join(found)


def header_int(response: httpx.Response, name: str) -> int:
    value = response.headers.get(name)
    assert value is not None, f"missing header {name}\n{describe_exchange(response)}"
    assert re.fullmatch(r"\d+", value.strip()), f"header {name}={value!r} is not an integer"
    return int(value)


@dataclass
class Created:
    """Entities created by one test, deleted again afterwards (best effort, also on a foreign server)."""

    client: TmfClient
    paths: list[str]

    def add(self, path: str) -> None:
        self.paths.append(path)

    def cleanup(self) -> None:
        for path in reversed(self.paths):
            try:
                self.client.delete(path)
            except httpx.HTTPError:
                pass
        self.paths.clear()


def make_dataset(client: TmfClient, collection: str, bodies: list[dict], created: Created) -> list[dict]:
    """Create entities (in the given order) and return them as the server represents them (by GET)."""
    items = []
    for body in bodies:
        item = client.expect(client.post(collection, body), 201)
        created.add(f"{collection}/{item['id']}")
        items.append(item)
    return [client.expect(client.get(f"{collection}/{item['id']}"), 200) for item in items]


class EventListener:
    """A real HTTP endpoint on loopback that records what a server POSTs to a hub callback."""

    def __init__(self):
        self.received: list[tuple[str, str, Any]] = []  # (path, content type, parsed body or text)
        self._arrived = threading.Condition()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server naming
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                self.send_response(204)
                self.end_headers()
                with listener._arrived:
                    listener.received.append((self.path, self.headers.get("Content-Type", ""), body))
                    listener._arrived.notify_all()

            def log_message(self, *_args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/tmf-conformance/listener"

    def wait_for(self, condition, timeout: float) -> bool:
        with self._arrived:
            return self._arrived.wait_for(lambda: condition(self.received), timeout)

    def __enter__(self) -> "EventListener":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


# =========================================================================== generic checks


PATCH_MEDIA_TYPES = ("application/json", "application/merge-patch+json", "application/json-patch+json",
                     "application/json-patch-query+json")

# The query dataset: items 0..4 are created in this order, and their dates rank like this, so that
# neither the creation order nor the date order is the order of the text attribute.
DATASET_ORDER = (3, 0, 4, 1, 2)
DATASET_DATE_RANKS = (2, 4, 0, 3, 1)


class EntityConformance:
    """The checks every TMF managed entity (POST/GET/PATCH/DELETE + hub) must pass.

    An API's test module subclasses this (as ``Test...``) and sets ``api`` and ``collection``, the
    attribute names the query checks use, and implements the payload hooks below.  Version
    parametrization and the ``client``/``created``/``run_tag`` fixtures come from conftest.py.
    """

    api: ApiDefinition
    collection: str  # e.g. "/resource"
    hub: str | None = "/hub"
    # Attributes for the query checks.  The dataset hook must give every item a distinct, sortable
    # `text_attribute`, one shared `group_attribute` value (used to scope queries to our own data on a
    # busy server), a distinct `date_attribute` and `nested_attribute` values unique to the run.
    text_attribute = "name"
    group_attribute = "description"
    date_attribute: str | None = None
    nested_attribute: str | None = None
    # Further official operations a subclass checks itself, as (method, path template).
    extra_operations: tuple[tuple[str, str], ...] = ()

    # ------------------------------------------------------------------ hooks for the API module

    def create_body(self, version: ApiVersion, client: TmfClient, tag: str) -> dict:
        """A valid create payload whose text attribute is `tag`."""
        raise NotImplementedError

    def dataset_body(self, version: ApiVersion, client: TmfClient, group: str, index: int, rank: int) -> dict:
        """Item `index` of the query dataset: text attribute f"{group}-{index}", group attribute `group`,
        and a date attribute / nested values that differ per item (`rank` orders the dates, 0..4)."""
        raise NotImplementedError

    def patch_bodies(self, version: ApiVersion, media_type: str, item: dict) -> dict[str, tuple[Any, dict]]:
        """PATCH bodies in that media type for `item`, by label: (body, what the entity carries afterwards)."""
        raise NotImplementedError

    def invalid_create_bodies(self, version: ApiVersion, client: TmfClient, tag: str) -> dict[str, Any]:
        """Create payloads the official request schema refuses, by label."""
        raise NotImplementedError

    def invalid_patch_bodies(self, version: ApiVersion, item: dict) -> dict[str, tuple[str, Any]]:
        """PATCH bodies that must be refused with 400, by label: (media type, body)."""
        raise NotImplementedError

    def hub_body(self, version: ApiVersion, callback: str) -> dict:
        body = {"callback": callback, "query": "eventType=NoSuchEvent"}
        return {"@type": "Hub", **body} if version.major >= 5 else body

    # ------------------------------------------------------------------ helpers

    def tag(self, client: TmfClient, run_tag: str, what: str) -> str:
        """A value unique to this run, API version and check."""
        return f"{run_tag}-{client.api.version}-{what}"

    def new_body(self, client: TmfClient, run_tag: str, what: str) -> dict:
        return self.create_body(client.api, client, self.tag(client, run_tag, what))

    def item_path(self, item: dict) -> str:
        return f"{self.collection}/{item['id']}"

    def create(self, client: TmfClient, created: Created, body: dict) -> tuple[httpx.Response, dict]:
        response = client.post(self.collection, body)
        item = client.expect(response, 201)
        created.add(self.item_path(item))
        return response, item

    def covered_operations(self) -> set[tuple[str, str]]:
        item = self.collection + "/{id}"
        ops = {("post", self.collection), ("get", self.collection), ("get", item), ("patch", item),
               ("delete", item)}
        if self.hub:
            ops |= {("post", self.hub), ("get", self.hub + "/{id}"), ("delete", self.hub + "/{id}")}
        return ops | set(self.extra_operations)

    def list_items(self, client: TmfClient, params: Any) -> tuple[httpx.Response, list[dict]]:
        response = client.get(self.collection, params=params)
        body = client.expect(response, 200)
        assert isinstance(body, list), f"a list must answer a JSON array\n{describe_exchange(response)}"
        header_int(response, "X-Total-Count")
        assert header_int(response, "X-Result-Count") == len(body), \
            f"X-Result-Count differs from the number of items returned\n{describe_exchange(response)}"
        return response, body

    def texts(self, items: list[dict]) -> list[Any]:
        return [item.get(self.text_attribute) for item in items]

    def expect_selection(self, client: TmfClient, params: Any, expected: list[dict], ordered: bool = False) -> None:
        response, body = self.list_items(client, params)
        got, want = self.texts(body), self.texts(expected)
        if not ordered:
            got, want = sorted(got, key=str), sorted(want, key=str)
        assert got == want, (f"{client.url(self.collection, params)} selected {got}, expected {want}\n"
                             f"{describe_exchange(response)}")
        assert header_int(response, "X-Total-Count") == len(expected), \
            f"X-Total-Count must count all matches ({len(expected)})\n{describe_exchange(response)}"

    # ------------------------------------------------------------------ operations

    def test_every_official_operation_is_checked(self, client):
        """Guards the harness: a server-side operation of the official document nobody checks fails here."""
        official = {(op.method, op.path) for op in client.spec.operations if not op.is_listener}
        unchecked = sorted(official - self.covered_operations())
        assert not unchecked, f"official operations without a check: {unchecked}"

    def test_create(self, client, created, run_tag):
        body = self.new_body(client, run_tag, "create")
        response, item = self.create(client, created, body)
        assert item.get("id"), "created entity has no id"
        assert str(item.get("href", "")).endswith(self.item_path(item)), \
            f"href {item.get('href')!r} does not address the entity ({self.item_path(item)})"
        assert_carries({k: v for k, v in body.items() if k not in ("id", "href")}, item,
                       "the created entity does not carry what was sent")
        location = response.headers.get("Location")
        assert location, f"201 without a Location header\n{describe_exchange(response)}"
        at_location = client.expect(client.get(urljoin(str(response.request.url), location)), 200)
        assert at_location["id"] == item["id"], f"Location {location} addresses another entity"

    def test_retrieve(self, client, created, run_tag):
        body = self.new_body(client, run_tag, "retrieve")
        _, item = self.create(client, created, body)
        fetched = client.expect(client.get(self.item_path(item)), 200)
        assert fetched["id"] == item["id"]
        assert_carries({k: v for k, v in body.items() if k not in ("id", "href")}, fetched,
                       "the retrieved entity does not carry what was created")

    def test_list(self, client, created, run_tag):
        tag = self.tag(client, run_tag, "list")
        _, item = self.create(client, created, self.create_body(client.api, client, tag))
        response, body = self.list_items(client, {self.text_attribute: tag})
        assert [i["id"] for i in body] == [item["id"]], \
            f"expected only the created entity\n{describe_exchange(response)}"
        assert header_int(response, "X-Total-Count") == 1
        # Whatever the server holds, the first page validates too and the headers agree.
        response, body = self.list_items(client, {"limit": 10})
        assert len(body) <= 10, f"limit=10 returned {len(body)} items"
        assert header_int(response, "X-Total-Count") >= len(body)

    @pytest.mark.parametrize("media_type", PATCH_MEDIA_TYPES)
    def test_patch(self, client, created, run_tag, media_type):
        op = client.spec.operation("patch", self.collection + "/{id}")
        declared = [m for m in client.spec.request_media_types(op) if media_essence(m) == media_type]
        if not declared:
            pytest.skip(f"{client.spec.source.name} declares no {media_type} for {op}")
        failures = []
        _, item = self.create(client, created, self.new_body(client, run_tag, "patch"))
        for number, label in enumerate(self.patch_bodies(client.api, media_type, item)):
            if number:  # a fresh entity per variant, as the server represents it
                _, item = self.create(client, created, self.new_body(client, run_tag, "patch"))
            patch, expected = self.patch_bodies(client.api, media_type, item)[label]
            try:
                patched = client.expect(client.patch(self.item_path(item), patch, declared[0]), 200)
                assert_carries(expected, patched, "the PATCH answer does not carry the change")
                fetched = client.expect(client.get(self.item_path(item)), 200)
                assert_carries(expected, fetched, "the entity read after the PATCH lacks the change")
            except AssertionError as problem:
                failures.append(f"[{label}] {problem}")
        assert not failures, "\n\n".join(failures)

    def test_delete(self, client, created, run_tag):
        _, item = self.create(client, created, self.new_body(client, run_tag, "delete"))
        assert client.expect(client.delete(self.item_path(item)), 204) in (None, "")
        client.expect(client.get(self.item_path(item)), 404)

    # ------------------------------------------------------------------ errors

    def test_retrieve_unknown_id_is_404(self, client):
        client.expect(client.get(f"{self.collection}/{uuid.uuid4()}"), 404)

    def test_patch_unknown_id_is_404(self, client):
        op = client.spec.operation("patch", self.collection + "/{id}")
        media_type = client.spec.request_media_types(op)[0]
        fake_id = str(uuid.uuid4())
        fake = {**self.create_body(client.api, client, "unknown"), "id": fake_id,
                "href": client.url(f"{self.collection}/{fake_id}")}
        body, _ = next(iter(self.patch_bodies(client.api, media_essence(media_type), fake).values()))
        client.expect(client.patch(f"{self.collection}/{fake['id']}", body, media_type), 404)

    def test_delete_unknown_id_is_404(self, client):
        client.expect(client.delete(f"{self.collection}/{uuid.uuid4()}"), 404)

    def test_create_invalid_body_is_400(self, client, created, run_tag):
        failures = []
        op = client.spec.operation("post", self.collection)
        invalid = self.invalid_create_bodies(client.api, client, self.tag(client, run_tag, "invalid"))
        for label, body in invalid.items():
            assert client.spec.request_errors(op, body), f"harness bug: the {label!r} body is valid"
            response = client.post(self.collection, body, validate_request=False)
            if response.status_code == 201:
                created.add(self.item_path(response.json()))
            try:
                client.expect(response, 400)
            except AssertionError as problem:
                failures.append(f"[{label}] {problem}")
        assert not failures, "\n\n".join(failures)

    def test_create_malformed_json_is_400(self, client):
        response = client.request("post", self.collection, content=b'{"name": ', media_type="application/json")
        client.expect(response, 400)

    def test_patch_invalid_body_is_400(self, client, created, run_tag):
        _, item = self.create(client, created, self.new_body(client, run_tag, "badpatch"))
        failures = []
        for label, (media_type, body) in self.invalid_patch_bodies(client.api, item).items():
            try:
                client.expect(client.patch(self.item_path(item), body, media_type, validate_request=False), 400)
            except AssertionError as problem:
                failures.append(f"[{label}] {problem}")
        assert not failures, "\n\n".join(failures)

    def test_error_status_member_matches_http_status(self, client):
        response = client.get(f"{self.collection}/{uuid.uuid4()}")
        body = client.expect(response, 404)
        if "status" in body:  # optional; when present it is the HTTP status (TMF630 "HTTP Error code extension")
            assert str(body["status"]) == "404", \
                f"Error.status {body['status']!r} for a 404\n{describe_exchange(response)}"

    # ------------------------------------------------------------------ query behaviour

    @pytest.fixture(scope="class")
    @classmethod
    def dataset(cls, client, run_tag):
        """Five entities sharing one group value, created out of order; removed afterwards."""
        self = cls()  # the hooks are instance methods; a class-scoped fixture runs once per class
        group = f"{run_tag}-q{client.api.version}"
        created = Created(client, [])
        try:
            bodies = [self.dataset_body(client.api, client, group, i, DATASET_DATE_RANKS[i]) for i in DATASET_ORDER]
            items = make_dataset(client, self.collection, bodies, created)
            yield group, sorted(items, key=lambda item: item[self.text_attribute])
        finally:
            created.cleanup()

    def test_filter_by_attribute(self, client, dataset):
        _, items = dataset
        self.expect_selection(client, {self.text_attribute: items[2][self.text_attribute]}, [items[2]])

    def test_filter_on_group_selects_all(self, client, dataset):
        group, items = dataset
        self.expect_selection(client, {self.group_attribute: group}, items)

    def test_filter_nested_attribute(self, client, dataset):
        if not self.nested_attribute:
            pytest.skip("no nested attribute declared for this entity")
        _, items = dataset
        counts: dict[Any, int] = {}
        for item in items:
            for value in set(map(str, values_at(item, self.nested_attribute))):
                counts[value] = counts.get(value, 0) + 1
        # A value some items have (in any array element) and others do not.
        value = next(v for v, n in sorted(counts.items()) if 1 < n < len(items))
        expected = [i for i in items if value in map(str, values_at(i, self.nested_attribute))]
        self.expect_selection(client, {self.nested_attribute: value}, expected)

    def test_filter_or_with_commas(self, client, dataset):
        _, items = dataset
        wanted = [items[0], items[3]]
        self.expect_selection(client, {self.text_attribute: ",".join(self.texts(wanted))}, wanted)

    def test_filter_or_with_semicolons(self, client, dataset):
        _, items = dataset
        wanted = [items[1], items[4]]
        self.expect_selection(client, {self.text_attribute: ";".join(self.texts(wanted))}, wanted)

    def test_filter_or_with_repeated_attribute(self, client, dataset):
        _, items = dataset
        wanted = [items[1], items[2]]
        self.expect_selection(client, [(self.text_attribute, t) for t in self.texts(wanted)], wanted)

    def test_filter_different_attributes_are_anded(self, client, dataset):
        group, items = dataset
        self.expect_selection(client, {self.group_attribute: group, self.text_attribute: items[3][self.text_attribute]},
                              [items[3]])
        self.expect_selection(client, {self.group_attribute: group + "-other",
                                       self.text_attribute: items[3][self.text_attribute]}, [])

    def _dated(self, items: list[dict]) -> list[tuple[datetime, dict]]:
        if not self.date_attribute:
            pytest.skip("no date attribute declared for this entity")
        return sorted(((parse_instant(item[self.date_attribute]), item) for item in items), key=lambda p: p[0])

    def test_filter_date_gt_and_lt(self, client, dataset):
        group, items = dataset
        dated = self._dated(items)
        middle = dated[2][0]
        attr = self.date_attribute
        after = [item for when, item in dated if when > middle]
        before = [item for when, item in dated if when < middle]
        self.expect_selection(client, {self.group_attribute: group, f"{attr}.gt": _iso(middle)}, after)
        self.expect_selection(client, {self.group_attribute: group, f"{attr}.lt": _iso(middle)}, before)
        # Both bounds together (AND), strictly between the first and the last.
        self.expect_selection(client, {self.group_attribute: group, f"{attr}.gt": _iso(dated[0][0]),
                                       f"{attr}.lt": _iso(dated[-1][0])}, [item for _, item in dated[1:-1]])

    def test_filter_date_gte_and_lte_include_the_bound(self, client, dataset):
        group, items = dataset
        dated = self._dated(items)
        middle = dated[2][0]
        attr = self.date_attribute
        self.expect_selection(client, {self.group_attribute: group, f"{attr}.gte": _iso(middle)},
                              [item for when, item in dated if when >= middle])
        self.expect_selection(client, {self.group_attribute: group, f"{attr}.lte": _iso(middle)},
                              [item for when, item in dated if when <= middle])

    def test_filter_date_compares_instants(self, client, dataset):
        group, items = dataset
        dated = self._dated(items)
        middle = dated[2][0]
        # The same instant written with a +02:00 offset: a string comparison would get this wrong.
        shifted = middle.astimezone(timezone(timedelta(hours=2))).isoformat()
        self.expect_selection(client, {self.group_attribute: group, f"{self.date_attribute}.gte": shifted},
                              [item for when, item in dated if when >= middle])

    def test_fields_on_list(self, client, dataset):
        group, items = dataset
        response, body = self.list_items(client, {self.group_attribute: group, "fields": self.text_attribute})
        allowed = set(client.api.always_present) | {self.text_attribute}
        assert len(body) == len(items), f"fields= changed the selection\n{describe_exchange(response)}"
        for entity in body:
            assert set(entity) == allowed, (f"fields={self.text_attribute} must return exactly {sorted(allowed)}, "
                                            f"got {sorted(entity)}\n{describe_exchange(response)}")

    def test_fields_on_retrieve(self, client, dataset):
        _, items = dataset
        response = client.get(self.item_path(items[0]), params={"fields": self.text_attribute})
        entity = client.expect(response, 200)
        allowed = set(client.api.always_present) | {self.text_attribute}
        assert set(entity) == allowed, (f"fields={self.text_attribute} must return exactly {sorted(allowed)}, "
                                        f"got {sorted(entity)}\n{describe_exchange(response)}")

    def test_paging(self, client, dataset):
        group, items = dataset
        response, body = self.list_items(client, {self.group_attribute: group, "sort": self.text_attribute,
                                                  "offset": 1, "limit": 2})
        assert self.texts(body) == self.texts(items[1:3]), \
            f"offset=1&limit=2 over {self.texts(items)} gave {self.texts(body)}\n{describe_exchange(response)}"
        assert header_int(response, "X-Total-Count") == len(items), \
            f"X-Total-Count must count all matches ({len(items)}), not the page\n{describe_exchange(response)}"
        assert header_int(response, "X-Result-Count") == 2
        response, body = self.list_items(client, {self.group_attribute: group, "offset": len(items), "limit": 2})
        assert body == [], f"a page past the end must be empty\n{describe_exchange(response)}"
        assert header_int(response, "X-Total-Count") == len(items)

    def test_sort_ascending(self, client, dataset):
        group, items = dataset
        self.expect_selection(client, {self.group_attribute: group, "sort": self.text_attribute}, items, ordered=True)

    def test_sort_descending(self, client, dataset):
        group, items = dataset
        self.expect_selection(client, {self.group_attribute: group, "sort": "-" + self.text_attribute},
                              items[::-1], ordered=True)

    def test_sort_by_date_descending(self, client, dataset):
        group, items = dataset
        dated = self._dated(items)
        self.expect_selection(client, {self.group_attribute: group, "sort": "-" + self.date_attribute},
                              [item for _, item in reversed(dated)], ordered=True)

    # ------------------------------------------------------------------ notifications (hub)

    def _require_hub(self, client):
        if not self.hub:
            pytest.skip("this entity's API has no hub")

    def test_hub_register_and_unregister(self, client):
        self._require_hub(client)
        callback = f"http://127.0.0.1:9/tmf-conformance/{uuid.uuid4()}"  # discard port: nothing is delivered
        subscription = client.expect(client.post(self.hub, self.hub_body(client.api, callback)), 201)
        try:
            assert subscription.get("callback") == callback, "the subscription does not carry its callback"
            assert subscription.get("id"), "the subscription has no id"
        finally:
            deleted = client.delete(f"{self.hub}/{subscription.get('id')}")
        client.expect(deleted, 204)
        client.expect(client.delete(f"{self.hub}/{subscription['id']}"), 404)

    def test_hub_retrieve(self, client):
        self._require_hub(client)
        if client.spec.match("get", f"{self.hub}/x") is None:
            pytest.skip(f"{client.spec.source.name} has no GET {self.hub}/{{id}}")
        callback = f"http://127.0.0.1:9/tmf-conformance/{uuid.uuid4()}"
        subscription = client.expect(client.post(self.hub, self.hub_body(client.api, callback)), 201)
        try:
            fetched = client.expect(client.get(f"{self.hub}/{subscription['id']}"), 200)
            assert fetched.get("id") == subscription["id"] and fetched.get("callback") == callback
        finally:
            client.delete(f"{self.hub}/{subscription['id']}")
        client.expect(client.get(f"{self.hub}/{subscription['id']}"), 404)

    def test_hub_invalid_body_is_400(self, client):
        self._require_hub(client)
        body = {"@type": "Hub", "query": "eventType=NoSuchEvent"} if client.api.major >= 5 else {"query": "x"}
        client.expect(client.post(self.hub, body, validate_request=False), 400)

    def test_hub_unknown_id_is_404(self, client):
        self._require_hub(client)
        client.expect(client.delete(f"{self.hub}/{uuid.uuid4()}"), 404)
        if client.spec.match("get", f"{self.hub}/x") is not None:
            client.expect(client.get(f"{self.hub}/{uuid.uuid4()}"), 404)

    def test_events_match_the_official_listener_schemas(self, client, created, run_tag):
        """What the server POSTs to a subscriber is the request of the official listener operation for
        that event type (ResourceCreateEvent -> POST /listener/resourceCreateEvent)."""
        self._require_hub(client)
        if not is_loopback(client.base_url):
            pytest.skip("the server under test must reach a callback on this machine (loopback only)")
        with EventListener() as listener:
            hub = {k: v for k, v in self.hub_body(client.api, listener.url).items() if k != "query"}  # all events
            subscription = client.expect(client.post(self.hub, hub), 201)
            try:
                item = self._create_patch_delete(client, created, run_tag)

                def about_item(received):  # a busy server may send events about other entities too
                    return [r for r in received if item["id"] in json.dumps(r[2])]

                listener.wait_for(lambda received: "DeleteEvent" in _event_types(about_item(received)), timeout=20)
                events = about_item(listener.received)
            finally:
                client.delete(f"{self.hub}/{subscription['id']}")
        types = _event_types(events)
        assert "CreateEvent" in types and "DeleteEvent" in types, \
            f"expected at least a create and a delete event about {item['id']} within 20s, got {types}"
        problems = listener_event_problems(client, events)
        assert not problems, "\n".join(problems)

    def _create_patch_delete(self, client, created, run_tag) -> dict:
        _, item = self.create(client, created, self.new_body(client, run_tag, "events"))
        media_type = client.spec.request_media_types(client.spec.operation("patch", self.collection + "/{id}"))[0]
        patch, _ = next(iter(self.patch_bodies(client.api, media_essence(media_type), item).values()))
        client.expect(client.patch(self.item_path(item), patch, media_type), 200)
        client.expect(client.delete(self.item_path(item)), 204)
        return item


def listener_event_problems(client: "TmfClient", events: list[tuple[str, str, Any]]) -> list[str]:
    """Each (path, Content-Type, body) a hub posted, checked against the official listener operation for its
    eventType: the operation exists, the media type is declared, the body validates."""
    problems = []
    for path, content_type, event in events:
        event_type = event.get("eventType") if isinstance(event, dict) else None
        where = f"{event_type or 'event'} posted to {path}"
        listener_op = client.spec.match("post", f"/listener/{str(event_type)[:1].lower()}{str(event_type)[1:]}")
        if listener_op is None:
            problems.append(f"{where}: the official document has no listener for event type {event_type!r}")
            continue
        declared = client.spec.request_media_types(listener_op)
        if media_essence(content_type) not in {media_essence(m) for m in declared}:
            problems.append(f"{where}: Content-Type {content_type!r} is none of the declared {declared}")
        errors = client.spec.request_errors(listener_op, event)
        if errors:
            pointer = client.spec.request_schema_pointer(listener_op)
            problems.append(f"{where} does not validate against {client.spec.schema_location(pointer)}:\n    "
                            + "\n    ".join(errors) + f"\n  event: {_shorten(json.dumps(event), 1500)}")
    return problems


def _event_types(received: list[tuple[str, str, Any]]) -> str:
    """The received event types, space separated (for `in` checks and messages)."""
    return " ".join(str(body.get("eventType")) for _, _, body in received if isinstance(body, dict))


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

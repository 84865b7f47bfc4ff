"""Compare an official TM Forum API document with one of our OpenAPI 3 documents.

The official side may be Swagger 2.0 or OpenAPI 3.x; our side is OpenAPI 3.x.
Both are reduced to the same plain model (operations, parameters, request
bodies, responses, schemas with their ``allOf`` chains flattened) and the two
models are compared fact by fact.  The result is a list of readable strings.

Things that are deliberately *not* compared: descriptions, summaries,
examples, tags, servers / basePath, and how a document is organised
(``components/parameters``, ``components/responses``, path-level parameters,
``allOf`` versus a flat property list ...).  Only what a client on the wire
can observe counts.

Our documents may add things the official one lacks, but only when the added
item carries ``x-tmf-oss-extension: true`` (on an operation, parameter,
request-body media type, response, schema or property).  Such additions are
reported as *extensions*, not as differences.  A schema that uses ``anyOf``
where the official one says ``oneOf`` is accepted when it carries an
``x-tmf-oss-note`` explaining why; it is reported as a *note*. So is a property
whose ``type`` differs from the official one and carries the same mark (for a
type the official document contradicts itself on, with a comment saying why).

Media types are compared without their ``charset`` parameter, so
``application/json;charset=utf-8`` equals ``application/json``.

Where we serve only part of an official API, the official paths we leave out
on purpose are passed as ``not_served``.  They are taken out of the official
side together with the schemas that only they use (nothing else in the
official document reaches them), and reported as *omitted*; everything that
remains is compared as usual.  A ``not_served`` path the official document
does not have, or that we do serve, is a difference.

Usage::

    from spec_compare import compare_specs, compare_specs_detailed
    differences = compare_specs(official_path, our_path)
    result = compare_specs_detailed(official_path, our_path)
    result.differences, result.extensions, result.notes
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

__all__ = [
    "EXTENSION_MARK",
    "NOTE_MARK",
    "ComparisonResult",
    "NormalizedApi",
    "compare_documents",
    "compare_specs",
    "compare_specs_detailed",
    "load_document",
    "normalize",
    "normalize_media_type",
    "request_body_examples",
    "request_body_schema",
    "summarize",
    "validation_root",
]

EXTENSION_MARK = "x-tmf-oss-extension"
RELAXED_MARK = "x-tmf-oss-relaxed-required"
NOTE_MARK = "x-tmf-oss-note"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Schema keywords copied as-is into a signature.
_PLAIN_KEYWORDS = (
    "format",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "nullable",
    "readOnly",
    "writeOnly",
    "deprecated",
)

# Keywords that make an ``allOf: [{$ref: X}]`` wrapper more than a plain reference.
_SIGNIFICANT_KEYWORDS = frozenset(
    ("type", "properties", "required", "items", "enum", "oneOf", "anyOf", "not",
     "additionalProperties", "discriminator") + _PLAIN_KEYWORDS
)


# --------------------------------------------------------------------------- loading


def load_document(path: str | Path) -> dict:
    """Read a JSON or YAML API document."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        return json.loads(text)
    return yaml.safe_load(text)


def normalize_media_type(media_type: str) -> str:
    """Lower-case a media type and drop its ``charset`` parameter."""
    parts = [p.strip() for p in str(media_type).split(";")]
    base = parts[0].lower()
    params = sorted(
        p.lower().replace(" ", "")
        for p in parts[1:]
        if p and not p.lower().replace(" ", "").startswith("charset=")
    )
    return ";".join([base, *params])


def _is_marked(node: Any) -> bool:
    return isinstance(node, dict) and node.get(EXTENSION_MARK) is True


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


# --------------------------------------------------------------------------- model


@dataclass
class NormalizedApi:
    """Comparable facts of one API document."""

    operations: dict[tuple[str, str], dict] = field(default_factory=dict)
    schemas: dict[str, dict] = field(default_factory=dict)


@dataclass
class ComparisonResult:
    differences: list[str] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    omitted: list[str] = field(default_factory=list)  # official paths and schemas deliberately not served

    @property
    def ok(self) -> bool:
        return not self.differences


class _Document:
    """Reference resolution and schema description for one document."""

    def __init__(self, doc: dict):
        self.doc = doc
        self.is_swagger = str(doc.get("swagger", "")).startswith("2")
        if self.is_swagger:
            self.schema_prefix = "#/definitions/"
            self.schemas = doc.get("definitions") or {}
        else:
            self.schema_prefix = "#/components/schemas/"
            self.schemas = (doc.get("components") or {}).get("schemas") or {}

    # -- references

    def pointer(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise ValueError(f"only local references are supported, got {ref!r}")
        node: Any = self.doc
        for token in ref[1:].split("/")[1:] if ref != "#" else []:
            token = _unescape(token)
            node = node[int(token)] if isinstance(node, list) else node[token]
        return node

    def schema_name(self, ref: str) -> str | None:
        if ref.startswith(self.schema_prefix):
            rest = ref[len(self.schema_prefix):]
            if "/" not in rest:
                return _unescape(rest)
        return None

    def deref(self, node: Any) -> Any:
        """Follow ``$ref`` chains (parameters, responses, request bodies, headers)."""
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen:
                raise ValueError(f"reference cycle at {ref}")
            seen.add(ref)
            node = self.pointer(ref)
        return node

    # -- schemas

    def describe(self, schema: Any) -> dict:
        """Signature of a schema used in a property, parameter or body."""
        if schema is None:
            return {}
        if not isinstance(schema, dict):
            return {"invalid-schema": repr(schema)}
        if "$ref" in schema:
            name = self.schema_name(schema["$ref"])
            if name is not None:
                return {"$ref": name}
            return self.describe(self.pointer(schema["$ref"]))
        all_of = schema.get("allOf")
        if (
            isinstance(all_of, list)
            and len(all_of) == 1
            and isinstance(all_of[0], dict)
            and "$ref" in all_of[0]
            and not (_SIGNIFICANT_KEYWORDS & set(schema))
        ):
            # ``allOf: [{$ref: X}]`` used only to attach a description.
            return self.describe(all_of[0])
        return self.signature(schema)

    def signature(self, schema: dict, _seen: frozenset = frozenset()) -> dict:
        """Signature of a schema with its ``allOf`` chain flattened."""
        flat = self._flatten(schema, _seen)
        sig: dict[str, Any] = {}
        stype = flat.get("type")
        if stype is None and (flat["properties"] or flat["required"]):
            stype = "object"
        if stype is not None:
            sig["type"] = stype
        for key in _PLAIN_KEYWORDS:
            if key in flat:
                sig[key] = flat[key]
        if "enum" in flat:
            sig["enum"] = sorted(flat["enum"], key=lambda v: json.dumps(v, sort_keys=True))
        if "items" in flat:
            sig["items"] = self.describe(flat["items"])
        if flat["properties"]:
            sig["properties"] = flat["properties"]
        if flat["required"]:
            sig["required"] = sorted(flat["required"])
        if flat.get(RELAXED_MARK):
            sig[RELAXED_MARK] = sorted(flat[RELAXED_MARK])
        if "additionalProperties" in flat:
            extra = flat["additionalProperties"]
            sig["additionalProperties"] = (
                self.describe(extra) if isinstance(extra, dict) else bool(extra)
            )
        for kind in ("oneOf", "anyOf"):
            if kind in flat:
                members = [self.describe(m) for m in flat[kind]]
                sig["union"] = {
                    "kind": kind,
                    "members": sorted(members, key=lambda m: json.dumps(m, sort_keys=True)),
                }
        if "not" in flat:
            sig["not"] = self.describe(flat["not"])
        disc = schema.get("discriminator")  # never inherited through allOf
        if isinstance(disc, dict):
            mapping = {}
            for key, target in (disc.get("mapping") or {}).items():
                mapping[key] = self.schema_name(target) or target
            sig["discriminator"] = {"propertyName": disc.get("propertyName"), "mapping": mapping}
        if NOTE_MARK in schema:
            sig[NOTE_MARK] = True
        if _is_marked(schema):
            sig[EXTENSION_MARK] = True
        return sig

    def _flatten(self, schema: dict, seen: frozenset) -> dict:
        flat: dict[str, Any] = {"properties": {}, "required": set()}
        for member in schema.get("allOf") or []:
            key = member.get("$ref") if isinstance(member, dict) else None
            if key is not None and key in seen:
                continue
            target = self.deref(member)
            if not isinstance(target, dict):
                continue
            sub = self._flatten(target, seen | ({key} if key else set()))
            self._merge(flat, sub)
        own: dict[str, Any] = {
            k: v for k, v in schema.items() if k not in ("allOf", "properties", "required")
        }
        own["properties"] = {
            name: self.describe(prop) for name, prop in (schema.get("properties") or {}).items()
        }
        own["required"] = set(schema.get("required") or [])
        own.pop(RELAXED_MARK, None)
        self._merge(flat, own)
        # Members the official document requires but that cannot be required of a client (server-assigned
        # id/href on create): we list them under RELAXED_MARK and the comparison counts them back in.
        flat.setdefault(RELAXED_MARK, set())
        flat[RELAXED_MARK] |= set(schema.get(RELAXED_MARK) or [])
        return flat

    @staticmethod
    def _merge(into: dict, other: dict) -> None:
        for name, prop in other["properties"].items():
            before = into["properties"].get(name)
            if before is None or "$ref" in before or "$ref" in prop:
                into["properties"][name] = prop
            else:
                into["properties"][name] = {**before, **prop}
        into["required"] |= other["required"]
        for key, value in other.items():
            if key in ("properties", "required", "discriminator"):
                continue
            if key == RELAXED_MARK:
                into[key] = into.get(key, set()) | value
                continue
            into[key] = value


def _param_schema_swagger(param: dict) -> dict:
    keys = ("type", "format", "items", "enum", "default") + _PLAIN_KEYWORDS
    return {k: param[k] for k in keys if k in param}


def normalize(doc: dict) -> NormalizedApi:
    """Reduce a Swagger 2.0 or OpenAPI 3.x document to comparable facts."""
    d = _Document(doc)
    api = NormalizedApi()

    for name, schema in d.schemas.items():
        sig = d.signature(schema if isinstance(schema, dict) else {}, frozenset([d.schema_prefix + name]))
        api.schemas[name] = sig

    global_consumes = doc.get("consumes") or ["application/json"]
    global_produces = doc.get("produces") or ["application/json"]

    for path, item in (doc.get("paths") or {}).items():
        item = d.deref(item)
        path_params = item.get("parameters") or []
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            entry: dict[str, Any] = {
                "operationId": op.get("operationId"),
                EXTENSION_MARK: _is_marked(op),
                "parameters": {},
                "requestBody": None,
                "responses": {},
            }
            merged: dict[tuple[str, str], dict] = {}
            for raw in list(path_params) + list(op.get("parameters") or []):
                param = d.deref(raw)
                merged[(param.get("in"), param.get("name"))] = param
            consumes = op.get("consumes") or global_consumes
            produces = op.get("produces") or global_produces
            form_params = []
            for (where, pname), param in merged.items():
                if d.is_swagger and where == "body":
                    entry["requestBody"] = {
                        "required": bool(param.get("required", False)),
                        "content": {
                            normalize_media_type(mt): {
                                "schema": d.describe(param.get("schema")),
                                EXTENSION_MARK: False,
                            }
                            for mt in consumes
                        },
                    }
                    continue
                if d.is_swagger and where == "formData":
                    form_params.append(param)
                    continue
                schema = param.get("schema") if not d.is_swagger else _param_schema_swagger(param)
                entry["parameters"][(where, pname)] = {
                    "required": bool(param.get("required", False)),
                    "schema": d.describe(schema),
                    EXTENSION_MARK: _is_marked(param),
                }
            if form_params:
                props = {p["name"]: _param_schema_swagger(p) for p in form_params}
                required = [p["name"] for p in form_params if p.get("required")]
                form_schema = d.describe({"type": "object", "properties": props, "required": required})
                entry["requestBody"] = {
                    "required": bool(required),
                    "content": {
                        normalize_media_type(mt): {"schema": form_schema, EXTENSION_MARK: False}
                        for mt in consumes
                    },
                }
            if not d.is_swagger and op.get("requestBody") is not None:
                body = d.deref(op["requestBody"])
                entry["requestBody"] = {
                    "required": bool(body.get("required", False)),
                    "content": {
                        normalize_media_type(mt): {
                            "schema": d.describe((media or {}).get("schema")),
                            EXTENSION_MARK: _is_marked(media),
                        }
                        for mt, media in (body.get("content") or {}).items()
                    },
                }
            for status, raw in (op.get("responses") or {}).items():
                if str(status).startswith("x-"):
                    continue
                resp = d.deref(raw) or {}
                headers = {
                    hname: d.describe(
                        d.deref(h).get("schema") if not d.is_swagger else _param_schema_swagger(d.deref(h))
                    )
                    for hname, h in (resp.get("headers") or {}).items()
                }
                if d.is_swagger:
                    content = (
                        {normalize_media_type(mt): d.describe(resp["schema"]) for mt in produces}
                        if resp.get("schema") is not None
                        else {}
                    )
                else:
                    content = {
                        normalize_media_type(mt): d.describe((media or {}).get("schema"))
                        for mt, media in (resp.get("content") or {}).items()
                    }
                entry["responses"][str(status)] = {
                    "content": content,
                    "headers": headers,
                    EXTENSION_MARK: _is_marked(resp),
                }
            api.operations[(method.upper(), path)] = entry
    return api


# --------------------------------------------------------------------------- comparison


def _fmt(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


class _Comparer:
    def __init__(self) -> None:
        self.result = ComparisonResult()

    def diff(self, where: str, text: str) -> None:
        self.result.differences.append(f"{where}: {text}")

    def ext(self, where: str, text: str) -> None:
        self.result.extensions.append(f"{where}: {text}")

    def note(self, where: str, text: str) -> None:
        self.result.notes.append(f"{where}: {text}")

    # -- schema signatures

    def signatures(self, where: str, off: dict, ours: dict) -> None:
        if off.get(EXTENSION_MARK) is not True and ours.get(EXTENSION_MARK) is True:
            self.diff(where, f"marked {EXTENSION_MARK} although the official document defines it")
        relaxed = ours.get(RELAXED_MARK)
        if relaxed:
            ours = {**ours, "required": sorted(set(ours.get("required") or []) | set(relaxed))}
            self.ext(where, f"does not require {', '.join(relaxed)} (server-assigned)")
        keys = [k for k in dict.fromkeys([*off, *ours]) if k not in (EXTENSION_MARK, NOTE_MARK, RELAXED_MARK)]
        for key in keys:
            a, b = off.get(key), ours.get(key)
            if key == "properties":
                self.properties(where, a or {}, b or {})
            elif key == "union":
                self.union(where, a, b, noted=ours.get(NOTE_MARK) is True)
            elif key in ("items", "additionalProperties", "not") and isinstance(a, dict) and isinstance(b, dict):
                self.signatures(f"{where} {key}", a, b)
            elif key == "$ref" and a is not None and b is not None and a != b:
                self.diff(where, f"refers to {a!r} in the official document, to {b!r} in ours")
            elif key == "type" and a != b and a is not None and ours.get(NOTE_MARK) is True:
                self.note(where, f"type {_fmt(b)} instead of the official {_fmt(a)} ({NOTE_MARK})")
            elif a != b:
                if a is None:
                    self.diff(where, f"{key} {_fmt(b)} only in ours")
                elif b is None:
                    self.diff(where, f"{key} {_fmt(a)} missing in ours")
                else:
                    self.diff(where, f"{key} differs: official {_fmt(a)}, ours {_fmt(b)}")

    def properties(self, where: str, off: dict, ours: dict) -> None:
        for name in off:
            if name not in ours:
                self.diff(where, f"property {name!r} missing in ours")
            else:
                self.signatures(f"{where}.{name}", off[name], ours[name])
        for name in ours:
            if name in off:
                continue
            if ours[name].get(EXTENSION_MARK) is True:
                self.ext(where, f"extra property {name!r}")
            else:
                self.diff(where, f"property {name!r} only in ours")

    def union(self, where: str, off: dict | None, ours: dict | None, noted: bool) -> None:
        if off is None or ours is None:
            if off != ours:
                self.diff(where, f"oneOf/anyOf: official {_fmt(off)}, ours {_fmt(ours)}")
            return
        if off["members"] != ours["members"]:
            self.diff(
                where,
                f"{off['kind']} members differ: official {_fmt(off['members'])}, ours {_fmt(ours['members'])}",
            )
        if off["kind"] != ours["kind"]:
            if off["kind"] == "oneOf" and ours["kind"] == "anyOf" and noted:
                self.note(where, f"anyOf instead of the official oneOf ({NOTE_MARK})")
            else:
                self.diff(where, f"official uses {off['kind']}, ours {ours['kind']}")

    # -- documents

    def schemas(self, off: dict, ours: dict) -> None:
        for name, sig in off.items():
            if name not in ours:
                self.diff(f"schema {name}", "missing in ours")
            else:
                self.signatures(f"schema {name}", sig, ours[name])
        for name, sig in ours.items():
            if name in off:
                continue
            if sig.get(EXTENSION_MARK) is True:
                self.ext(f"schema {name}", "extra schema")
            else:
                self.diff(f"schema {name}", "only in ours")

    def operations(self, off: dict, ours: dict) -> None:
        off_paths = {p for _, p in off}
        our_paths = {p for _, p in ours}
        for path in sorted(off_paths - our_paths):
            self.diff(f"path {path}", "missing in ours")
        for path in sorted(our_paths - off_paths):
            ops = [o for (m, p), o in ours.items() if p == path]
            if not all(o[EXTENSION_MARK] for o in ops):
                self.diff(f"path {path}", "only in ours")
        for key in sorted(off, key=lambda k: (k[1], k[0])):
            where = f"{key[0]} {key[1]}"
            if key not in ours:
                self.diff(where, "operation missing in ours")
                continue
            self.operation(where, off[key], ours[key])
        for key in sorted(set(ours) - set(off), key=lambda k: (k[1], k[0])):
            where = f"{key[0]} {key[1]}"
            if ours[key][EXTENSION_MARK]:
                self.ext(where, f"extra operation {ours[key]['operationId']!r}")
            else:
                self.diff(where, f"operation {ours[key]['operationId']!r} only in ours")

    def operation(self, where: str, off: dict, ours: dict) -> None:
        if ours[EXTENSION_MARK]:
            self.diff(where, f"marked {EXTENSION_MARK} although the official document defines it")
        if off["operationId"] != ours["operationId"]:
            self.diff(where, f"operationId official {off['operationId']!r}, ours {ours['operationId']!r}")
        # parameters
        for pkey, p in off["parameters"].items():
            pwhere = f"{where} parameter {pkey[1]!r} in {pkey[0]}"
            q = ours["parameters"].get(pkey)
            if q is None:
                self.diff(pwhere, "missing in ours")
                continue
            if q[EXTENSION_MARK]:
                self.diff(pwhere, f"marked {EXTENSION_MARK} although the official document defines it")
            if p["required"] != q["required"]:
                self.diff(pwhere, f"required official {p['required']}, ours {q['required']}")
            self.signatures(pwhere, p["schema"], q["schema"])
        for pkey, q in ours["parameters"].items():
            if pkey in off["parameters"]:
                continue
            pwhere = f"{where} parameter {pkey[1]!r} in {pkey[0]}"
            if q[EXTENSION_MARK]:
                self.ext(pwhere, f"extra parameter ({_fmt(q['schema'])})")
            else:
                self.diff(pwhere, "only in ours")
        # request body
        self.request_body(f"{where} request body", off["requestBody"], ours["requestBody"])
        # responses
        for status, r in off["responses"].items():
            rwhere = f"{where} response {status}"
            s = ours["responses"].get(status)
            if s is None:
                self.diff(rwhere, "missing in ours")
                continue
            if s[EXTENSION_MARK]:
                self.diff(rwhere, f"marked {EXTENSION_MARK} although the official document defines it")
            self.content(rwhere, r["content"], s["content"])
            for hname in r["headers"]:
                if hname not in s["headers"]:
                    self.diff(rwhere, f"header {hname!r} missing in ours")
                else:
                    self.signatures(f"{rwhere} header {hname!r}", r["headers"][hname], s["headers"][hname])
            for hname in s["headers"]:
                if hname not in r["headers"]:
                    self.diff(rwhere, f"header {hname!r} only in ours")
        for status, s in ours["responses"].items():
            if status in off["responses"]:
                continue
            if s[EXTENSION_MARK]:
                self.ext(f"{where} response {status}", "extra response")
            else:
                self.diff(f"{where} response {status}", "only in ours")

    def content(self, where: str, off: dict, ours: dict) -> None:
        for mt, sig in off.items():
            if mt not in ours:
                self.diff(where, f"media type {mt!r} missing in ours")
            else:
                self.signatures(f"{where} {mt}", sig, ours[mt])
        for mt in ours:
            if mt not in off:
                self.diff(where, f"media type {mt!r} only in ours")

    def request_body(self, where: str, off: dict | None, ours: dict | None) -> None:
        if off is None and ours is None:
            return
        if off is None:
            self.diff(where, "only in ours")
            return
        if ours is None:
            self.diff(where, "missing in ours")
            return
        if off["required"] != ours["required"]:
            self.diff(where, f"required official {off['required']}, ours {ours['required']}")
        for mt, media in off["content"].items():
            mine = ours["content"].get(mt)
            if mine is None:
                self.diff(where, f"media type {mt!r} missing in ours")
                continue
            if mine[EXTENSION_MARK]:
                self.diff(f"{where} {mt}", f"marked {EXTENSION_MARK} although the official document defines it")
            self.signatures(f"{where} {mt}", media["schema"], mine["schema"])
        for mt, mine in ours["content"].items():
            if mt in off["content"]:
                continue
            if mine[EXTENSION_MARK]:
                self.ext(where, f"extra media type {mt!r} ({_fmt(mine['schema'])})")
            else:
                self.diff(where, f"media type {mt!r} only in ours")


def _schema_refs(node: Any, prefix: str, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(prefix):
                found.add(_unescape(value[len(prefix):].split("/", 1)[0]))
            else:
                _schema_refs(value, prefix, found)
    elif isinstance(node, list):
        for value in node:
            _schema_refs(value, prefix, found)


def without_paths(official: dict, not_served: Iterable[str]) -> tuple[dict, list[str]]:
    """The official document without the given paths and the schemas only they reach; and what was left out."""
    not_served = set(not_served)
    d = _Document(official)
    paths = {p: item for p, item in (official.get("paths") or {}).items() if p not in not_served}
    kept: set[str] = set()
    # Everything except schemas (paths, shared parameters and responses) may refer to schemas.
    _schema_refs({k: v for k, v in official.items() if k not in ("paths", "definitions", "components")},
                 d.schema_prefix, kept)
    _schema_refs(paths, d.schema_prefix, kept)
    if not d.is_swagger:
        _schema_refs({k: v for k, v in (official.get("components") or {}).items() if k != "schemas"},
                     d.schema_prefix, kept)
    todo = list(kept)
    while todo:
        found: set[str] = set()
        _schema_refs(d.schemas.get(todo.pop()), d.schema_prefix, found)
        todo.extend(found - kept)
        kept |= found
    schemas = {name: schema for name, schema in d.schemas.items() if name in kept}
    reduced = dict(official, paths=paths)
    if d.is_swagger:
        reduced["definitions"] = schemas
    else:
        reduced["components"] = dict(official.get("components") or {}, schemas=schemas)
    omitted = [f"path {p}" for p in sorted(not_served)]
    omitted += [f"schema {name} (reached by no path we serve)" for name in sorted(set(d.schemas) - kept)]
    return reduced, omitted


def compare_documents(official: dict, ours: dict, not_served: Iterable[str] = ()) -> ComparisonResult:
    """Compare two loaded documents; ``official`` may be Swagger 2.0 or OAS 3. ``not_served``: official
    paths deliberately left out of ours (see the module description)."""
    not_served = sorted(set(not_served))
    comparer = _Comparer()
    omitted: list[str] = []
    if not_served:
        for path in not_served:
            if path not in (official.get("paths") or {}):
                comparer.diff(f"path {path}", "listed as not served, but the official document has no such path")
            if path in (ours.get("paths") or {}):
                comparer.diff(f"path {path}", "listed as not served, but ours serves it")
        official, omitted = without_paths(official, not_served)
    off_api, our_api = normalize(official), normalize(ours)
    comparer.operations(off_api.operations, our_api.operations)
    comparer.schemas(off_api.schemas, our_api.schemas)
    comparer.result.omitted = omitted
    return comparer.result


def compare_specs_detailed(official_path: str | Path, our_path: str | Path,
                           not_served: Iterable[str] = ()) -> ComparisonResult:
    """Compare two files; returns differences, allowed extensions, notes and what was left out on purpose."""
    return compare_documents(load_document(official_path), load_document(our_path), not_served)


def compare_specs(official_path: str | Path, our_path: str | Path, not_served: Iterable[str] = ()) -> list[str]:
    """Compare two files; returns the list of differences (empty when they agree)."""
    return compare_specs_detailed(official_path, our_path, not_served).differences


def _operation(doc: dict, method: str, path: str) -> tuple[_Document, dict, dict]:
    d = _Document(doc)
    item = d.deref((doc.get("paths") or {}).get(path))
    if not isinstance(item, dict) or not isinstance(item.get(method.lower()), dict):
        raise KeyError(f"{method.upper()} {path} is not in the document")
    return d, item, item[method.lower()]


def request_body_schema(doc: dict, method: str, path: str, media_type: str = "application/json") -> Any:
    """The request-body schema of an operation for one media type (charset ignored).

    Works for Swagger 2.0 (``in: body`` parameter + ``consumes``) and OAS 3.
    Returns ``None`` when the operation takes no body of that media type.
    """
    d, item, op = _operation(doc, method, path)
    wanted = normalize_media_type(media_type)
    if d.is_swagger:
        consumes = op.get("consumes") or doc.get("consumes") or ["application/json"]
        if wanted not in {normalize_media_type(mt) for mt in consumes}:
            return None
        for raw in list(item.get("parameters") or []) + list(op.get("parameters") or []):
            param = d.deref(raw)
            if param.get("in") == "body":
                return param.get("schema")
        return None
    body = d.deref(op.get("requestBody"))
    for mt, media in ((body or {}).get("content") or {}).items():
        if normalize_media_type(mt) == wanted:
            return (media or {}).get("schema")
    return None


def request_body_examples(doc: dict, method: str, path: str, media_type: str = "application/json") -> dict[str, Any]:
    """Example request bodies embedded in an OAS 3 document, by example name."""
    d, _, op = _operation(doc, method, path)
    if d.is_swagger:
        return {}
    body = d.deref(op.get("requestBody"))
    wanted = normalize_media_type(media_type)
    found: dict[str, Any] = {}
    for mt, media in ((body or {}).get("content") or {}).items():
        if normalize_media_type(mt) != wanted or not isinstance(media, dict):
            continue
        if "example" in media:
            found["example"] = media["example"]
        for name, example in (media.get("examples") or {}).items():
            example = d.deref(example)
            if isinstance(example, dict) and "value" in example:
                found[name] = example["value"]
    return found


def validation_root(doc: dict, schema: Any) -> dict:
    """A stand-alone JSON Schema for ``schema`` whose local ``$ref``s still resolve.

    The document's schema collection is attached next to the schema, so
    ``#/components/schemas/X`` (or ``#/definitions/X``) resolves against it.
    """
    root = dict(schema) if isinstance(schema, dict) else {}
    if str(doc.get("swagger", "")).startswith("2"):
        root["definitions"] = doc.get("definitions") or {}
    else:
        root["components"] = doc.get("components") or {}
    return root


def summarize(doc: dict) -> dict[str, int]:
    """Counts of paths, operations and schemas of a loaded document."""
    api = normalize(doc)
    return {
        "paths": len({p for _, p in api.operations}),
        "operations": len(api.operations),
        "schemas": len(api.schemas),
    }


def _main(argv: Iterable[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("official")
    parser.add_argument("ours")
    args = parser.parse_args(list(argv) if argv is not None else None)
    result = compare_specs_detailed(args.official, args.ours)
    for title, items in (("differences", result.differences), ("extensions", result.extensions),
                         ("notes", result.notes)):
        print(f"{title}: {len(items)}")
        for item in items:
            print(f"  {item}")
    return 1 if result.differences else 0


if __name__ == "__main__":
    raise SystemExit(_main())

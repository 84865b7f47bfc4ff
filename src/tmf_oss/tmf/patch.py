"""Apply a PATCH request body to a TMF resource document.

Three media types (TMF630): merge-patch (RFC 7386, also what plain `application/json` means in TMF v4), json-patch
(RFC 6902) and json-patch-query (TMF630 Part 5: RFC 6902 whose paths may select array elements by a query). Query
operations are translated into concrete RFC 6902 operations and applied by `jsonpatch`, so there is a single
application mechanism. Operations are numbered from 0 in error messages, as they are indexed in the request array.

Query paths, both spellings found in TM Forum material:
  /note?id=3    /resourceCharacteristic/value?name=vlan    /note/author?note.id=77456 (key prefixed by its array)
  .note[?(@.date=='2025-05-13T00:00:00.000Z')]    $.resourceCharacteristic[?(@.name=='vlan' && @.valueType=='x')].value
Conditions are equalities joined by `&` / `&&`. A key may start with the dotted path of the array it filters; an
unprefixed key filters the innermost array the path crosses (or the resource itself when it crosses none). Values
compare as text, because a query string carries no JSON types; timestamps compare as instants.
An operation applies to every selected location. `replace`, `remove` and `test` act as RFC 6902 does on each; `add`
appends to a selected array and merges an object's members into a selected object (TMF630 Part 5 examples).
"""
from __future__ import annotations

import copy
import re
from datetime import datetime
from urllib.parse import unquote

import jsonpatch
import jsonpointer

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
JSON_PATCH_QUERY = "application/json-patch-query+json"

_KINDS = {"application/json": MERGE_PATCH, MERGE_PATCH: MERGE_PATCH, JSON_PATCH: JSON_PATCH,
          JSON_PATCH_QUERY: JSON_PATCH_QUERY}
_OPS = ("add", "remove", "replace", "move", "copy", "test")
_MISSING = object()  # "no such member", distinct from a JSON null

# One step of a JSONPath-like path: `.name` (the dot is optional first), `[3]`, or `[?(filter)]`.
_JSONPATH_STEP = re.compile(r"""\.?(?P<name>[^.\[\]()=!<>&|?'"\s]+)|\[(?P<index>\d+)\]|\[\?\((?P<filter>.*?)\)\]""")
_FILTER_TERM = re.compile(r"""\s*@\.?(?P<key>[^\s=!<>&|()'"]+)\s*==\s*"""
                          r"""(?:'(?P<sq>[^']*)'|"(?P<dq>[^"]*)"|(?P<bare>[^\s'"()&|]+))\s*""")


class PatchError(ValueError):
    """A patch that cannot be applied. `message` is written for the client; `status` is the HTTP status to answer:
    400 (malformed or not applicable), 409 (an RFC 6902 `test` failed) or 415 (unsupported media type)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


class ImmutableFieldError(PatchError):
    """The patch would change a member the client may not change; `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message, 400)
        self.field = field


def media_kind(content_type: str | None) -> str:
    """The patch kind (one of the three media type constants) for a request Content-Type."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if not media:
        return MERGE_PATCH
    try:
        return _KINDS[media]
    except KeyError:
        raise PatchError(f"unsupported PATCH media type '{media}'; use {MERGE_PATCH}, {JSON_PATCH} or "
                         f"{JSON_PATCH_QUERY}", 415) from None


def apply_patch(document: dict, patch_body, kind: str, *, immutable: frozenset[str] = frozenset(),
                server_owned: frozenset[str] = frozenset()) -> dict:
    """Return a new document with the patch applied; `document` is never modified.

    `kind` is one of the media type constants (any Content-Type value is accepted and mapped by `media_kind`).
    `immutable` and `server_owned` name top-level members the patch may not change; a patch that leaves them as
    they are (a merge-patch echoing `id`, a replace with the identical value) is accepted.
    """
    protected = {name: f"member '{name}' cannot be changed" for name in sorted(immutable)}
    for name in sorted(set(server_owned) - set(immutable)):
        protected[name] = f"member '{name}' is maintained by the server and cannot be changed"
    kind = media_kind(kind)
    if kind == MERGE_PATCH:
        result = _apply_merge_patch(document, patch_body, protected)
    else:
        result = _apply_json_patch(document, patch_body, kind, protected)
    if not isinstance(result, dict):
        raise PatchError("the patched resource must remain a JSON object")
    return result


def merge_patch(target, patch):
    """RFC 7386 MergePatch(target, patch) as a new value; neither argument is modified."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    source = target if isinstance(target, dict) else {}
    result = {}
    for name, value in source.items():  # keep the resource's member order for readable responses
        if name not in patch:
            result[name] = copy.deepcopy(value)
        elif patch[name] is not None:
            result[name] = merge_patch(value, patch[name])
    for name, value in patch.items():
        if name not in source and value is not None:
            result[name] = merge_patch(None, value)
    return result


# --- merge-patch ---------------------------------------------------------------------------------------------------

def _apply_merge_patch(document: dict, body, protected: dict[str, str]) -> dict:
    if not isinstance(body, dict):
        hint = f" (an array of operations needs Content-Type {JSON_PATCH})" if isinstance(body, list) else ""
        raise PatchError(f"a merge-patch body must be a JSON object{hint}")
    result = merge_patch(document, body)
    for name in body:
        if name in protected and not _same(document.get(name, _MISSING), result.get(name, _MISSING)):
            raise ImmutableFieldError(name, protected[name])
    return result


# --- json-patch and json-patch-query -------------------------------------------------------------------------------

def _apply_json_patch(document: dict, operations, kind: str, protected: dict[str, str]) -> dict:
    label = "json-patch" if kind == JSON_PATCH else "json-patch-query"
    if not isinstance(operations, list):
        raise PatchError(f"a {label} body must be a JSON array of operations")
    operations = copy.deepcopy(operations)  # jsonpatch inserts values as given: the result must not share them
    doc = copy.deepcopy(document)
    for index, operation in enumerate(operations):
        where = f"{label} operation {index}"
        _check_operation(operation, where)
        if kind == JSON_PATCH:
            for member in ("path", "from") if operation["op"] in ("move", "copy") else ("path",):
                _check_pointer(operation[member], where, member)
            steps = [operation]
        else:
            steps = _concrete_steps(doc, operation, where)
        for step in steps:
            _check_protected(doc, step, protected, where)
            doc = _apply_step(doc, step, where)
    return doc


def _check_operation(operation, where: str) -> None:
    if not isinstance(operation, dict):
        raise PatchError(f"{where}: must be a JSON object with 'op' and 'path'")
    name = operation.get("op")
    if not isinstance(name, str) or name not in _OPS:
        raise PatchError(f"{where}: 'op' must be one of {', '.join(_OPS)}")
    required = ("path", "from") if name in ("move", "copy") else ("path",)
    for member in required:
        if not isinstance(operation.get(member), str):
            raise PatchError(f"{where}: '{name}' requires a string '{member}'")
    if name in ("add", "replace", "test") and "value" not in operation:
        raise PatchError(f"{where}: '{name}' requires a 'value'")


def _check_pointer(pointer: str, where: str, member: str) -> None:
    if pointer and not pointer.startswith("/"):
        raise PatchError(f"{where}: {member} '{pointer}' is not a JSON Pointer (it must be empty or start with '/')")
    if re.search(r"~(?![01])", pointer):
        raise PatchError(f"{where}: {member} '{pointer}' has an invalid '~' escape (only ~0 and ~1 exist)")


def _check_protected(doc: dict, step: dict, protected: dict[str, str], where: str) -> None:
    """Refuse a step that would change a protected member. Checked against the current document: a protected
    member cannot have changed earlier in the patch, since that step would have been refused."""
    if not protected or step["op"] == "test":
        return
    path = step["path"]
    if path == "":  # the whole resource is replaced: each protected member must come out unchanged
        if step["op"] == "remove":
            return  # jsonpatch refuses to remove the document itself
        new = step["value"] if "value" in step else _resolve(doc, step["from"])
        if new is _MISSING:
            return  # a missing 'from': jsonpatch explains
        for name, message in protected.items():
            after = new.get(name, _MISSING) if isinstance(new, dict) else _MISSING
            if not _same(doc.get(name, _MISSING), after):
                raise ImmutableFieldError(name, f"{where}: {message}")
        return
    touched = [path] + ([step["from"]] if step["op"] == "move" else [])
    for pointer in touched:
        name = _unescape(pointer.split("/")[1]) if pointer else ""
        if name not in protected:
            continue
        if step["op"] == "replace" and pointer == path and _same(_resolve(doc, path), step["value"]):
            continue  # clients often echo members they cannot change
        raise ImmutableFieldError(name, f"{where}: {protected[name]}")


def _apply_step(doc: dict, step: dict, where: str) -> dict:
    """Apply one concrete RFC 6902 operation, turning jsonpatch's failures into client-facing messages."""
    try:
        return jsonpatch.JsonPatch([step]).apply(doc)  # not in place: `doc` stays intact for the explanation
    except jsonpatch.JsonPatchTestFailed:
        path = step["path"]
        detail = "differs from the expected value" if _exists(doc, path) else "does not exist"
        raise PatchError(f"{where}: test failed: the value at '{path}' {detail}", 409) from None
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise PatchError(f"{where}: {_explain(doc, step, exc)}") from None


def _explain(doc: dict, step: dict, exc: Exception) -> str:
    name, path = step["op"], step["path"]
    if name in ("move", "copy") and not _exists(doc, step["from"]):
        return f"from '{step['from']}' does not exist"
    if name in ("remove", "replace") and not _exists(doc, path):
        return f"path '{path}' does not exist"
    parent = path[: path.rfind("/")] if path else ""
    if not _exists(doc, parent):
        return f"path '{parent}' does not exist, so nothing can be added at '{path}'"
    return f"cannot {name} at '{path}': {str(exc)[:200]}"  # jsonpatch's own words, kept short


# --- json-patch-query: from query paths to concrete operations -----------------------------------------------------

def _concrete_steps(doc: dict, operation: dict, where: str) -> list[dict]:
    """The RFC 6902 operations that `operation` stands for in the current document."""
    name = operation["op"]
    targets, queried = _locate(doc, operation["path"], where, name)
    step = {key: operation[key] for key in ("op", "value") if key in operation}
    if name in ("move", "copy"):
        sources, _ = _locate(doc, operation["from"], where, name)
        if len(sources) != 1:
            raise PatchError(f"{where}: from '{operation['from']}' selects {len(sources)} values; it must select one")
        if name == "move" and len(targets) != 1:
            raise PatchError(f"{where}: path '{operation['path']}' selects {len(targets)} locations; "
                             "a move needs exactly one")
        step["from"] = sources[0]
    steps = []
    for target in targets:
        current = _resolve(doc, target)
        if name == "add" and queried and isinstance(current, list):
            steps.append({**step, "path": target + "/-"})  # a selected array: append to it
        elif name == "add" and queried and isinstance(current, dict) and isinstance(step["value"], dict):
            steps += [{"op": "add", "path": f"{target}/{_escape(key)}", "value": value}  # a selected object: merge
                      for key, value in step["value"].items()]
        else:
            steps.append({**step, "path": target})
    return steps


def _locate(doc: dict, path: str, where: str, op: str) -> tuple[list[str], bool]:
    """JSON Pointers addressed by `path`, highest array index first so that removals and insertions do not move
    the targets still to come; and whether `path` was a query."""
    parsed = _parse_query_path(path, where)
    if parsed is None:
        _check_pointer(path, where, "path")
        return [path], False
    segments, conditions, shown = parsed
    if not conditions:  # e.g. `$.note[0].text`: just another spelling of a pointer
        return ["".join("/" + _escape(s) for s in segments)], False
    status = 409 if op == "test" else 400
    selected, arrays = _select(doc, segments, conditions)
    if not selected:
        found = f"no element of '{arrays[0]}' matches" if arrays else "the resource does not match"
        raise PatchError(f"{where}: {found} {shown}", status)
    for tokens, broken in selected:
        if broken is not None:
            raise PatchError(f"{where}: path '{_pointer(broken)}' does not exist", status)
    selected.sort(key=lambda item: tuple(item[0]), reverse=True)
    return [_pointer(tokens) for tokens, _ in selected], True


def _parse_query_path(path: str, where: str):
    """(segments, conditions, query text) for a query path, None for a plain JSON Pointer. Conditions are
    (dotted key, literal) pairs."""
    if path == "" or path.startswith("/"):
        if "?" not in path:
            return None
        pointer, _, query = path.partition("?")
        _check_pointer(pointer, where, "path")
        conditions = []
        for term in query.split("&"):
            key, equals, literal = term.partition("=")
            if not equals or not key.strip():
                raise PatchError(f"{where}: query condition '{term}' in path '{path}' must look like member=value")
            # Percent-decoding lets a value carry '&'; '+' stays literal since timestamps carry '+01:00' offsets.
            conditions.append((unquote(key.strip()), _strip_quotes(unquote(literal.strip()))))
        return [_unescape(token) for token in pointer.split("/")[1:]], conditions, query
    text = path[1:] if path.startswith("$") else path
    segments, keys, conditions, filters, position = [], [], [], [], 0
    while position < len(text):
        step = _JSONPATH_STEP.match(text, position)
        if step is None:
            raise PatchError(f"{where}: cannot read path '{path}' from character {position + len(path) - len(text)}; "
                             "supported: $.member[?(@.key=='value' && ...)].member")
        if step["name"] is not None:
            segments.append(step["name"])
            keys.append(step["name"])
        elif step["index"] is not None:
            segments.append(step["index"])
        else:
            prefix = ".".join(keys)  # a JSONPath filter names its array explicitly, so keys are always prefixed
            for term in step["filter"].split("&&"):
                match = _FILTER_TERM.fullmatch(term)
                if match is None:
                    raise PatchError(f"{where}: unsupported filter '{term.strip()}' in path '{path}'; "
                                     "only @.key=='value' terms joined by && are supported")
                literal = next(v for v in (match["sq"], match["dq"], match["bare"]) if v is not None)
                conditions.append((f"{prefix}.{match['key']}" if prefix else match["key"], literal))
            filters.append(step["filter"].strip())
        position = step.end()
    return segments, conditions, " and ".join(filters)


def _select(doc: dict, segments: list[str], conditions: list[tuple[str, str]]):
    """Walk `segments` from the root, fanning out over every array the path crosses without an index.

    Returns (selected, arrays): `selected` holds (tokens, broken) for each location whose elements satisfy every
    condition (`broken` is the tokens of the first missing intermediate member, or None); `arrays` the dotted paths
    of the arrays fanned out over, outermost first.
    """
    # A branch: (node, tokens, dotted path of object members, chain of (array dotted path, element), broken).
    branches = [(doc, [], [], [], None)]
    arrays: list[str] = []
    for position, segment in enumerate(segments):
        final = position == len(segments) - 1
        grown = []
        for node, tokens, dotted, chain, broken in branches:
            if isinstance(node, list) and (segment == "-" or re.fullmatch(r"0|[1-9][0-9]*", segment)):
                index = len(node) if segment == "-" else int(segment)
                child = node[index] if index < len(node) else _MISSING
                gone = broken if broken is not None or child is not _MISSING or final else tokens + [index]
                grown.append((child, tokens + [index], dotted, chain, gone))
                continue
            if isinstance(node, list):  # a member of every element
                _note(arrays, dotted)
                parents = [(element, tokens + [i], chain + [(".".join(dotted), element)])
                           for i, element in enumerate(node)]
            else:
                parents = [(node, tokens, chain)]
            for parent, at, via in parents:
                child = parent.get(segment, _MISSING) if isinstance(parent, dict) else _MISSING
                gone = broken if broken is not None or child is not _MISSING or final else at + [segment]
                grown.append((child, at + [segment], dotted + [segment], via, gone))
        branches = grown

    located = []
    for node, tokens, dotted, chain, broken in branches:
        path = ".".join(dotted)
        # The path ends on an array: select among its elements when nothing was selected on the way, or when a
        # condition names this array (`$.a[?()].b[?()]`, `b?a.b.x=1`); otherwise the array itself is the target.
        if isinstance(node, list) and (not chain or any(key.startswith(path + ".") for key, _ in conditions)):
            _note(arrays, dotted)
            located += [(tokens + [i], chain + [(path, element)], broken) for i, element in enumerate(node)]
        else:
            located.append((tokens, chain, broken))
    selected = [(tokens, broken) for tokens, chain, broken in located
                if all(_condition_holds(doc, chain, key, literal) for key, literal in conditions)]
    return selected, arrays


def _note(arrays: list[str], dotted: list[str]) -> None:
    name = ".".join(dotted)
    if name not in arrays:
        arrays.append(name)


def _condition_holds(doc: dict, chain: list, key: str, literal: str) -> bool:
    # A key prefixed by an array's dotted path is read in that array's element (longest prefix wins); any other
    # key in the innermost selected element, or in the resource when the path crossed no array.
    scope, relative, best = (chain[-1][1] if chain else doc), key, -1
    for path, element in chain:
        if key.startswith(path + ".") and len(path) > best:
            scope, relative, best = element, key[len(path) + 1:], len(path)
    return _holds(scope, relative.split("."), literal)


def _holds(value, keys: list[str], literal: str) -> bool:
    if isinstance(value, list):  # as in TMF attribute filtering: a path into an array matches if any element does
        return any(_holds(item, keys, literal) for item in value)
    if not keys:
        return _equals(value, literal)
    return isinstance(value, dict) and keys[0] in value and _holds(value[keys[0]], keys[1:], literal)


def _equals(value, literal: str) -> bool:
    if isinstance(value, str):
        return value == literal or _same_instant(value, literal)
    if isinstance(value, bool) or value is None:
        return literal == {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, (int, float)):
        for number in (int, float):  # int first: float would blur ids beyond 2**53
            try:
                return number(literal) == value
            except ValueError:
                pass
    return False  # an object never equals a scalar literal


def _same_instant(a: str, b: str) -> bool:
    # '2025-05-13T00:00:00Z' and '2025-05-13T00:00:00.000Z' are the same instant spelled two ways.
    if "T" not in a or "T" not in b:
        return False
    try:
        first, second = datetime.fromisoformat(a), datetime.fromisoformat(b)
    except ValueError:
        return False
    return first.tzinfo is not None and second.tzinfo is not None and first == second


# --- small helpers -------------------------------------------------------------------------------------------------

def _same(a, b) -> bool:
    """JSON equality: unlike Python's ==, true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    return a == b


def _resolve(doc, pointer: str):
    try:
        value = jsonpointer.resolve_pointer(doc, pointer)
    except (jsonpointer.JsonPointerException, TypeError, KeyError, IndexError):
        return _MISSING
    return _MISSING if isinstance(value, jsonpointer.EndOfList) else value


def _exists(doc, pointer: str) -> bool:
    return _resolve(doc, pointer) is not _MISSING


def _strip_quotes(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"" else text


def _escape(token) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _pointer(tokens: list) -> str:
    return "".join("/" + _escape(token) for token in tokens)

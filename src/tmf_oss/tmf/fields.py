"""`fields=` attribute selection on a rendered representation (top-level and nested, arrays included)."""
from __future__ import annotations

from tmf_oss.tmf.catalog import AttributeCatalog
from tmf_oss.tmf.errors import bad_request

Selection = dict  # member name -> None (the whole member) or a nested Selection


def parse_fields(fields: str | None, catalog: AttributeCatalog | None = None,
                 always: tuple[str, ...] = ("id", "href")) -> Selection | None:
    """None means "everything". Unknown attributes are refused, like in filters."""
    if fields is None or fields.strip() in ("", "*"):
        return None
    selection: Selection = {}
    for raw in fields.split(","):
        raw = raw.strip()
        if not raw:
            continue
        path = tuple(raw.split("."))
        if any(not part for part in path):
            raise bad_request(f"'{raw}' is not a valid attribute path", reason="Invalid fields")
        if catalog is not None and catalog.lookup(path) is None:
            raise bad_request(f"Unknown attribute '{raw}'", reason="Invalid fields")
        node = selection
        for part in path[:-1]:
            if part in node and node[part] is None:
                break  # the whole member is already selected
            node = node.setdefault(part, {})
        else:
            node[path[-1]] = None
    for name in always:
        selection[name] = None
    return selection


def select_fields(document, selection: Selection | None, keep: tuple[str, ...] = ()):
    """`keep` names members kept in every selected nested object too (v5: `@type` is mandatory everywhere)."""
    if selection is None:
        return document
    if isinstance(document, list):
        return [select_fields(item, selection, keep) for item in document]
    if not isinstance(document, dict):
        return document
    chosen = {name: document[name] for name in keep if name in document}
    for name, nested in selection.items():
        if name in document:
            chosen[name] = document[name] if nested is None else select_fields(document[name], nested, keep)
    return chosen

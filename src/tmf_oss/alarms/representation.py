"""TMF642 v4 and v5 views of the one canonical (v5-shaped) alarm document.

The two releases share the alarm's members (v4 alarm ids are strings too: see the v4 document). v5 types every
nested object; v4 clients may leave `@type` out, so it is filled in on the way in and shown to both.
"""
from __future__ import annotations

import copy

from tmf_oss.tmf.versions import VersionView

NESTED_TYPES = {"alarmedObject": "AlarmedObjectRef"}
NESTED_LIST_TYPES = {"comment": "Comment", "parentAlarm": "AlarmRef", "correlatedAlarm": "AlarmRef",
                     "affectedService": "ServiceRef"}


def v4_to_canonical(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    doc.setdefault("@type", "Alarm")
    for name, type_name in NESTED_TYPES.items():
        if isinstance(doc.get(name), dict):
            doc[name].setdefault("@type", type_name)
    for name, type_name in NESTED_LIST_TYPES.items():
        for item in doc.get(name) or ():
            if isinstance(item, dict):
                item.setdefault("@type", type_name)
    return doc


V4_VIEW = VersionView("v4", v4_to_canonical)
V5_VIEW = VersionView("v5")

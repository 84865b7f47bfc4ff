"""TMF639 v4 and v5 views of the one canonical (v5-shaped) resource document."""
from __future__ import annotations

import copy

from tmf_oss.tmf.versions import VersionView, invert, map_values

# v4 enum values -> canonical (v5) values
V4_VALUES = {
    "operationalState": {"enable": "enabled", "disable": "disabled"},
    "administrativeState": {"shutdown": "shuttingDown"},
}
V4_ONLY = ("resourceStatus",)
# Members the v4 standard does not have: not shown to v4 clients.
V5_ONLY = (
    "creationDate", "lifecycleState", "alarmStatus", "proceduralStatus", "availabilityStatus", "controlStatus",
    "unknownStatus", "allocationStatus", "validFor", "resourceOrderItem", "supportingResource", "intent",
    "externalIdentifier",
)
# v4 filter paths that live elsewhere in the canonical form
V4_PATHS = {
    ("place", "role"): ("place", "role"),
    ("place",): ("place", "place"),
    ("relatedParty", "role"): ("relatedParty", "role"),
    ("relatedParty",): ("relatedParty", "partyOrPartyRole"),
}
_CHARACTERISTIC_TYPES = ((bool, "Boolean"), (int, "Integer"), (float, "Number"), (str, "String"), (dict, "Object"))


def characteristic_type(value) -> str:
    if isinstance(value, list):
        inner = characteristic_type(value[0]) if value else "StringCharacteristic"
        return inner.replace("Characteristic", "ArrayCharacteristic")
    for python_type, name in _CHARACTERISTIC_TYPES:
        if isinstance(value, python_type):
            return name + "Characteristic"
    return "Characteristic"


def _typed(items, default_type: str):
    for item in items or ():
        if isinstance(item, dict):
            item.setdefault("@type", default_type)


def v4_to_canonical(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    map_values(doc, V4_VALUES)
    place = doc.get("place")
    if isinstance(place, dict):
        ref = {k: v for k, v in place.items() if k != "role"}
        ref.setdefault("@type", "PlaceRef")
        related = {"@type": "RelatedPlaceRef", "place": ref}
        if "role" in place:
            related["role"] = place["role"]
        doc["place"] = [related]
    parties = doc.get("relatedParty")
    if isinstance(parties, list):
        converted = []
        for party in parties:
            if not isinstance(party, dict) or "partyOrPartyRole" in party:
                converted.append(party)
                continue
            ref = {k: v for k, v in party.items() if k != "role"}
            ref.setdefault("@type", "PartyRef")
            item = {"@type": "RelatedPartyRefOrPartyRoleRef", "partyOrPartyRole": ref}
            if "role" in party:
                item["role"] = party["role"]
            converted.append(item)
        doc["relatedParty"] = converted
    for characteristic in doc.get("resourceCharacteristic") or ():
        if isinstance(characteristic, dict):
            characteristic.setdefault("@type", characteristic_type(characteristic.get("value")))
    for relationship in doc.get("resourceRelationship") or ():
        if isinstance(relationship, dict):
            relationship.setdefault("@type", "ResourceRelationship")
            if isinstance(relationship.get("resource"), dict):
                relationship["resource"].setdefault("@type", "ResourceRef")
    _typed(doc.get("note"), "Note")
    _typed(doc.get("activationFeature"), "Feature")
    _typed(doc.get("attachment"), "AttachmentRef")
    if isinstance(doc.get("resourceSpecification"), dict):
        doc["resourceSpecification"].setdefault("@type", "ResourceSpecificationRef")
    return doc


def canonical_to_v4(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    map_values(doc, {name: invert(mapping) for name, mapping in V4_VALUES.items()})
    for name in V5_ONLY:
        doc.pop(name, None)
    places = doc.get("place")
    if isinstance(places, list):
        if places and isinstance(places[0], dict):
            first = places[0]
            place = dict(first.get("place") or {})
            if "role" in first:
                place["role"] = first["role"]
            doc["place"] = place
        else:
            doc.pop("place")
    parties = doc.get("relatedParty")
    if isinstance(parties, list):
        flattened = []
        for party in parties:
            if isinstance(party, dict) and "partyOrPartyRole" in party:
                item = dict(party["partyOrPartyRole"] or {})
                ref_type = item.pop("@type", None)
                # v4 requires @referredType; v5 may leave it out, so name the generic class referred to.
                item.setdefault("@referredType", "PartyRole" if ref_type == "PartyRoleRef" else "Party")
                if "role" in party:
                    item["role"] = party["role"]
                flattened.append(item)
            else:
                flattened.append(party)
        doc["relatedParty"] = flattened
    return doc


def v5_to_canonical(doc: dict) -> dict:
    return doc


def canonical_to_v5(doc: dict) -> dict:
    for name in V4_ONLY:
        doc.pop(name, None)
    if any(isinstance(c, dict) and "@type" not in c for c in doc.get("resourceCharacteristic") or ()):
        doc = v4_to_canonical(doc)  # written before types were required: add them on the way out
        for name in V4_ONLY:
            doc.pop(name, None)
    return doc


V4_VIEW = VersionView("v4", v4_to_canonical, canonical_to_v4, value_maps=V4_VALUES, path_map=V4_PATHS)
V5_VIEW = VersionView("v5", v5_to_canonical, canonical_to_v5)

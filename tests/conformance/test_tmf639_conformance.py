"""TMF639 Resource Inventory (v4 and v5) against the official TM Forum documents.

The checks themselves are generic (harness.EntityConformance); this module only says where the API
lives and what resources to send.  Every payload is validated against the official request schema
before it is sent, so a failing check points at the server.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from .harness import ABSENT, ApiDefinition, ApiVersion, EntityConformance, TmfClient

TMF639 = ApiDefinition("TMF639", (
    ApiVersion("v4", "tmf639/TMF639_Resource_Inventory_Management_API_v4.0.0_swagger.json",
               "/tmf-api/resourceInventoryManagement/v4"),
    ApiVersion("v5", "tmf639/TMF639-Resource_Inventory_Management-v5.0.0.oas.yaml",
               "/tmf-api/resourceInventoryManagement/v5"),
))

INSTALLED = "2024-05-01T08:00:00Z"


def _v4_identity(client: TmfClient, tag: str) -> dict:
    # The official v4 Resource_Create lists id and href as required, so a well-behaved v4 client sends them.
    resource_id = f"{tag}-{uuid.uuid4().hex[:8]}"
    return {"id": resource_id, "href": client.url(f"/resource/{resource_id}")}


class TestResourceInventory(EntityConformance):
    api = TMF639
    collection = "/resource"
    hub = "/hub"
    text_attribute = "name"
    group_attribute = "description"
    date_attribute = "startOperatingDate"
    nested_attribute = "resourceCharacteristic.name"

    # ------------------------------------------------------------------ create payloads

    def create_body(self, version: ApiVersion, client: TmfClient, tag: str) -> dict:
        if version.major >= 5:
            return {
                "@type": "PhysicalResource",
                "name": tag,
                "description": "conformance check",
                "resourceVersion": "1",
                "startOperatingDate": INSTALLED,
                "administrativeState": "unlocked",
                "operationalState": "enabled",
                "usageState": "idle",
                "serialNumber": "SN-0001",
                "resourceCharacteristic": [
                    {"@type": "StringCharacteristic", "name": "colour", "value": "red"},
                    {"@type": "IntegerCharacteristic", "name": "ports", "value": 24},
                ],
                "note": [{"@type": "Note", "text": "installed", "date": INSTALLED}],
            }
        return {
            **_v4_identity(client, tag),
            "@type": "PhysicalResource",
            "name": tag,
            "description": "conformance check",
            "resourceVersion": "1",
            "startOperatingDate": INSTALLED,
            "administrativeState": "unlocked",
            "operationalState": "enable",
            "usageState": "idle",
            "resourceStatus": "available",
            "serialNumber": "SN-0001",
            "resourceCharacteristic": [
                {"name": "colour", "value": "red"},
                {"name": "ports", "value": 24, "valueType": "integer"},
            ],
            "note": [{"text": "installed", "date": INSTALLED}],
        }

    def dataset_body(self, version: ApiVersion, client: TmfClient, group: str, index: int, rank: int) -> dict:
        started = datetime(2021, 3, 1, 12, tzinfo=timezone.utc) + timedelta(days=rank)
        colour = ("red", "blue")[index % 2]
        characteristics = [{"name": f"{group}-colour-{colour}", "value": colour},
                           {"name": f"{group}-common", "value": "x"}]
        body = {
            "name": f"{group}-{index}",
            "description": group,
            "startOperatingDate": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "resourceCharacteristic": characteristics,
        }
        if version.major >= 5:
            for characteristic in characteristics:
                characteristic["@type"] = "StringCharacteristic"
            # Both concrete subclasses, so that lists mix them as a real inventory does.
            return {"@type": ("PhysicalResource", "LogicalResource")[index % 2], **body}
        return {**_v4_identity(client, f"{group}-{index}"), **body}

    # ------------------------------------------------------------------ PATCH payloads

    def patch_bodies(self, version: ApiVersion, media_type: str, item: dict) -> dict:
        green = [{"name": "colour", "value": "green"}]
        if version.major < 5:
            # v4 declares only application/json (merge semantics); Resource_Update requires id and href.
            identity = {"id": item["id"], "href": item["href"]}
            return {
                "attributes": ({**identity, "usageState": "busy", "resourceVersion": "2"},
                               {"usageState": "busy", "resourceVersion": "2"}),
                "array replaced whole": ({**identity, "resourceCharacteristic": green},
                                         {"resourceCharacteristic": green}),
            }
        typed_green = [{"@type": "StringCharacteristic", **green[0]}]
        if media_type in ("application/json", "application/merge-patch+json"):
            kind = {"@type": item["@type"]}
            return {
                "attributes": ({**kind, "usageState": "busy", "resourceVersion": "2"},
                               {"usageState": "busy", "resourceVersion": "2"}),
                "array replaced whole": ({**kind, "resourceCharacteristic": typed_green},
                                         {"resourceCharacteristic": typed_green}),
            }
        characteristics = item.get("resourceCharacteristic", [])
        if media_type == "application/json-patch+json":
            added = {"@type": "StringCharacteristic", "name": "vendor", "value": "acme"}
            return {
                "replace, add, remove": (
                    [{"op": "replace", "path": "/usageState", "value": "busy"},
                     {"op": "add", "path": "/resourceCharacteristic/-", "value": added},
                     {"op": "remove", "path": "/description"}],
                    {"usageState": "busy", "resourceCharacteristic": characteristics + [added],
                     "description": ABSENT}),
            }
        if media_type == "application/json-patch-query+json":
            recoloured = [{**c, "value": "green"} if c.get("name") == "colour" else c for c in characteristics]
            new_note = {"@type": "Note", "text": "configured", "date": "2024-06-01T00:00:00Z"}
            return {
                # TMF630 part 5: an array element selected by a query on one of its members.
                "query path": ([{"op": "replace", "path": "/resourceCharacteristic/value?name=colour",
                                 "value": "green"}],
                               {"resourceCharacteristic": recoloured}),
                # The JSONPath form the official v5 example uses.
                "JSONPath": ([{"op": "replace", "path": ".note[?(@.text=='installed')]", "value": new_note}],
                             {"note": [new_note]}),
            }
        raise AssertionError(f"no PATCH payload for {media_type}")

    # ------------------------------------------------------------------ invalid payloads

    def invalid_create_bodies(self, version: ApiVersion, client: TmfClient, tag: str) -> dict:
        valid = self.create_body(version, client, tag)
        without_required = "@type" if version.major >= 5 else "name"
        return {
            f"missing required {without_required}": {k: v for k, v in valid.items() if k != without_required},
            "name is a number": {**valid, "name": 42},
            "startOperatingDate is not a date-time": {**valid, "startOperatingDate": "next tuesday"},
            "administrativeState outside its enumeration": {**valid, "administrativeState": "sleepy"},
            "resourceCharacteristic is not an array": {**valid, "resourceCharacteristic": {"name": "colour"}},
        }

    def invalid_patch_bodies(self, version: ApiVersion, item: dict) -> dict:
        if version.major < 5:
            identity = {"id": item["id"], "href": item["href"]}
            media_type = "application/json;charset=utf-8"
            return {
                "name is a number": (media_type, {**identity, "name": 42}),
                "usageState outside its enumeration": (media_type, {**identity, "usageState": "sleepy"}),
            }
        merge, patch, query = ("application/merge-patch+json", "application/json-patch+json",
                               "application/json-patch-query+json")
        return {
            "merge-patch: usageState outside its enumeration":
                (merge, {"@type": item["@type"], "usageState": "sleepy"}),
            "json-patch: unknown op": (patch, [{"op": "frobnicate", "path": "/name", "value": "x"}]),
            "json-patch: an object instead of an array": (patch, {"op": "replace", "path": "/name", "value": "x"}),
            "json-patch: result has usageState outside its enumeration":
                (patch, [{"op": "replace", "path": "/usageState", "value": "sleepy"}]),
            "json-patch-query: operation without path": (query, [{"op": "replace", "value": "x"}]),
        }

"""The TMF639 resource collection: what is specific to resources, on top of the shared machinery."""
from __future__ import annotations

from tmf_oss.inventory.model import RESOURCE_VALUE_PATHS, ResourceRow, ResourceValueRow
from tmf_oss.inventory.topology import sync_links
from tmf_oss.tmf.collection import EntitySpec, now_text
from tmf_oss.tmf.polymorphism import TypeFamily

RESOURCE_FAMILY = TypeFamily(
    base="Resource",
    known=frozenset({"Resource", "LogicalResource", "PhysicalResource", "ResourceFunction", "SoftwareResource"}),
)

# State members (X.731 and the v4 resourceStatus): a change to any of them is a ResourceStateChangeEvent.
STATE_FIELDS = frozenset({
    "administrativeState", "operationalState", "usageState", "lifecycleState", "resourceStatus", "alarmStatus",
    "proceduralStatus", "availabilityStatus", "controlStatus", "standbyStatus", "unknownStatus",
    "allocationStatus", "powerConsumingState",
})


def _stamp_creation(canonical: dict) -> None:
    canonical["creationDate"] = now_text()


RESOURCE = EntitySpec(
    name="resource",
    api="tmf639",
    model=ResourceRow,
    family=RESOURCE_FAMILY,
    event_prefix="Resource",
    columns={
        "name": "name",
        "category": "category",
        "administrativeState": "administrative_state",
        "operationalState": "operational_state",
        "usageState": "usage_state",
        "lifecycleState": "lifecycle_state",
        "resourceStatus": "resource_status",
        "creationDate": "created_at",
    },
    state_fields=STATE_FIELDS,
    server_owned=frozenset({"creationDate"}),
    on_create=_stamp_creation,
    on_write=sync_links,
    rendered_columns={"v4": "body_v4", "v5": "body_v5"},
    value_index_paths=RESOURCE_VALUE_PATHS,
    value_table=ResourceValueRow,
)

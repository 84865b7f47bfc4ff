"""TMF639 Resource Inventory: the API definition (versions, entity, views) the app and worker are built from."""
from __future__ import annotations

from tmf_oss.inventory.representation import V4_VIEW, V5_VIEW
from tmf_oss.inventory.service import RESOURCE
from tmf_oss.platform import ApiDefinition, EntityDefinition, VersionDefinition

RESOURCE_SCHEMAS = ("Resource", "LogicalResource", "PhysicalResource", "ResourceFunction", "SoftwareResource")

INVENTORY_API = ApiDefinition(
    api="tmf639",
    title="TMF639 Resource Inventory",
    versions=(
        VersionDefinition("v4", "/tmf-api/resourceInventoryManagement/v4", "tmf639/resource-inventory-v4.yaml",
                          requires_type=False),
        VersionDefinition("v5", "/tmf-api/resourceInventoryManagement/v5", "tmf639/resource-inventory-v5.yaml",
                          requires_type=True),
    ),
    entities=(
        EntityDefinition(RESOURCE, "Resource", {"v4": V4_VIEW, "v5": V5_VIEW}, RESOURCE_SCHEMAS),
    ),
)

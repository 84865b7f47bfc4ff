"""TMF638 Service Inventory: the API definition (version, entity, view) the app and worker are built from."""
from __future__ import annotations

from tmf_oss.platform import ApiDefinition, EntityDefinition, VersionDefinition
from tmf_oss.services.representation import V5_VIEW
from tmf_oss.services.service import SERVICE

SERVICE_INVENTORY_API = ApiDefinition(
    api="tmf638",
    title="TMF638 Service Inventory",
    versions=(
        VersionDefinition("v5", "/tmf-api/serviceInventoryManagement/v5", "tmf638/service-inventory-v5.yaml",
                          requires_type=True),
    ),
    entities=(
        EntityDefinition(SERVICE, "Service", {"v5": V5_VIEW}, ("Service",)),
    ),
)

"""TMF633 Service Catalog: the API definition (version, entity, view) the app and worker are built from."""
from __future__ import annotations

from tmf_oss.catalog.representation import V4_VIEW
from tmf_oss.catalog.service import SERVICE_SPECIFICATION
from tmf_oss.platform import ApiDefinition, EntityDefinition, VersionDefinition

SERVICE_CATALOG_API = ApiDefinition(
    api="tmf633",
    title="TMF633 Service Catalog",
    versions=(
        VersionDefinition("v4", "/tmf-api/serviceCatalogManagement/v4", "tmf633/service-catalog-v4.yaml",
                          requires_type=False),
    ),
    entities=(
        # NetworkServiceSpecification's members (endpoints, activation) are in the attribute catalogue from the
        # start, typed, so they filter before any such specification is stored.
        EntityDefinition(SERVICE_SPECIFICATION, "ServiceSpecification", {"v4": V4_VIEW},
                         ("ServiceSpecification", "NetworkServiceSpecification"), canonical_version="v4"),
    ),
)

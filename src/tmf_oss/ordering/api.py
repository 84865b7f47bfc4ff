"""TMF641 Service Ordering: the API definition (version, entities, views) the app and worker are built from."""
from __future__ import annotations

from tmf_oss.ordering import cancellation, service
from tmf_oss.platform import ApiDefinition, EntityDefinition, VersionDefinition
from tmf_oss.tmf.versions import VersionView

SERVICE_ORDERING_API = ApiDefinition(
    api="tmf641",
    title="TMF641 Service Ordering",
    versions=(
        VersionDefinition("v4", "/tmf-api/serviceOrdering/v4", "tmf641/service-ordering-v4.yaml",
                          requires_type=False),
    ),
    entities=(
        EntityDefinition(service.SERVICE_ORDER, "ServiceOrder", {"v4": service.V4_VIEW}, ("ServiceOrder",),
                         canonical_version="v4", bind=service.bind),
        EntityDefinition(cancellation.CANCEL_SERVICE_ORDER, "CancelServiceOrder", {"v4": VersionView("v4")},
                         ("CancelServiceOrder",), canonical_version="v4", bind=cancellation.bind),
    ),
)

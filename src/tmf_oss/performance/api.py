"""TMF628 Performance Management: the API definition (versions, entities, views, the measurement read side and
the download routes) the app and worker are built from."""
from __future__ import annotations

from tmf_oss.performance import service
from tmf_oss.performance.representation import JOB_V4_VIEW, V5_VIEW, v4_view
from tmf_oss.platform import ApiDefinition, EntityDefinition, VersionDefinition



def both(entity: str) -> dict:
    return {"v4": v4_view(entity), "v5": V5_VIEW}


def _measurement_operations(platform, version, settings) -> dict:
    from tmf_oss.performance.measurements import MeasurementReader

    return MeasurementReader(platform, settings, version.version, version.base_path).operations()


def _routes(platform, settings) -> list:
    from tmf_oss.performance.export import export_routes

    return export_routes(platform)


PERFORMANCE_API = ApiDefinition(
    api="tmf628",
    title="TMF628 Performance Management",
    versions=(
        VersionDefinition("v4", "/tmf-api/performanceManagement/v4", "tmf628/performance-management-v4.yaml",
                          requires_type=False),
        VersionDefinition("v5", "/tmf-api/performanceManagement/v5", "tmf628/performance-management-v5.yaml",
                          requires_type=True),
    ),
    entities=(
        EntityDefinition(service.INDICATOR_SPECIFICATION, "PerformanceIndicatorSpecification",
                         both("PerformanceIndicatorSpecification"),
                         ("PerformanceIndicatorSpecification",)),
        EntityDefinition(service.INDICATOR_GROUP_SPECIFICATION, "PerformanceIndicatorGroupSpecification",
                         both("PerformanceIndicatorGroupSpecification"),
                         ("PerformanceIndicatorGroupSpecification",)),
        EntityDefinition(service.COLLECTION_JOB, "MeasurementCollectionJob", {"v4": JOB_V4_VIEW, "v5": V5_VIEW},
                         ("MeasurementCollectionJob",), bind=service.bind_job),
        EntityDefinition(service.TRACKING_RECORD, "TrackingRecord", both("TrackingRecord"), ("TrackingRecord",)),
        EntityDefinition(service.DATA_ACCESS_ENDPOINT, "DataAccessEndpoint", both("DataAccessEndpoint"),
                         ("DataAccessEndpoint",)),
    ),
    extra_operations=_measurement_operations,
    routes=_routes,
)

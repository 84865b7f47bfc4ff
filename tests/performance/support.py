"""Building blocks of the performance tests: measurable objects in the inventory, jobs, stored samples."""
from __future__ import annotations

from tmf_oss.inventory.model import DiscoveredResource

PM4 = "/tmf-api/performanceManagement/v4"
PM5 = "/tmf-api/performanceManagement/v5"


def add_device(platform, address: str, name: str | None = None) -> str:
    """A device as discovery records it: a PhysicalResource and its discovered-resource key."""
    body, _ = platform.collection("tmf639", "resource").create(
        "v5", {"@type": "PhysicalResource", "name": name or address, "category": "device"},
        base_url="http://testserver", correlation_id=None)
    with platform.db.transaction() as session:
        session.add(DiscoveredResource(key=f"device:{address}", device_key=f"device:{address}",
                                       resource_id=body["id"], present=True))
    return body["id"]


def add_interface(platform, address: str, interface: str, name: str | None = None) -> str:
    """One of a device's interfaces as discovery records it: a LogicalResource of category interface."""
    body, _ = platform.collection("tmf639", "resource").create(
        "v5", {"@type": "LogicalResource", "name": name or f"{address}/{interface}", "category": "interface"},
        base_url="http://testserver", correlation_id=None)
    with platform.db.transaction() as session:
        session.add(DiscoveredResource(key=f"device:{address}/interface:{interface}",
                                       device_key=f"device:{address}", resource_id=body["id"], present=True))
    return body["id"]


def job(indicators: list[str], objects: list[str] | None = None, **members) -> dict:
    """A v5 MeasurementCollectionJob create body."""
    body = {"@type": "MeasurementCollectionJob", "consumingApplicationId": "noc-dashboard",
            "producingApplicationId": "tmf-oss",
            "performanceIndicatorSpecification": [
                {"@type": "PerformanceIndicatorSpecificationRef", "id": ident} for ident in indicators],
            "granularity": "g_1mn"}
    if objects is not None:
        body["monitoredInstancesCriteria"] = {"@type": "MonitoredInstancesCriteria",
                                              "monitoredObjectInstances": objects}
    body.update(members)
    return body

"""Building blocks of the ordering tests: ports in the inventory, the catalog, orders."""
from __future__ import annotations

from tmf_oss.catalog.seed import ensure_catalog
from tmf_oss.inventory.model import DiscoveredResource

ORDERING = "/tmf-api/serviceOrdering/v4"
SERVICES = "/tmf-api/serviceInventoryManagement/v5"


def seed_catalog(platform) -> None:
    ensure_catalog(platform)


def add_port(platform, device: str, interface: str) -> str:
    """A device's interface as discovery records it: a LogicalResource and its discovered-resource key."""
    resources = platform.collection("tmf639", "resource")
    body, _ = resources.create("v5", {"@type": "LogicalResource", "name": f"{device} {interface}",
                                      "category": "interface"}, base_url="http://testserver", correlation_id=None)
    with platform.db.transaction() as session:
        session.add(DiscoveredResource(key=f"device:{device}/interface:{interface}", device_key=f"device:{device}",
                                       resource_id=body["id"], present=True))
    return body["id"]


def vlan_item(item_id: str, ports: list[str], vlan, *, action: str = "add", **extra) -> dict:
    service = {"serviceSpecification": {"id": "vlan-service"},
               "serviceCharacteristic": [{"name": "vlanId", "value": vlan}],
               "supportingResource": [{"id": port} for port in ports]}
    service.update(extra.pop("service", {}))
    return {"id": item_id, "action": action, "service": service, **extra}


def order(*items: dict, **members) -> dict:
    return {"serviceOrderItem": list(items), **members}


def depends_on(item_id: str) -> list[dict]:
    return [{"relationshipType": "dependsOn", "orderItem": {"id": item_id, "itemId": item_id}}]

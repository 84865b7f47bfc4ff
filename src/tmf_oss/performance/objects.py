"""Which devices and interfaces a collection job measures: its monitored objects, resolved to what can be polled.

A job names TMF639 resources explicitly (`monitoredInstancesCriteria.monitoredObjectInstances`, resource ids) and/or
by class (`monitoredClassCriteria`: `objectInstanceFilter` is a TMF639 resource query such as
`category=interface&name.regex=^edge`, `monitoredObjectClass` an optional resource `@type`). Either way an object is
measurable when discovery found it on a managed device: the device itself or one of its interfaces. The filter is
applied again on every collection round, so interfaces discovered later join the job by themselves.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from sqlalchemy import select
from sqlalchemy.orm import Session

from tmf_oss.inventory.model import DiscoveredResource, ResourceRow

INTERFACE_MARK = "/interface:"
LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class MonitoredObject:
    id: str  # TMF639 resource id
    name: str
    type: str  # the resource's @type
    device: str  # management address of the device it is on (or is)
    interface: str | None  # the device's name for the interface; None for the device itself

    @property
    def scope(self) -> str:
        return "device" if self.interface is None else "interface"

    def reference(self) -> dict:
        return {"@type": "ResourceRef", "id": self.id, "name": self.name, "@referredType": self.type}


def _from_key(key: str) -> tuple[str, str | None] | None:
    """(device address, interface name or None) for a discovery key; None for what is neither (components)."""
    if not key.startswith("device:"):
        return None
    device, mark, rest = key.removeprefix("device:").partition(INTERFACE_MARK)
    if mark:
        return device, rest
    return (device, None) if "/" not in device else None


def measurable(session: Session, resource_ids: list[str]) -> dict[str, MonitoredObject]:
    """The given resources that are devices or interfaces discovery found, by id (others are left out)."""
    found: dict[str, MonitoredObject] = {}
    wanted = list(dict.fromkeys(resource_ids))
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        rows = session.execute(
            select(DiscoveredResource.key, ResourceRow.id, ResourceRow.name, ResourceRow.type)
            .join(ResourceRow, ResourceRow.id == DiscoveredResource.resource_id)
            .where(DiscoveredResource.resource_id.in_(wanted[start:start + LOOKUP_CHUNK])))
        for key, ident, name, type_name in rows:
            place = _from_key(key)
            if place is not None:
                found[ident] = MonitoredObject(ident, name or ident, type_name, place[0], place[1])
    return found


def existing(session: Session, resource_ids: list[str]) -> set[str]:
    """Which of these resource ids the inventory has at all."""
    known: set[str] = set()
    wanted = list(dict.fromkeys(resource_ids))
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        known.update(session.execute(select(ResourceRow.id).where(
            ResourceRow.id.in_(wanted[start:start + LOOKUP_CHUNK]))).scalars())
    return known


def filter_pairs(text: str) -> list[tuple[str, str]]:
    """An objectInstanceFilter as query-string pairs, as the TMF639 list operation would read them."""
    return parse_qsl(text.lstrip("?"), keep_blank_values=True)


def job_object_ids(session: Session, resources, job: dict) -> list[str]:
    """Every resource id the job's criteria select (explicit ones first), each once. `resources` is the TMF639
    resource collection; a filter naming an unknown attribute raises its 400."""
    ids = list(instance_ids(job))
    criteria = job.get("monitoredClassCriteria") or {}
    text = criteria.get("objectInstanceFilter")
    object_class = criteria.get("monitoredObjectClass")
    if text or object_class:
        pairs = filter_pairs(text or "")
        if object_class:
            pairs.append(("@type", object_class))
        ids.extend(resources.ids_matching(session, "v5", pairs))
    return list(dict.fromkeys(ids))


def instance_ids(job: dict) -> list[str]:
    criteria = job.get("monitoredInstancesCriteria") or {}
    return [str(ident) for ident in criteria.get("monitoredObjectInstances") or () if ident not in (None, "")]

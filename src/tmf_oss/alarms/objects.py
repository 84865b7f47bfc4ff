"""From what a device says (its address, an interface name or ifIndex) to the TMF639 resource an alarm is about,
and from a resource to the resources whose failure could explain its alarms.

Discovery records which resource stands for which device and interface (`discovered_resource`); the interfaces'
ifIndex is one of their characteristics. Both change rarely and are read for every fault, so they are cached per
device for a short while (a device discovered a moment ago is found within CACHE_SECONDS).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tmf_oss.inventory.discovery import device_key
from tmf_oss.inventory.model import DiscoveredResource, ResourceLinkRow, ResourceRow
from tmf_oss.inventory.topology import descendants

CACHE_SECONDS = 30.0
CONTAINS = "contains"
PEER_RELATIONSHIPS = frozenset({"connectedTo", "connected", "peer", "link"})


@dataclass(frozen=True)
class AlarmedObject:
    id: str
    name: str | None
    referred_type: str | None
    resolved: bool

    def reference(self) -> dict:
        ref = {"@type": "AlarmedObjectRef", "id": self.id}
        if self.name:
            ref["name"] = self.name
        if self.referred_type:
            ref["@referredType"] = self.referred_type
        return ref


@dataclass
class _Device:
    loaded_at: float
    device: AlarmedObject | None = None
    by_name: dict[str, AlarmedObject] = field(default_factory=dict)
    by_index: dict[int, AlarmedObject] = field(default_factory=dict)


class ObjectResolver:
    def __init__(self):
        self._devices: dict[str, _Device] = {}
        self._neighbourhoods: dict[str, tuple[float, frozenset[str]]] = {}
        self._dependents: dict[str, tuple[float, frozenset[str]]] = {}

    def resolve(self, session: Session, address: str, interface: str | None, interface_index: int | None,
                scope: str) -> AlarmedObject:
        """The alarmed object: the interface when the record names one and the rule is about interfaces, else the
        device. Unknown to the inventory: an unresolved object named after what the device said."""
        known = self._device(session, address)
        if scope == "interface" and (interface is not None or interface_index is not None):
            found = known.by_name.get(interface) if interface is not None else None
            if found is None and interface_index is not None:
                found = known.by_index.get(interface_index)
            if found is not None:
                return found
            label = interface if interface is not None else f"ifIndex {interface_index}"
            return AlarmedObject(f"{address}/{label}", f"{address} {label}", None, False)
        if known.device is not None:
            return known.device
        return AlarmedObject(address, address, None, False)

    def _device(self, session: Session, address: str) -> _Device:
        now = time.monotonic()
        cached = self._devices.get(address)
        if cached is not None and now - cached.loaded_at < CACHE_SECONDS:
            return cached
        loaded = _Device(now)
        key = device_key(address)
        rows = session.execute(
            select(DiscoveredResource.key, ResourceRow.id, ResourceRow.name, ResourceRow.type, ResourceRow.doc)
            .join(ResourceRow, ResourceRow.id == DiscoveredResource.resource_id)
            .where(or_(DiscoveredResource.key == key, DiscoveredResource.device_key == key))).all()
        for found_key, ident, name, type_name, doc in rows:
            reference = AlarmedObject(ident, name, type_name, True)
            if found_key == key:
                loaded.device = reference
            elif "/interface:" in found_key:
                loaded.by_name[found_key.split("/interface:", 1)[1]] = reference
                index = _characteristic(doc, "ifIndex")
                if isinstance(index, int):
                    loaded.by_index[index] = reference
        self._devices[address] = loaded
        return loaded

    def neighbourhood(self, session: Session, resource_id: str) -> frozenset[str]:
        """Resources whose failure explains a fault on this one: what contains it (transitively), what it is
        connected to, and what contains those."""
        now = time.monotonic()
        cached = self._neighbourhoods.get(resource_id)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        found = set(self._containers(session, resource_id))
        for peer in self._peers(session, resource_id):
            found.add(peer)
            found.update(self._containers(session, peer))
        found.discard(resource_id)
        result = frozenset(found)
        self._neighbourhoods[resource_id] = (now, result)
        return result

    def dependents(self, session: Session, resource_id: str) -> frozenset[str]:
        """Resources whose faults this one's failure explains: what it contains (transitively), what it is
        connected to, and what those contained things are connected to."""
        now = time.monotonic()
        cached = self._dependents.get(resource_id)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        inside = descendants(session, resource_id)
        found = set(inside)
        for member in (resource_id, *inside):
            found.update(self._peers(session, member))
        found.discard(resource_id)
        result = frozenset(found)
        self._dependents[resource_id] = (now, result)
        return result

    @staticmethod
    def _containers(session: Session, resource_id: str, max_depth: int = 8) -> list[str]:
        chain, current = [], resource_id
        for _ in range(max_depth):
            parent = session.execute(
                select(ResourceRow.id).join(ResourceLinkRow, ResourceLinkRow.source_seq == ResourceRow.seq)
                .where(ResourceLinkRow.target_id == current, ResourceLinkRow.relationship_type == CONTAINS)
                .limit(1)).scalar()
            if parent is None or parent in chain:
                break
            chain.append(parent)
            current = parent
        return chain

    @staticmethod
    def _peers(session: Session, resource_id: str) -> set[str]:
        outgoing = session.execute(
            select(ResourceLinkRow.target_id).join(ResourceRow, ResourceRow.seq == ResourceLinkRow.source_seq)
            .where(ResourceRow.id == resource_id, ResourceLinkRow.relationship_type.in_(PEER_RELATIONSHIPS))).all()
        incoming = session.execute(
            select(ResourceRow.id).join(ResourceLinkRow, ResourceLinkRow.source_seq == ResourceRow.seq)
            .where(ResourceLinkRow.target_id == resource_id,
                   ResourceLinkRow.relationship_type.in_(PEER_RELATIONSHIPS))).all()
        return {row[0] for row in outgoing} | {row[0] for row in incoming}


def _characteristic(doc: dict, name: str):
    for characteristic in doc.get("resourceCharacteristic") or ():
        if isinstance(characteristic, dict) and characteristic.get("name") == name:
            return characteristic.get("value")
    return None

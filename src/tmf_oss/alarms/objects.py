"""From what a device says (its address, an interface name or ifIndex) to the TMF639 resource an alarm is about,
and from a resource to the resources whose failure could explain its alarms.

Discovery records which resource stands for which device and interface (`discovered_resource`); the interfaces'
ifIndex is one of their characteristics. The topology is the `contains` and cabling links of the inventory. All of
it changes rarely and is read for every fault, so it is held in memory: the topology until the inventory is
written again (its write generation moves), each device's resources for CACHE_SECONDS at most. The whole link
graph is loaded at once — a few MB for a hundred thousand resources.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tmf_oss.inventory.discovery import device_key
from tmf_oss.inventory.model import DiscoveredResource, ResourceLinkRow, ResourceRow
from tmf_oss.tmf.counts import CollectionCount

CACHE_SECONDS = 30.0
LOOKUP_CHUNK = 500  # ids per IN (...) list
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
        self._graph: Topology | None = None
        self._graph_generation: int | None = None

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

    def resources(self, session: Session, named: dict[str, str | None]) -> dict[str, AlarmedObject]:
        """The alarmed objects of records that name their TMF639 resource themselves (resource id -> the name the
        record gives): one query per LOOKUP_CHUNK ids. Ids the inventory does not hold are kept, unresolved."""
        found: dict[str, AlarmedObject] = {}
        ordered = sorted(named)
        for start in range(0, len(ordered), LOOKUP_CHUNK):
            rows = session.execute(select(ResourceRow.id, ResourceRow.name, ResourceRow.type)
                                   .where(ResourceRow.id.in_(ordered[start:start + LOOKUP_CHUNK]))).all()
            found.update((ident, AlarmedObject(ident, name, type_name, True)) for ident, name, type_name in rows)
        return {ident: found.get(ident) or AlarmedObject(ident, name or ident, None, False)
                for ident, name in named.items()}

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

    def topology(self, session: Session) -> "Topology":
        """The containment and cabling graph, reloaded when the inventory has been written since (its write
        generation moved): one small query per batch while nothing changes. Its `neighbourhood(id)` are the
        resources whose failure explains a fault on that one, its `dependents(id)` those whose faults that one's
        failure explains."""
        generation = session.execute(select(CollectionCount.generation)
                                     .where(CollectionCount.name == "resource")).scalar()
        if self._graph is None or generation != self._graph_generation:
            rows = session.execute(
                select(ResourceRow.id, ResourceLinkRow.target_id, ResourceLinkRow.relationship_type)
                .join(ResourceRow, ResourceRow.seq == ResourceLinkRow.source_seq)
                .where(ResourceLinkRow.relationship_type.in_(PEER_RELATIONSHIPS | {CONTAINS}))).all()
            self._graph, self._graph_generation = Topology(rows), generation
            self._devices.clear()  # discovery may have changed what the devices have, too
        return self._graph


class Topology:
    """Links held in memory: who contains whom, who is cabled to whom."""

    def __init__(self, links):
        self.parent: dict[str, str] = {}
        self.children: dict[str, list[str]] = {}
        self.peers: dict[str, set[str]] = {}
        for source, target, kind in links:
            if kind == CONTAINS:
                self.parent.setdefault(target, source)
                self.children.setdefault(source, []).append(target)
            else:
                self.peers.setdefault(source, set()).add(target)
                self.peers.setdefault(target, set()).add(source)
        self._neighbourhoods: dict[str, frozenset[str]] = {}
        self._dependents: dict[str, frozenset[str]] = {}
        self._within: dict[str, frozenset[str]] = {}

    def containers(self, resource_id: str, max_depth: int = 16) -> list[str]:
        chain, current = [], resource_id
        while len(chain) < max_depth and (current := self.parent.get(current)) is not None and current not in chain:
            chain.append(current)
        return chain

    def descendants(self, resource_id: str, max_depth: int = 16) -> list[str]:
        found, frontier = [], [resource_id]
        for _ in range(max_depth):
            frontier = [child for parent in frontier for child in self.children.get(parent, ()) if child not in found]
            if not frontier:
                break
            found.extend(frontier)
        return found

    def within(self, resource_id: str) -> frozenset[str]:
        """The resource and everything it contains, transitively: what a fault on it takes down (a device's
        alarm concerns the services on its ports)."""
        cached = self._within.get(resource_id)
        if cached is None:
            cached = self._within[resource_id] = frozenset((resource_id, *self.descendants(resource_id)))
        return cached

    def neighbourhood(self, resource_id: str) -> frozenset[str]:
        cached = self._neighbourhoods.get(resource_id)
        if cached is None:
            found = set(self.containers(resource_id))
            for peer in self.peers.get(resource_id, ()):
                found.add(peer)
                found.update(self.containers(peer))
            found.discard(resource_id)
            cached = self._neighbourhoods[resource_id] = frozenset(found)
        return cached

    def dependents(self, resource_id: str) -> frozenset[str]:
        cached = self._dependents.get(resource_id)
        if cached is None:
            inside = self.descendants(resource_id)
            found = set(inside)
            for member in (resource_id, *inside):
                found.update(self.peers.get(member, ()))
            found.discard(resource_id)
            cached = self._dependents[resource_id] = frozenset(found)
        return cached


def _characteristic(doc: dict, name: str):
    for characteristic in doc.get("resourceCharacteristic") or ():
        if isinstance(characteristic, dict) and characteristic.get("name") == name:
            return characteristic.get("value")
    return None

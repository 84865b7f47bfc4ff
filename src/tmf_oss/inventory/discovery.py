"""Discovery into the inventory: what a device reports becomes TMF639 resources, reconciled pass after pass.

A device becomes a PhysicalResource, each interface a LogicalResource (category "interface") that the device
`contains` (resourceRelationship), with X.731 states from the interface's admin/oper status. Discovery *owns*
only what it reads from the device: the name, the states, the characteristics listed in DEVICE_OWNED /
INTERFACE_OWNED, and the `contains` links to the interfaces it found. Everything else (description, notes,
related parties, places, other characteristics or relationships) belongs to people and survives rediscovery.
Changes go through the collection like any API write (validation, events, optimistic concurrency), so a
rediscovery that finds nothing new writes nothing and emits nothing. An interface that disappears is marked
(operationalState disabled, discoveryState missing), never deleted. `discovered_resource` remembers which
resource stands for which discovered thing.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import orjson
from sqlalchemy import select

from tmf_oss.db.base import utcnow
from tmf_oss.inventory.model import DiscoveredResource
from tmf_oss.inventory.representation import characteristic_type
from tmf_oss.southbound.adapter import DeviceError, Discovery, Interface, PhysicalComponent
from tmf_oss.tmf.errors import TmfError

log = logging.getLogger("tmf_oss.discovery")

MERGE_PATCH = "application/merge-patch+json"
DEVICE_OWNED = {"managementAddress", "systemObjectId", "systemDescription", "systemLocation", "systemContact",
                "serialNumber", "modelName", "firmwareVersion", "softwareVersion", "discoveryState"}
COMPONENT_OWNED = {"entPhysicalIndex", "physicalClass", "entPhysicalDescr", "serialNumber", "modelName",
                   "firmwareVersion", "softwareVersion", "discoveryState"}
INTERFACE_OWNED = {"ifIndex", "ifName", "ifType", "ifDescr", "ifAlias", "mtu", "speedBps", "macAddress",
                   "adminStatus", "operStatus", "discoveryState"}
RUNNING = {"up", "dormant"}  # oper status values in which the interface can carry traffic
MAX_CONFLICT_RETRIES = 3


@dataclass
class SyncReport:
    device: str
    device_id: str = ""
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unchanged: int = 0


def device_key(address: str) -> str:
    return f"device:{address}"


def interface_key(address: str, interface: Interface) -> str:
    # ifName is stable across reboots where ifIndex may not be.
    return f"device:{address}/interface:{interface.name}"


def component_key(address: str, component: PhysicalComponent) -> str:
    return f"device:{address}/component:{component.index}"


def _characteristics(values: dict) -> list[dict]:
    return [{"name": name, "value": value, "@type": characteristic_type(value)}
            for name, value in values.items() if value not in (None, "")]


def chassis_of(found: Discovery) -> PhysicalComponent | None:
    """The ENTITY-MIB chassis at the top stands for the device itself."""
    return next((c for c in found.components if c.physical_class == "chassis" and not c.contained_in), None)


def device_document(found: Discovery) -> dict:
    identity = found.identity
    chassis = chassis_of(found) or PhysicalComponent(0, "", "", "chassis")
    return {
        "@type": "PhysicalResource",
        "name": identity.name,
        "operationalState": "enabled",
        "resourceCharacteristic": _characteristics({
            "managementAddress": found.address, "systemObjectId": identity.object_id,
            "systemDescription": identity.description, "systemLocation": identity.location,
            "systemContact": identity.contact, "serialNumber": chassis.serial_number,
            "modelName": chassis.model_name, "firmwareVersion": chassis.firmware,
            "softwareVersion": chassis.software, "discoveryState": "present"}),
    }


def component_document(found: Discovery, component: PhysicalComponent) -> dict:
    label = component.name or f"{component.physical_class} {component.index}"
    return {
        "@type": "PhysicalResource",
        "name": f"{found.identity.name}/{label}",
        "category": component.physical_class,
        "operationalState": "enabled",
        "resourceCharacteristic": _characteristics({
            "entPhysicalIndex": component.index, "physicalClass": component.physical_class,
            "entPhysicalDescr": component.description, "serialNumber": component.serial_number,
            "modelName": component.model_name, "firmwareVersion": component.firmware,
            "softwareVersion": component.software, "discoveryState": "present"}),
    }


def interface_document(found: Discovery, interface: Interface) -> dict:
    return {
        "@type": "LogicalResource",
        "name": f"{found.identity.name}/{interface.name}",
        "category": "interface",
        "operationalState": "enabled" if interface.oper_status in RUNNING else "disabled",
        "administrativeState": "unlocked" if interface.admin_status == "up" else "locked",
        "resourceCharacteristic": _characteristics({
            "ifIndex": interface.index, "ifName": interface.name, "ifType": interface.type,
            "ifDescr": interface.description, "ifAlias": interface.alias, "mtu": interface.mtu,
            "speedBps": interface.speed_bps, "macAddress": interface.mac_address,
            "adminStatus": interface.admin_status, "operStatus": interface.oper_status,
            "discoveryState": "present"}),
    }


def _contains(target_id: str, referred_type: str) -> dict:
    return {"@type": "ResourceRelationship", "relationshipType": "contains",
            "resource": {"@type": "ResourceRef", "id": target_id, "@referredType": referred_type}}


def owned_changes(current: dict, desired: dict, owned_characteristics: set[str]) -> dict:
    """The merge patch that makes `current` say what discovery found, touching nothing it does not own."""
    patch = {name: value for name, value in desired.items()
             if name not in ("resourceCharacteristic", "resourceRelationship") and current.get(name) != value}
    if "resourceCharacteristic" in desired:
        existing = current.get("resourceCharacteristic") or []
        kept = [c for c in existing if c.get("name") not in owned_characteristics]
        wanted = kept + desired["resourceCharacteristic"]
        if _by_name(existing) != _by_name(wanted):
            patch["resourceCharacteristic"] = wanted
    if "resourceRelationship" in desired:
        existing = current.get("resourceRelationship") or []
        if _relationships(existing) != _relationships(desired["resourceRelationship"]):
            patch["resourceRelationship"] = desired["resourceRelationship"]
    return patch


def _by_name(characteristics: list[dict]) -> dict:
    return {c.get("name"): (c.get("value"), c.get("@type")) for c in characteristics}


def _relationships(relationships: list[dict]) -> set:
    return {(r.get("relationshipType"), (r.get("resource") or {}).get("id")) for r in relationships}


class InventorySync:
    def __init__(self, platform, *, base_url: str):
        self.db = platform.db
        self.resources = platform.collection("tmf639", "resource")
        self.base_url = base_url

    def reconcile(self, found: Discovery) -> SyncReport:
        report = SyncReport(device=found.address)
        known = self._known(found.address)
        dev_key = device_key(found.address)
        device_id = self._upsert(dev_key, device_document(found), DEVICE_OWNED, known, report)
        report.device_id = device_id

        wanted = {interface_key(found.address, i): interface_document(found, i) for i in found.interfaces}
        chassis = chassis_of(found)
        components = [c for c in found.components if c is not chassis]
        owned = {key: INTERFACE_OWNED for key in wanted}
        for component in components:
            key = component_key(found.address, component)
            wanted[key], owned[key] = component_document(found, component), COMPONENT_OWNED
        new_keys = [key for key in wanted if key not in known]
        created = self.resources.create_many("v5", [wanted[key] for key in new_keys], base_url=self.base_url,
                                             correlation_id=None) if new_keys else []
        ids = {key: body["id"] for key, (body, _etag) in zip(new_keys, created)}
        report.created.extend(ids.values())
        for key, document in wanted.items():
            if key not in ids:
                ids[key] = self._upsert(key, document, owned[key], known, report)
        gone = {"operationalState": "disabled", "resourceCharacteristic": _characteristics({"discoveryState": "missing"})}
        for key, ident in known.items():
            if key == dev_key or key in wanted:
                continue
            try:
                if self._update(ident, gone, {"discoveryState"}):
                    report.missing.append(ident)
            except TmfError as exc:
                if exc.status != 404:
                    raise
                continue  # deleted by someone since: nothing left to mark
            ids.setdefault(key, ident)

        # Containment: a card contains its ports, the device everything at its top (and whatever went missing:
        # it was its part). Links people added (other types, other targets) are kept; links to what discovery
        # ever made for this device are discovery's, so one to a resource since deleted goes.
        ours = set(ids.values()) | set(known.values())
        by_index = {c.index: c for c in components}
        children: dict[str, list[str]] = {device_id: []}
        for key, ident in ids.items():
            if key == dev_key:
                continue
            parent = device_id
            component = by_index.get(int(key.rsplit(":", 1)[1])) if "/component:" in key else None
            if component is not None and component.contained_in in by_index:
                parent = ids[component_key(found.address, by_index[component.contained_in])]
            children.setdefault(parent, []).append(ident)
        referred = {ident: ("LogicalResource" if "/interface:" in key else "PhysicalResource")
                    for key, ident in ids.items()}
        for container, targets in children.items():
            self._sync_containment(container, targets, ours, referred)
        self._remember(found.address, ids | {dev_key: device_id}, present=set(wanted) | {dev_key})
        return report

    def link_neighbours(self, found: Discovery) -> int:
        """`connectedTo` from each interface to the neighbour's interface its device reports (LLDP), once the
        neighbour is in the inventory; the other end adds its own link when its device is reconciled. Returns
        the interfaces whose links changed."""
        known = self._known(found.address)
        changed = 0
        by_local: dict[str, list[str]] = {}
        for neighbour in found.neighbours:
            remote = self._named(f"{neighbour.remote_name}/{neighbour.remote_interface}")
            if remote is not None:
                by_local.setdefault(neighbour.local_interface, []).append(remote)
        for interface in found.interfaces:
            ident = known.get(interface_key(found.address, interface))
            if ident is None:
                continue
            links = [{"@type": "ResourceRelationship", "relationshipType": "connectedTo",
                      "resource": {"@type": "ResourceRef", "id": remote, "@referredType": "LogicalResource"}}
                     for remote in sorted(set(by_local.get(interface.name, [])))]

            def relationships(current: dict, links=links) -> dict:
                kept = [r for r in current.get("resourceRelationship") or []
                        if r.get("relationshipType") != "connectedTo"]
                return {"resourceRelationship": kept + links}

            changed += self._update(ident, relationships, set())
        return changed

    def _named(self, name: str) -> str | None:
        page = self.resources.list("v5", [("name", name), ("category", "interface")], base_url=self.base_url,
                                   offset=0, limit=2, sort=None, selection=None)
        found = orjson.loads(page.body)
        return found[0]["id"] if len(found) == 1 else None

    def _sync_containment(self, container: str, targets: list[str], ours: set[str], referred: dict) -> None:
        links = [_contains(ident, referred[ident]) for ident in sorted(targets)]

        def relationships(current: dict) -> dict:
            kept = [r for r in current.get("resourceRelationship") or []
                    if not (r.get("relationshipType") == "contains" and (r.get("resource") or {}).get("id") in ours)]
            return {"resourceRelationship": kept + links}

        self._update(container, relationships, set())

    # --- steps ----------------------------------------------------------------------------------------

    def _known(self, address: str) -> dict[str, str]:
        with self.db.reading() as session:
            rows = session.execute(select(DiscoveredResource.key, DiscoveredResource.resource_id)
                                   .where(DiscoveredResource.device_key == device_key(address))).all()
        return {key: ident for key, ident in rows}

    def _upsert(self, key: str, document: dict, owned: set[str], known: dict[str, str], report: SyncReport) -> str:
        ident = known.get(key)
        if ident is not None:
            try:
                if self._update(ident, document, owned):
                    report.updated.append(ident)
                else:
                    report.unchanged += 1
                return ident
            except TmfError as exc:
                if exc.status != 404:
                    raise  # 404: deleted by someone since, so discovery creates it again
        body, _etag = self.resources.create("v5", document, base_url=self.base_url, correlation_id=None)
        report.created.append(body["id"])
        return body["id"]

    def _update(self, ident: str, desired, owned: set[str]) -> bool:
        """Patch what differs, under If-Match: a concurrent edit by someone else is re-read, not overwritten.
        `desired` is the owned part of the document, or a function of the current document giving it."""
        for _attempt in range(MAX_CONFLICT_RETRIES):
            body, etag = self.resources.retrieve("v5", ident, base_url=self.base_url, selection=None)
            current = orjson.loads(body)
            patch = owned_changes(current, desired(current) if callable(desired) else desired, owned)
            if not patch:
                return False
            patch["@type"] = current["@type"]
            try:
                self.resources.patch("v5", ident, patch, content_type=MERGE_PATCH, if_match=etag,
                                     base_url=self.base_url, correlation_id=None)
                return True
            except TmfError as exc:
                if exc.status != 412:
                    raise
        raise TmfError(409, "Conflict", f"resource '{ident}' kept changing while discovery updated it")

    def _remember(self, address: str, ids: dict[str, str], *, present: set[str]) -> None:
        now = utcnow()
        with self.db.transaction() as session:
            rows = {row.key: row for row in session.execute(
                select(DiscoveredResource).where(DiscoveredResource.device_key == device_key(address))).scalars()}
            for key, ident in ids.items():
                row = rows.get(key)
                if row is None:
                    row = DiscoveredResource(key=key, device_key=device_key(address))
                    session.add(row)
                row.resource_id = ident
                row.present = key in present
                if row.present:
                    row.last_seen_at = now


@dataclass
class DeviceOutcome:
    address: str
    report: SyncReport | None = None
    error: str | None = None  # why the device could not be discovered; the inventory was left as it was


def discover_and_sync(platform, devices, *, base_url: str, max_concurrency: int = 64) -> list[DeviceOutcome]:
    """Discover every device (concurrently), then reconcile each into the inventory."""
    from tmf_oss.southbound.snmp import SnmpAdapter  # pysnmp loads only where discovery runs

    async def discover_all():
        adapter = SnmpAdapter(max_concurrency=max_concurrency)
        try:
            return await asyncio.gather(*(adapter.discover(device.target) for device in devices),
                                        return_exceptions=True)
        finally:
            adapter.close()

    sync = InventorySync(platform, base_url=base_url)
    outcomes = []
    discovered = []
    for device, found in zip(devices, asyncio.run(discover_all())):
        address = device.target.address
        if isinstance(found, DeviceError):
            log.error("discovery of %s failed: %s", address, found)
            outcomes.append(DeviceOutcome(address, error=found.reason))
        elif isinstance(found, BaseException):
            log.error("discovery of %s failed", address, exc_info=found)
            outcomes.append(DeviceOutcome(address, error=f"{type(found).__name__}: {found}"))
        else:
            outcomes.append(DeviceOutcome(address, report=sync.reconcile(found)))
            discovered.append(found)
    # Neighbours last, so a link to a device discovered later in this run is made now, not next time.
    for found in discovered:
        if found.neighbours:
            sync.link_neighbours(found)
    return outcomes

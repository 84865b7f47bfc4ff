"""From a service order to a plan of work: every item checked against the catalog and the inventories.

The same checks run when an order is created (a client gets every problem at once, as a 400 Error) and again when
the orchestrator starts it (the catalog or the inventory may have changed since: the order is then rejected).

Decisions:
- Every `serviceOrderItemRelationship` makes its item wait for the item it names, whatever its
  `relationshipType`: we know no relationship between items of one order that would not order them.
- Items are listed at the top level; nested `serviceOrderItem` (bundles) are refused with that advice.
- An order's items may not depend on another order's items.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tmf_oss.catalog.orderable import CatalogError, OrderableSpec, orderable_specs
from tmf_oss.inventory.model import DiscoveredResource, ResourceRow
from tmf_oss.ordering.lifecycle import items
from tmf_oss.tmf.errors import TmfError

SERVICE_ACTIONS_NEEDING_SERVICE = frozenset({"modify", "delete", "noChange"})


@dataclass(frozen=True)
class Endpoint:
    """A port an item's service runs on: a TMF639 interface resource of a managed device."""

    id: str
    name: str | None
    type: str
    device: str  # management address
    interface: str  # the device's name for it

    def reference(self) -> dict:
        return {"id": self.id, "name": self.name, "@type": "ResourceRef", "@referredType": self.type}

    def template_values(self) -> dict:
        return {"id": self.id, "name": self.name or self.interface, "interface": self.interface,
                "device": self.device}


@dataclass
class ItemPlan:
    id: str
    action: str
    depends_on: tuple[str, ...]
    spec: OrderableSpec | None = None
    values: dict[str, Any] = field(default_factory=dict)  # characteristics, typed, defaults applied
    endpoints: list[Endpoint] = field(default_factory=list)
    service: dict | None = None  # the existing service (modify, delete, noChange): {"id", **document}
    previous_values: dict[str, Any] = field(default_factory=dict)  # its characteristics before a modify
    previous_endpoints: list[Endpoint] = field(default_factory=list)  # the ports it ran on before
    requested_name: str | None = None  # service.name as the item gives it


@dataclass
class OrderPlan:
    items: dict[str, ItemPlan]

    def execution_order(self) -> list[str]:
        """Item ids, each after the items it depends on (validation guarantees there is no cycle)."""
        done: list[str] = []
        seen: set[str] = set()

        def visit(ident: str) -> None:
            if ident in seen:
                return
            seen.add(ident)
            for dependency in self.items[ident].depends_on:
                if dependency in self.items:  # not one that ended before (a resumed order)
                    visit(dependency)
            done.append(ident)

        for ident in self.items:
            visit(ident)
        return done


class InvalidOrder(TmfError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(400, "Invalid service order", "; ".join(problems))


def plan_order(session: Session, platform, order: dict, *, order_id: str | None = None,
               settled: frozenset[str] = frozenset()) -> OrderPlan:
    """The plan for `order`, or InvalidOrder listing every problem found. `settled`: items that have ended
    already (a resumed order): not planned again, and the items depending on them may go ahead."""
    problems: list[str] = []
    order_items = items(order)
    if not order_items:
        raise InvalidOrder(["a service order needs at least one serviceOrderItem"])
    order_items = [item for item in order_items if item.get("id") not in settled]
    plans: dict[str, ItemPlan] = {}
    for position, item in enumerate(order_items):
        ident = item.get("id")
        where = f"serviceOrderItem[{position}]"
        if not isinstance(ident, str) or not ident:
            problems.append(f"{where}: 'id' is required")
            continue
        if ident in plans:
            problems.append(f"{where}: item id '{ident}' is used by more than one item")
            continue
        if item.get("serviceOrderItem"):
            problems.append(f"item '{ident}': nested serviceOrderItem are not supported; list every item at the "
                            f"top level and order them with serviceOrderItemRelationship")
        plans[ident] = ItemPlan(ident, item.get("action"), _dependencies(item, order_id, problems))
    for plan in plans.values():
        for dependency in plan.depends_on:
            if dependency not in plans and dependency not in settled:
                problems.append(f"item '{plan.id}': serviceOrderItemRelationship names item '{dependency}', which "
                                f"is not in this order")
    cycle = _cycle(plans)
    if cycle:
        problems.append("serviceOrderItemRelationship forms a cycle: " + " -> ".join(cycle))
    _check_services(session, platform, order_items, plans, problems)
    if problems:
        raise InvalidOrder(problems)
    return OrderPlan(plans)


def _dependencies(item: dict, order_id: str | None, problems: list[str]) -> tuple[str, ...]:
    found = []
    for relationship in item.get("serviceOrderItemRelationship") or ():
        target = relationship.get("orderItem") if isinstance(relationship, dict) else None
        if not isinstance(target, dict):
            problems.append(f"item '{item.get('id')}': a serviceOrderItemRelationship needs 'orderItem'")
            continue
        other_order = target.get("serviceOrderId")
        if other_order and order_id and other_order != order_id:
            problems.append(f"item '{item.get('id')}': depends on an item of another order ('{other_order}'); "
                            f"items can only depend on items of the same order")
            continue
        name = target.get("itemId") or target.get("id")
        if not name:
            problems.append(f"item '{item.get('id')}': serviceOrderItemRelationship.orderItem needs 'itemId'")
            continue
        found.append(str(name))
    return tuple(found)


def _cycle(plans: dict[str, ItemPlan]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 visiting, 2 done
    path: list[str] = []

    def visit(ident: str) -> list[str] | None:
        state[ident] = 1
        path.append(ident)
        for dependency in plans[ident].depends_on:
            if dependency not in plans:
                continue
            if state.get(dependency) == 1:
                return path[path.index(dependency):] + [dependency]
            if dependency not in state:
                found = visit(dependency)
                if found:
                    return found
        path.pop()
        state[ident] = 2
        return None

    for ident in plans:
        if ident not in state:
            found = visit(ident)
            if found:
                return found
    return None


def _check_services(session: Session, platform, order_items: list[dict], plans: dict[str, ItemPlan],
                    problems: list[str]) -> None:
    services = _existing_services(session, platform, order_items)
    spec_ids = set()
    for item in order_items:
        service = item.get("service") if isinstance(item.get("service"), dict) else {}
        spec_ref = service.get("serviceSpecification")
        if isinstance(spec_ref, dict) and spec_ref.get("id"):
            spec_ids.add(spec_ref["id"])
        existing = services.get(service.get("id"))
        if existing is not None:
            existing_spec = (existing.get("serviceSpecification") or {}).get("id")
            if existing_spec:
                spec_ids.add(existing_spec)
    specs = orderable_specs(session, spec_ids)
    endpoint_ids = {ref.get("id") for item in order_items
                    for ref in ((item.get("service") or {}).get("supportingResource") or ()) if isinstance(ref, dict)}
    endpoint_ids |= {ref.get("id") for service in services.values()
                     for ref in service.get("supportingResource") or () if isinstance(ref, dict)}
    endpoints = _endpoints(session, {ident for ident in endpoint_ids if ident})
    used_services: dict[str, str] = {}
    for item in order_items:
        plan = plans.get(item.get("id"))
        if plan is None:
            continue
        _check_item(item, plan, services, specs, endpoints, used_services, problems)


def _check_item(item: dict, plan: ItemPlan, services: dict, specs: dict, endpoints: dict,
                used_services: dict, problems: list[str]) -> None:
    where = f"item '{plan.id}'"
    service = item.get("service")
    if not isinstance(service, dict):
        problems.append(f"{where}: 'service' is required")
        return
    service_id = service.get("id")
    existing = services.get(service_id) if service_id else None
    if service_id:
        if service_id in used_services:
            problems.append(f"{where}: service '{service_id}' is already changed by item "
                            f"'{used_services[service_id]}' of this order")
        used_services[service_id] = plan.id
    if plan.action == "add":
        if existing is not None:
            problems.append(f"{where}: action 'add' names service '{service_id}', which already exists; use "
                            f"'modify' to change it")
            return
    elif plan.action in SERVICE_ACTIONS_NEEDING_SERVICE:
        if not service_id:
            problems.append(f"{where}: action '{plan.action}' needs the id of an existing service in service.id")
            return
        if existing is None:
            problems.append(f"{where}: action '{plan.action}' names service '{service_id}', which is not in the "
                            f"service inventory")
            return
        if existing.get("state") == "terminated":
            problems.append(f"{where}: service '{service_id}' is terminated")
            return
        plan.service = existing
    else:
        problems.append(f"{where}: unknown action '{plan.action}'")
        return
    spec_ref = service.get("serviceSpecification")
    spec_id = spec_ref.get("id") if isinstance(spec_ref, dict) else None
    existing_spec = ((existing or {}).get("serviceSpecification") or {}).get("id")
    if existing_spec and spec_id and spec_id != existing_spec:
        problems.append(f"{where}: service '{service_id}' is a '{existing_spec}', not a '{spec_id}'; a service "
                        f"cannot change its specification")
        return
    spec_id = spec_id or existing_spec
    if not spec_id:
        problems.append(f"{where}: service.serviceSpecification.id is required to {plan.action} a service")
        return
    spec = specs.get(spec_id)
    if spec is None:
        problems.append(f"{where}: service specification '{spec_id}' is not in the service catalog")
        return
    if plan.action == "add" and not spec.orderable:
        problems.append(f"{where}: service specification '{spec_id}' cannot be ordered (lifecycleStatus "
                        f"'{spec.lifecycle_status}')")
        return
    plan.spec = spec
    plan.requested_name = service.get("name") if isinstance(service.get("name"), str) else None
    if existing is not None:
        plan.previous_values, _ = spec.check(existing.get("serviceCharacteristic"))
        plan.previous_endpoints = [endpoints[ref["id"]] for ref in existing.get("supportingResource") or ()
                                   if isinstance(ref, dict) and ref.get("id") in endpoints]
    given = service.get("serviceCharacteristic")
    if plan.action == "modify":
        given = _merged(existing.get("serviceCharacteristic"), given)
    elif plan.action != "add":
        given = existing.get("serviceCharacteristic")
    values, found = spec.check(given)
    problems.extend(f"{where}: {problem}" for problem in found)
    plan.values = values
    refs = service.get("supportingResource")
    from_service = plan.action != "add" and not refs
    if from_service:  # the ports it runs on now, among the resources an earlier order made for it
        refs = existing.get("supportingResource")
    plan.endpoints = _item_endpoints(where, spec, refs, endpoints, problems, from_service)


def _merged(existing: list | None, given: list | None) -> list:
    by_name = {entry.get("name"): entry for entry in existing or () if isinstance(entry, dict)}
    for entry in given or ():
        if isinstance(entry, dict):
            by_name[entry.get("name")] = entry
    return list(by_name.values())


def _item_endpoints(where: str, spec: OrderableSpec, refs, endpoints: dict, problems: list[str],
                    from_service: bool) -> list[Endpoint]:
    refs = [ref for ref in refs or () if isinstance(ref, dict)]
    rule = spec.endpoints
    found = []
    for ref in refs:
        ident = ref.get("id")
        endpoint = endpoints.get(ident)
        if endpoint is None:
            if from_service:
                continue  # resources an order made for the service (its VLAN sub-interfaces), not ports
            problems.append(f"{where}: supportingResource '{ident}' is not an interface of a managed device in "
                            f"the resource inventory")
            continue
        if rule.resource_types and endpoint.type not in rule.resource_types:
            problems.append(f"{where}: supportingResource '{ident}' is a {endpoint.type}; "
                            f"'{spec.id}' runs on {', '.join(rule.resource_types)}")
            continue
        found.append(endpoint)
    if not rule.minimum <= len(found) <= rule.maximum:
        wanted = str(rule.minimum) if rule.minimum == rule.maximum else f"{rule.minimum} to {rule.maximum}"
        problems.append(f"{where}: '{spec.id}' needs {wanted} supportingResource (ports), got {len(found)}")
    devices_ports = [(endpoint.device, endpoint.interface) for endpoint in found]
    if len(set(devices_ports)) != len(devices_ports):
        problems.append(f"{where}: the same port is named twice in supportingResource")
    return found


def _existing_services(session: Session, platform, order_items: list[dict]) -> dict[str, dict]:
    ids = {(item.get("service") or {}).get("id") for item in order_items if isinstance(item.get("service"), dict)}
    ids.discard(None)
    if not ids:
        return {}
    model = platform.collection("tmf638", "service").spec.model
    rows = session.execute(select(model.id, model.doc).where(model.id.in_(ids)))
    return {ident: {"id": ident, **doc} for ident, doc in rows}


def _endpoints(session: Session, resource_ids: set[str]) -> dict[str, Endpoint]:
    if not resource_ids:
        return {}
    rows = session.execute(
        select(DiscoveredResource.key, ResourceRow.id, ResourceRow.name, ResourceRow.type)
        .join(ResourceRow, ResourceRow.id == DiscoveredResource.resource_id)
        .where(DiscoveredResource.resource_id.in_(resource_ids), DiscoveredResource.key.like("%/interface:%")))
    found = {}
    for key, ident, name, type_name in rows:
        device, _, interface = key.removeprefix("device:").partition("/interface:")
        found[ident] = Endpoint(ident, name, type_name, device, interface)
    return found


__all__ = ["CatalogError", "Endpoint", "InvalidOrder", "ItemPlan", "OrderPlan", "plan_order"]

"""What a delivered item leaves in the inventories: the TMF639 resources it configured and the TMF638 service.

Runs inside the transaction that marks the item completed, so the order and the inventories never disagree.
Each item's effects are kept (`order_item_result`) so that cancelling the order can take them back.

- add: one set of resources per port, from the catalog's resource templates; a new service, `active`, supported
  by the ports and those resources, naming the order item that made it.
- modify: the service gets its new characteristics and ports; the resources it had are replaced by new ones.
- delete: the service is `terminated` (kept, with its end date, so history and alarms can still name it); the
  resources it had are deleted.
"""
from __future__ import annotations

import copy
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from tmf_oss.ordering.model import OrderItemResult
from tmf_oss.ordering.plan import ItemPlan
from tmf_oss.tmf.collection import RowUpdate, now_text

CHARACTERISTIC_TYPES = {bool: "BooleanCharacteristic", int: "IntegerCharacteristic", float: "FloatCharacteristic",
                        str: "StringCharacteristic"}
VALUE_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def new_service_identity(plan: ItemPlan, order_id: str) -> dict:
    """id and name of the service an `add` item creates (names are the client's, or made up from the order)."""
    return {"id": str(uuid.uuid4()), "name": plan.requested_name or f"{plan.spec.name} ({order_id}/{plan.id})"}


class InventoryRecorder:
    def __init__(self, platform, base_url: str):
        self.resources = platform.collection("tmf639", "resource")
        self.services = platform.collection("tmf638", "service")
        self.base_url = base_url

    def service_href(self, ident: str) -> str:
        version = next(iter(self.services.versions))
        return self.services.href(self.services.served(version), self.base_url, ident)

    def record(self, session: Session, plan: ItemPlan, service: dict, order_id: str,
               correlation_id: str | None, *, fresh: bool = False, keep: bool = True) -> dict:
        """Write the item's effects; returns them. `keep`: keep them for undoing (`order_item_result`), which
        the caller does not need when the order ends in this transaction. `fresh`: the service's id was just made
        up, so no service has it yet (nothing to look up)."""
        effects = {"service": service["id"], "action": plan.action, "created_resources": [],
                   "removed_resources": [], "previous_service": None}
        existing = None if fresh else self._service_row(session, service["id"])
        if existing is not None:
            effects["previous_service"] = existing.doc
        if plan.action in ("modify", "delete"):
            for ident in self._owned_resources(plan, existing.doc if existing else {}):
                removed = self.resources.remove(session, ident, base_url=self.base_url, correlation_id=correlation_id)
                if removed is not None:
                    effects["removed_resources"].append({"id": ident, "doc": removed})
        created_refs = []
        if plan.action in ("add", "modify"):
            prepared = []
            for endpoint in plan.endpoints:
                context = {"service": {"id": service["id"], "name": service["name"]},
                           "characteristic": plan.values, "endpoint": endpoint.template_values()}
                prepared.extend(self.resources.prepare("v5", payload)
                                for payload in plan.spec.render_resources(context))
            if prepared:  # all of them in one statement
                self.resources.insert(session, prepared, base_url=self.base_url, correlation_id=correlation_id)
            for ident, canonical in prepared:
                effects["created_resources"].append(ident)
                created_refs.append({"id": ident, "name": canonical.get("name"), "@type": "ResourceRef",
                                     "@referredType": canonical.get("@type")})
        now = now_text()
        related = {"serviceOrderId": order_id, "itemId": plan.id, "itemAction": plan.action,
                   "@type": "RelatedServiceOrderItem"}
        if plan.action == "add":
            doc = {"@type": "Service", "name": service["name"], "state": "active", "serviceDate": now,
                   "startDate": now, "isServiceEnabled": True, "hasStarted": True,
                   "serviceSpecification": self._spec_ref(plan),
                   "serviceCharacteristic": characteristics(plan.values),
                   "supportingResource": [endpoint.reference() for endpoint in plan.endpoints] + created_refs,
                   "serviceOrderItem": [related]}
            self.services.insert(session, [(service["id"], doc)], base_url=self.base_url,
                                 correlation_id=correlation_id)
        elif existing is not None and plan.action in ("modify", "delete"):
            doc = copy.deepcopy(existing.doc)
            doc["serviceOrderItem"] = [*(doc.get("serviceOrderItem") or []), related]
            if plan.action == "modify":
                doc["serviceCharacteristic"] = characteristics(plan.values)
                doc["supportingResource"] = [endpoint.reference() for endpoint in plan.endpoints] + created_refs
            else:
                doc["state"] = "terminated"
                doc["endDate"] = now
                doc["isServiceEnabled"] = False
                doc["supportingResource"] = [endpoint.reference() for endpoint in plan.previous_endpoints]
            self.services.update_rows(session, [RowUpdate(existing.seq, existing.id, existing.version, existing.doc,
                                                          doc)], base_url=self.base_url,
                                      correlation_id=correlation_id)
        if keep:
            session.add(OrderItemResult(order_id=order_id, item_id=plan.id, effects=effects))
        return effects

    def undo(self, session: Session, order_id: str, correlation_id: str | None) -> None:
        """Take back the inventory effects of every completed item of the order, newest first."""
        results = session.execute(select(OrderItemResult).where(OrderItemResult.order_id == order_id)
                                  .order_by(OrderItemResult.seq.desc())).scalars().all()
        for result in results:
            effects = result.effects
            for ident in effects["created_resources"]:
                self.resources.remove(session, ident, base_url=self.base_url, correlation_id=correlation_id)
            for removed in effects["removed_resources"]:
                self.resources.insert(session, [(removed["id"], removed["doc"])], base_url=self.base_url,
                                      correlation_id=correlation_id)
            row = self._service_row(session, effects["service"])
            if effects["previous_service"] is None:
                if row is not None:
                    self.services.remove(session, row.id, base_url=self.base_url, correlation_id=correlation_id)
            elif row is not None:
                self.services.update_rows(session, [RowUpdate(row.seq, row.id, row.version, row.doc,
                                                              effects["previous_service"])],
                                          base_url=self.base_url, correlation_id=correlation_id)
            session.delete(result)

    def _service_row(self, session: Session, ident: str):
        model = self.services.spec.model
        return session.execute(select(model).where(model.id == ident)).scalar_one_or_none()

    @staticmethod
    def _owned_resources(plan: ItemPlan, service: dict) -> list[str]:
        """The service's supporting resources that are not the ports it runs on: the ones an order made."""
        ports = {endpoint.id for endpoint in plan.previous_endpoints} | {endpoint.id for endpoint in plan.endpoints}
        return [ref["id"] for ref in service.get("supportingResource") or ()
                if isinstance(ref, dict) and ref.get("id") and ref["id"] not in ports]

    @staticmethod
    def _spec_ref(plan: ItemPlan) -> dict:
        ref = {"id": plan.spec.id, "name": plan.spec.name, "@type": "ServiceSpecificationRef"}
        if plan.spec.version:
            ref["version"] = plan.spec.version
        return ref


def characteristics(values: dict) -> list[dict]:
    return [{"name": name, "value": value, "valueType": VALUE_TYPES.get(type(value), "object"),
             "@type": CHARACTERISTIC_TYPES.get(type(value), "ObjectCharacteristic")}
            for name, value in values.items() if value is not None]

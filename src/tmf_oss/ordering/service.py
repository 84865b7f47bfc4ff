"""The TMF641 service order collection: what is specific to orders, on top of the shared machinery."""
from __future__ import annotations

import copy
from dataclasses import replace

from sqlalchemy.orm import Session

from tmf_oss.ordering import lifecycle
from tmf_oss.ordering.model import ServiceOrderRow
from tmf_oss.ordering.plan import plan_order
from tmf_oss.ordering.signals import announce
from tmf_oss.tmf.collection import EntitySpec, WriteContext
from tmf_oss.tmf.polymorphism import TypeFamily
from tmf_oss.tmf.versions import VersionView

SERVICE_ORDER = EntitySpec(
    name="serviceOrder",
    api="tmf641",
    model=ServiceOrderRow,
    family=TypeFamily(base="ServiceOrder", known=frozenset({"ServiceOrder"})),
    event_prefix="ServiceOrder",
    columns={"state": "state", "externalId": "external_id", "priority": "priority", "category": "category",
             "orderDate": "order_date"},
    # The dates that move with the state are part of its change: one ServiceOrderStateChangeEvent, not two events.
    state_fields=frozenset({"state", "startDate", "completionDate", "cancellationDate"}),
    # What ServiceOrder_Update leaves out is the server's (or, for category and the cancellation members, fixed
    # once the order is created).
    server_owned=frozenset({"orderDate", "startDate", "completionDate", "errorMessage", "jeopardyAlert",
                            "milestone"}),
    fixed=frozenset({"category", "cancellationDate", "cancellationReason"}),
    on_create=lifecycle.on_create,
    on_update=lifecycle.on_update,
    on_delete=lifecycle.on_delete,
    rendered_columns={"v4": "body"},
    derived_columns=lifecycle.derived_columns,
)


def _with_item_types(order: dict) -> dict:
    order = copy.deepcopy(order)
    order.setdefault("@type", "ServiceOrder")
    for item in lifecycle.items(order):
        item.setdefault("@type", "ServiceOrderItem")
    return order


V4_VIEW = VersionView("v4", _with_item_types)


def bind(platform, spec: EntitySpec) -> EntitySpec:
    """Creation and item changes are checked against the catalog and the inventories (ordering.plan)."""

    def on_insert(session: Session, order: dict, _context: WriteContext) -> None:
        plan_order(session, platform, order)
        announce(session)

    def on_patch(session: Session, previous: dict, order: dict, _context: WriteContext) -> None:
        if order.get("serviceOrderItem") != previous.get("serviceOrderItem"):
            plan_order(session, platform, order)
        if previous.get("state") == "held" and order.get("state") != "held" or \
                order.get("requestedStartDate") != previous.get("requestedStartDate"):
            announce(session)

    return replace(spec, on_insert=on_insert, on_patch=on_patch)

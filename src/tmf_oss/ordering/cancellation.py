"""The cancelServiceOrder task: asks for an order to be stopped and what it did undone.

Creating the task checks that the order can still be cancelled (it has not ended and is not already being
cancelled: 409 otherwise, with the reason), moves the order to `assessingCancellation` and records the reason,
all in the task's transaction, then wakes the orchestrator. The orchestrator (or the worker already running the
order, at its next step) takes the order to `pendingCancellation`, undoes on the devices and in the inventories
what the order's items did, and ends with the order `cancelled` and the task `done` — or, when something cannot
be undone, the order `failed` and the task `terminatedWithError` with the reason. A requested cancellation date
is recorded; the cancellation is carried out at once.
"""
from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from tmf_oss.db.locking import locked
from tmf_oss.ordering import lifecycle
from tmf_oss.ordering.model import CancelServiceOrderRow, ServiceOrderRow
from tmf_oss.ordering.signals import announce
from tmf_oss.tmf.collection import EntitySpec, RowUpdate, WriteContext
from tmf_oss.tmf.errors import TmfError, bad_request
from tmf_oss.tmf.polymorphism import TypeFamily

CANCEL_SERVICE_ORDER = EntitySpec(
    name="cancelServiceOrder",
    api="tmf641",
    model=CancelServiceOrderRow,
    family=TypeFamily(base="CancelServiceOrder", known=frozenset({"CancelServiceOrder"})),
    event_prefix="CancelServiceOrder",
    columns={"state": "state"},
    # What the task's end fills in goes out with its state change: TMF641 has no attribute-change event for it.
    state_fields=frozenset({"state", "effectiveCancellationDate", "completionMessage", "errorMessage"}),
    server_owned=frozenset({"state", "effectiveCancellationDate", "completionMessage", "errorMessage"}),
    derived_columns=lambda task: {"order_id": (task.get("serviceOrder") or {}).get("id")},
)


def bind(platform, spec: EntitySpec) -> EntitySpec:
    def on_insert(session: Session, task: dict, context: WriteContext) -> None:
        reference = task.get("serviceOrder")
        ident = reference.get("id") if isinstance(reference, dict) else None
        if not ident:
            raise bad_request("'serviceOrder.id' names the order to cancel", reason="Invalid cancellation")
        row = locked(session, ServiceOrderRow, id=ident)
        if row is None:
            raise bad_request(f"service order '{ident}' does not exist", reason="Invalid cancellation")
        state = row.doc.get("state")
        if state in lifecycle.CANCELLING:
            raise TmfError(409, "Already cancelling", f"service order '{ident}' is already being cancelled")
        if state not in lifecycle.CANCELLABLE:
            raise TmfError(409, "Cannot cancel", f"service order '{ident}' is '{state}': it has ended, there is "
                                                 f"nothing left to cancel")
        order = dict(row.doc)
        order["state"] = "assessingCancellation"
        if task.get("cancellationReason"):
            order["cancellationReason"] = task["cancellationReason"]
        orders = platform.collection("tmf641", "serviceOrder")
        orders.update_rows(session, [RowUpdate(row.seq, row.id, row.version, row.doc, order)],
                           base_url=context.base_url, correlation_id=context.correlation_id)
        reference.setdefault("@referredType", "ServiceOrder")
        reference.setdefault("href", orders.href(orders.served("v4"), context.base_url, ident))
        task["state"] = "inProgress"
        announce(session)

    return replace(spec, on_insert=on_insert)

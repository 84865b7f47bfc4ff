"""The service order life-cycle: who may move an order (or item) from which state to which.

The server owns the life-cycle. An order is `acknowledged` when created; the orchestrator takes it to
`inProgress` and then to `completed`, `failed` (no item delivered) or `partial` (some delivered, some failed), or
to `rejected` when it no longer holds when its turn comes. Cancellation goes through the cancelServiceOrder task:
`assessingCancellation` -> `pendingCancellation` -> `cancelled`. Items follow the same states.

A client may hold an order that has not started (`acknowledged`/`pending` -> `held`) and release it again
(`held` -> `acknowledged`); any other state change by PATCH is refused with the reason. Items, the requested
start date and the dependencies can only change before the order starts; notes are only ever added.
"""
from __future__ import annotations

from datetime import datetime

from tmf_oss.db.base import utcnow
from tmf_oss.tmf.collection import now_text
from tmf_oss.tmf.errors import TmfError
from tmf_oss.tmf.query import parse_instant

FINAL = frozenset({"completed", "failed", "partial", "rejected", "cancelled"})
NOT_STARTED = frozenset({"acknowledged", "pending", "held"})
CANCELLING = frozenset({"assessingCancellation", "pendingCancellation"})
CANCELLABLE = NOT_STARTED | {"inProgress"}
# (from, to) moves a client may ask for with PATCH
CLIENT_MOVES = frozenset({("acknowledged", "held"), ("pending", "held"), ("held", "acknowledged")})
# Only before the order starts: what the orchestrator plans its work from.
PLANNED_MEMBERS = ("serviceOrderItem", "requestedStartDate")


class OrderStateError(TmfError):
    def __init__(self, message: str):
        super().__init__(409, "Illegal state change", message)


def items(order: dict) -> list[dict]:
    return [item for item in order.get("serviceOrderItem") or () if isinstance(item, dict)]


def on_create(order: dict) -> None:
    now = now_text()
    order["state"] = "acknowledged"
    order["orderDate"] = now
    order.setdefault("@type", "ServiceOrder")
    for item in items(order):
        item["state"] = "acknowledged"
        item.setdefault("@type", "ServiceOrderItem")


def on_update(previous: dict, order: dict) -> None:
    """A client's PATCH, checked against the life-cycle (the database-dependent checks come after)."""
    before, after = previous.get("state"), order.get("state")
    if after != before:
        if after == "cancelled" or after in CANCELLING:
            raise OrderStateError("an order is cancelled by creating a cancelServiceOrder task, not by PATCH")
        if (before, after) not in CLIENT_MOVES:
            raise OrderStateError(
                f"state cannot change from '{before}' to '{after}': a client may only hold an order that has not "
                f"started (acknowledged or pending -> held) and release it (held -> acknowledged); the rest of "
                f"the life-cycle is the server's")
    if before not in NOT_STARTED:
        for member in PLANNED_MEMBERS:
            if order.get(member) != previous.get(member):
                raise OrderStateError(f"'{member}' can only change before the order starts (it is '{before}')")
    else:
        _keep_item_states(previous, order)
    kept = previous.get("note") or []
    if (order.get("note") or [])[: len(kept)] != kept:
        raise TmfError(409, "Notes are kept", "notes can be added to an order, not changed or removed")


def _keep_item_states(previous: dict, order: dict) -> None:
    """Item states are the server's: a client's rewrite of the items keeps them (new items start acknowledged)."""
    states = {item.get("id"): item.get("state") for item in items(previous)}
    for item in items(order):
        wanted = states.get(item.get("id"), "acknowledged")
        if item.get("state") not in (None, wanted):
            raise OrderStateError(f"the state of item '{item.get('id')}' is set by the server, not by PATCH")
        item["state"] = wanted
        item.setdefault("@type", "ServiceOrderItem")


def on_delete(order: dict) -> None:
    state = order.get("state")
    if state not in FINAL | NOT_STARTED:
        raise OrderStateError(f"an order that is '{state}' cannot be deleted: cancel it (cancelServiceOrder) or "
                              f"wait until it ends")


def derived_columns(order: dict) -> dict:
    """When the orchestrator may start the order: its requested start date, or at once."""
    return {"ready_at": _instant(order.get("requestedStartDate")) or _instant(order.get("orderDate")) or utcnow()}


def _instant(text) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return parse_instant(text)
    except ValueError:
        return None


def final_state(item_states: list[str]) -> str:
    """The order's state once every item has ended."""
    if all(state == "completed" for state in item_states):
        return "completed"
    if any(state == "completed" for state in item_states):
        return "partial"
    return "failed"

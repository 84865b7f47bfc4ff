"""The orchestrator: takes service orders from `acknowledged` to `completed`, on the devices and in the inventories.

It wakes when an order needs it — a commit in this process, NOTIFY from others on PostgreSQL — and otherwise
only every few seconds, for orders whose requested start date has come and for leases that lapsed. An order is
*claimed* with one UPDATE that sets a lease (owner, expiry) on it, over `FOR UPDATE SKIP LOCKED` candidates on
PostgreSQL, so several workers never work on one order; the lease is renewed while the worker works, and every
write the worker makes checks it still holds it. A worker that dies loses its orders when their leases lapse;
the next worker resumes them: finished items stay finished, the item that was running is rolled back on its
devices from the journal and run again. Claims come in batches (the orders wait in the pool's queue), with the
orders' documents; what is planned from one is only written if the order is still that version. The writes of
the orders under way share transactions (ordering/group_commit.py).

Per order: the plan is made again (the catalog or the inventories may have changed since the order was
accepted: `rejected` if it no longer holds); items run in dependency order, each: `inProgress`, device changes
(ordering/activation.py; a refusal rolls back that item's devices and fails it), then in one transaction the
inventory records (ordering/records.py), the item `completed` and a milestone. Items whose dependencies failed
fail without running. The order ends `completed`, `partial` or `failed`. Between items the worker looks for a
cancellation request, and then undoes everything the order did (devices from the journal, inventories from the
item results) and ends it `cancelled`. An order still running past its requested completion date gets a
jeopardy alert, once.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Callable

import orjson
from sqlalchemy import delete, or_, select as sql_select, update

from tmf_oss.catalog.orderable import CatalogError
from tmf_oss.db.base import utcnow
from tmf_oss.db.notifications import listen
from tmf_oss.events.outbox import wake_up
from tmf_oss.ordering import lifecycle
from tmf_oss.ordering.activation import Activator, DeviceDirectory, device_work
from tmf_oss.ordering.group_commit import GroupCommit
from tmf_oss.ordering.model import CancelServiceOrderRow, OrderDeviceChange, OrderItemResult, ServiceOrderRow
from tmf_oss.ordering.plan import InvalidOrder, ItemPlan, plan_order
from tmf_oss.ordering.records import InventoryRecorder, new_service_identity
from tmf_oss.ordering.signals import ORDERS_CHANNEL, orders_waiting
from tmf_oss.southbound.adapter import DeviceError
from tmf_oss.southbound.netconf import NetconfAdapter
from tmf_oss.southbound.netconf_sessions import NetconfSessions
from tmf_oss.tmf.collection import RowUpdate, now_text

log = logging.getLogger("tmf_oss.ordering")

WORKABLE = ("acknowledged", "pending", "inProgress", "assessingCancellation", "pendingCancellation")
ITEM_ENDED = frozenset({"completed", "failed", "cancelled", "rejected"})
POSTGRES_POLL_SECONDS = 5.0
SQLITE_POLL_SECONDS = 1.0
RETRY_AFTER_ERROR_SECONDS = 30.0


class LeaseLost(Exception):
    """Another worker has the order now: stop without writing anything more."""


class OrderChanged(Exception):
    """The order changed (a client held it, changed its items, asked to cancel it) between the read the worker
    planned from and its first write: nothing was written; the work starts again from the order as it is now."""


class Orchestrator:
    def __init__(self, platform, settings=None, *, owner: str | None = None, sessions: NetconfSessions | None = None):
        settings = settings or platform.settings
        self.platform = platform
        self.db = platform.db
        self.orders = platform.collection("tmf641", "serviceOrder")
        self.cancellations = platform.collection("tmf641", "cancelServiceOrder")
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.concurrency = max(1, settings.order_concurrency)
        self.lease = timedelta(seconds=settings.order_lease_seconds)
        self.interval = POSTGRES_POLL_SECONDS if self.db.dialect == "postgresql" else SQLITE_POLL_SECONDS
        self.base_url = settings.public_base_url or f"http://{settings.host}:{settings.port}"
        self.sessions = sessions or NetconfSessions(
            NetconfAdapter(known_hosts=settings.netconf_known_hosts or None),
            lock_wait=settings.device_lock_wait_seconds)
        # The order writes and device journals of all the orders under way, grouped into shared transactions.
        self.writes = GroupCommit(self.db)
        self.activator = Activator(self.db, DeviceDirectory(settings.devices_file or None), self.sessions,
                                   writes=self.writes)
        self.records = InventoryRecorder(platform, self.base_url)
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="tmf-oss-order")
        self._active: set[str] = set()
        self._claimed: dict[str, tuple[dict, int]] = {}  # order id -> (document, version) as claimed
        self._expected: dict[str, int] = {}  # order id -> the version its work was planned from, until it writes
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._next_renewal = 0.0

    # --- running ---------------------------------------------------------------------------------------

    def start(self) -> "Orchestrator":
        self._threads.append(threading.Thread(target=self._run, name="tmf-oss-orchestrator", daemon=True))
        if self.db.dialect == "postgresql":
            self._threads.append(threading.Thread(target=self._listen, name="tmf-oss-order-notify", daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        orders_waiting.notify()
        for thread in self._threads:
            thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.activator.close()
        self.sessions.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._renew_leases()
                with self._lock:
                    held = len(self._active)
                # Claims come in batches: once no claimed order waits for a thread (at most `concurrency` held),
                # up to `concurrency` more are claimed, to wait in the pool's queue. Under load that is one
                # claim for several orders, and a thread that ends an order finds the next one waiting.
                if held <= self.concurrency:
                    for order_id in self.claim(2 * self.concurrency - held):
                        with self._lock:
                            self._active.add(order_id)
                        self._pool.submit(self._process, order_id)
            except Exception:  # keep going through a database restart
                log.exception("claiming service orders failed")
            orders_waiting.wait(self.interval)

    def _listen(self) -> None:
        """NOTIFY from other processes (API workers) wakes the loop at once."""
        listen(self.db, ORDERS_CHANNEL, orders_waiting.notify, self._stop)

    def claim(self, limit: int) -> list[str]:
        """Lease up to `limit` orders that need work and nobody holds. Their documents come back with the claim
        (kept for `_work`, which need not read them again)."""
        claimed = self._claim(limit)
        with self._lock:
            self._claimed.update((ident, (doc, version)) for _, ident, doc, version in claimed)
        return [ident for _, ident, _, _ in claimed]

    def _claim(self, limit: int) -> list[tuple]:
        """(seq, id, document, version) of the orders leased, oldest first."""
        now = utcnow()
        table = ServiceOrderRow
        candidates = (sql_select(table.seq)
                      .where(table.state.in_(WORKABLE),
                             or_(table.ready_at <= now, table.state.in_(lifecycle.CANCELLING)),
                             or_(table.lease_until.is_(None), table.lease_until < now))
                      .order_by(table.seq).limit(limit))
        if self.db.dialect == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        with self.db.transaction() as session:
            return sorted(session.connection().execute(
                update(table).where(table.seq.in_(candidates.scalar_subquery()))
                .values(lease_owner=self.owner, lease_until=now + self.lease)
                .returning(table.seq, table.id, table.doc, table.version)).all())

    def _renew_leases(self) -> None:
        if time.monotonic() < self._next_renewal:
            return
        self._next_renewal = time.monotonic() + self.lease.total_seconds() / 3
        with self._lock:
            active = list(self._active)
        if active:
            table = ServiceOrderRow
            held = sql_select(table.seq).where(table.id.in_(active), table.lease_owner == self.owner)
            if self.db.dialect == "postgresql":
                # An order whose row a write holds right now is skipped, not waited for: that write renews the
                # lease itself (`_locked`), and waiting for rows locked in another order than ours could deadlock
                # with a group commit holding several of them.
                held = held.with_for_update(skip_locked=True)
            with self.db.transaction() as session:
                session.execute(update(table).where(table.seq.in_(held.scalar_subquery()))
                                .values(lease_until=utcnow() + self.lease))

    def _process(self, order_id: str) -> None:
        try:
            while True:
                try:
                    self._work(order_id)
                    break
                except OrderChanged:
                    log.info("service order %s changed before it was started; planning it again", order_id)
        except LeaseLost:
            log.warning("service order %s was taken over by another worker", order_id)
        except Exception:
            log.exception("service order %s: unexpected failure; it will be tried again", order_id)
            self._release(order_id, retry_in=RETRY_AFTER_ERROR_SECONDS)
        finally:
            with self._lock:
                self._active.discard(order_id)
                self._claimed.pop(order_id, None)
                self._expected.pop(order_id, None)
            orders_waiting.notify()

    # --- one order -------------------------------------------------------------------------------------

    def _work(self, order_id: str) -> None:
        with self._lock:
            claimed = self._claimed.pop(order_id, None)
        order, version = claimed if claimed is not None else self._current(order_id)
        # What is decided from here on holds only if the order is still this version when first written.
        self._expected[order_id] = version
        state = order.get("state")
        if state in lifecycle.CANCELLING:
            return self._cancel(order_id)
        if state not in ("acknowledged", "pending", "inProgress"):
            return self._release(order_id)
        settled = frozenset(item["id"] for item in lifecycle.items(order) if item.get("state") in ITEM_ENDED)
        try:
            with self.db.read() as connection:  # plain SELECTs, in autocommit: no BEGIN and ROLLBACK around them
                plan = plan_order(connection, self.platform, order, order_id=order_id, settled=settled)
        except InvalidOrder as invalid:
            if state != "inProgress":
                return self._reject(order_id, invalid.problems)
            # Resumed, and what is left no longer holds: those items fail, the delivered ones stay.
            for item in lifecycle.items(order):
                if item["id"] not in settled:
                    self._write(order_id, _fail_item(order_id, item["id"], "invalidOrder",
                                                     "The item no longer holds", "; ".join(invalid.problems)))
            return self._write(order_id, _finish, release=True) and None
        # The order's start goes out with its first item's, its end with its last item's: fewer transactions,
        # and a client sees the order and the item move together.
        prelude = [_start] if state != "inProgress" else []
        interrupted = [item["id"] for item in lifecycle.items(order) if item.get("state") == "inProgress"]
        for item_id in interrupted:  # a worker died while running it: back to where it began
            try:
                self.activator.undo(order_id, item_id)
            except DeviceError as error:
                self._write(order_id, _chain(*prelude, _fail_item(
                    order_id, item_id, "rollbackFailed", "The item's device changes could not be undone", error)))
                prelude = []
        if interrupted:
            order = self._current(order_id)[0]
        to_run = [ident for ident in plan.execution_order() if _item(order, ident).get("state") not in ITEM_ENDED]
        if not to_run:
            self._write(order_id, _chain(*prelude, _finish), release=True)
            return
        # Each item's last write returns the order as that transaction left it (with any cancellation request
        # made meanwhile): the next item starts from it without reading the order again.
        for position, item_id in enumerate(to_run):
            epilogue = [_finish] if position == len(to_run) - 1 else []
            if order.get("state") in lifecycle.CANCELLING:
                return self._cancel(order_id)
            self._watch_completion_date(order_id, order)
            blocked = [dependency for dependency in plan.items[item_id].depends_on
                       if _item(order, dependency).get("state") != "completed"]
            if blocked:
                order = self._write(order_id, _chain(*prelude, _fail_item(
                    order_id, item_id, "dependencyFailed", "Not started",
                    f"item(s) {', '.join(blocked)} it depends on did not complete"), *epilogue), release=bool(epilogue))
            else:
                order = self._run_item(order_id, order, plan.items[item_id], prelude, epilogue)
            prelude = []

    def _run_item(self, order_id: str, order: dict, plan: ItemPlan, prelude: list, epilogue: list) -> dict:
        """One item: `prelude` changes go out with its start, `epilogue` ones (the order's end) with its end.
        Returns the order as its last write left it."""
        item = _item(order, plan.id)
        fresh = False  # a service id made up here: no service can have it yet
        if plan.action == "add":
            known = (item.get("service") or {}).get("id")
            fresh = not known
            service = {"id": known, "name": plan.requested_name} if known else new_service_identity(plan, order_id)
        else:
            service = {"id": plan.service["id"], "name": plan.service.get("name")}
        self._write(order_id, _chain(*prelude, _item_state(plan.id, "inProgress")))
        ends = bool(epilogue)
        try:
            self.activator.activate(order_id, plan.id, device_work(plan, service))
        except DeviceError as error:
            return self._write(order_id, _chain(_fail_item(order_id, plan.id, "deviceRefused",
                                                           "A device refused the change", error), *epilogue),
                               release=ends)
        except CatalogError as error:
            self.activator.undo(order_id, plan.id)
            return self._write(order_id, _chain(_fail_item(order_id, plan.id, "activationFailed",
                                                           "The catalog's templates failed", error), *epilogue),
                               release=ends)

        def complete(session, doc: dict) -> str:
            # What the item did in the inventories is kept for a cancellation, which is only possible while the
            # order runs: not when this write ends it (the last item, no cancellation asked for).
            ending = ends and doc.get("state") not in lifecycle.CANCELLING
            self.records.record(session, plan, service, order_id, correlation_id=None, fresh=fresh,
                                keep=not ending)
            target = _item(doc, plan.id)
            target["state"] = "completed"
            target["service"] = {**(target.get("service") or {}), "id": service["id"],
                                 "href": self.records.service_href(service["id"]),
                                 "state": "terminated" if plan.action == "delete" else "active"}
            doc.setdefault("milestone", []).append({
                "id": f"{plan.id}-completed", "name": "itemCompleted", "milestoneDate": now_text(),
                "status": "reached", "message": f"item {plan.id} ({plan.action}) delivered",
                "serviceOrderItem": [_item_ref(order_id, plan.id)], "@type": "ServiceOrderMilestone"})
            return "MilestoneEvent"

        return self._write(order_id, _chain(complete, *epilogue), release=ends)

    def _reject(self, order_id: str, problems: list[str]) -> None:
        def reject(_session, doc: dict) -> None:
            moment = now_text()
            for item in lifecycle.items(doc):
                if item.get("state") not in ITEM_ENDED:
                    item["state"] = "rejected"
            doc["state"] = "rejected"
            doc["completionDate"] = moment
            doc.setdefault("errorMessage", []).append({
                "code": "invalidOrder", "reason": "The order no longer holds", "message": "; ".join(problems),
                "status": "rejected", "timestamp": moment, "@type": "ServiceOrderErrorMessage"})

        self._write(order_id, reject, release=True)

    def _cancel(self, order_id: str) -> None:
        self._write(order_id, _set_state("pendingCancellation"))
        try:
            self.activator.undo(order_id)
        except DeviceError as error:
            self._write(order_id, _cancellation_failed(error), release=True)
            self._end_cancellations(order_id, error)
            return

        def cancelled(session, doc: dict) -> None:
            self.records.undo(session, order_id, correlation_id=None)
            moment = now_text()
            for item in lifecycle.items(doc):
                item["state"] = "cancelled"
            doc["state"] = "cancelled"
            doc["cancellationDate"] = moment

        self._write(order_id, cancelled, release=True)
        self._end_cancellations(order_id, None)

    def _end_cancellations(self, order_id: str, error: DeviceError | None) -> None:
        with self.db.transaction() as session:
            rows = session.execute(sql_select(CancelServiceOrderRow).where(
                CancelServiceOrderRow.order_id == order_id, CancelServiceOrderRow.state == "inProgress")).scalars()
            updates = []
            for row in rows:
                doc = _copy(row.doc)
                if error is None:
                    doc["state"] = "done"
                    doc["effectiveCancellationDate"] = now_text()
                    doc["completionMessage"] = "the order was stopped and everything it had done was undone"
                else:
                    doc["state"] = "terminatedWithError"
                    doc["errorMessage"] = {"code": "undoFailed", "reason": "Could not undo the order's changes",
                                           "message": str(error), "status": "terminatedWithError",
                                           "@type": "ErrorMessage"}
                updates.append(RowUpdate(row.seq, row.id, row.version, row.doc, doc))
            self.cancellations.update_rows(session, updates, base_url=self.base_url, correlation_id=None)
        wake_up.notify()

    def _watch_completion_date(self, order_id: str, order: dict) -> None:
        wanted = order.get("requestedCompletionDate")
        if not wanted or order.get("jeopardyAlert"):
            return
        deadline = lifecycle._instant(wanted)
        if deadline is None or deadline > utcnow():
            return

        def alert(_session, doc: dict) -> str:
            doc["jeopardyAlert"] = [{"id": "late", "name": "requestedCompletionDate passed",
                                     "jeopardyType": "jeopardy", "alertDate": now_text(),
                                     "exception": "the order is still being delivered",
                                     "message": f"requested completion was {wanted}",
                                     "@type": "ServiceOrderJeopardyAlert"}]
            return "JeopardyEvent"

        self._write(order_id, alert)

    # --- reading and writing the order ------------------------------------------------------------------

    def _current(self, order_id: str) -> tuple[dict, int]:
        with self.db.read() as connection:
            row = connection.execute(sql_select(ServiceOrderRow.doc, ServiceOrderRow.version,
                                                ServiceOrderRow.lease_owner)
                                     .where(ServiceOrderRow.id == order_id)).first()
        if row is None or row.lease_owner != self.owner:
            raise LeaseLost(order_id)
        return row.doc, row.version

    def _write(self, order_id: str, change: Callable, *, release: bool = False) -> dict:
        """Apply `change(session, doc)` to the order in one transaction, with its events (the change may return
        the suffix of one more event to send, e.g. "MilestoneEvent"). Only while this worker holds the order.
        The transaction may be shared with other orders' writes (ordering/group_commit.py), and `change` run a
        second time after a rollback: it must only change the document and write to the database."""
        expected = self._expected.get(order_id)

        def work(session) -> dict:
            row = self._locked(session, order_id, release)
            if row is None:
                raise LeaseLost(order_id)
            if expected is not None and row.version != expected:
                raise OrderChanged(order_id)
            doc = _copy(row.doc)
            extra_event = change(session, doc)
            self.orders.update_rows(session, [RowUpdate(row.seq, row.id, row.version, row.doc, doc)],
                                    base_url=self.base_url, correlation_id=None)
            for suffix in [extra_event] if isinstance(extra_event, str) else extra_event or ():
                self.orders.emit_event(session, suffix, row.id, doc, base_url=self.base_url, correlation_id=None)
            if doc.get("state") in lifecycle.FINAL:
                # An ended order can no longer be cancelled nor resumed: its way back is not needed any more.
                session.execute(delete(OrderDeviceChange).where(OrderDeviceChange.order_id == order_id))
                if any(item.get("state") == "completed" for item in lifecycle.items(row.doc)):
                    # items completed by earlier writes kept their results (this write's own are not kept)
                    session.execute(delete(OrderItemResult).where(OrderItemResult.order_id == order_id))
            return doc

        doc = self.writes.run(work)
        self._expected.pop(order_id, None)
        wake_up.notify()
        return doc

    def _locked(self, session, order_id: str, release: bool):
        """The order's row, locked until the transaction ends, with only the columns a write needs (not the
        rendered body, nor an ORM object to flush); None when this worker no longer holds it. One UPDATE does it
        all: it locks the row (and takes SQLite's write lock), checks the lease, renews it, or gives the order up
        when the write is the worker's last (`release`)."""
        table = ServiceOrderRow.__table__.c  # Core: no ORM bookkeeping for a statement of known columns
        lease = dict(lease_owner=None, lease_until=None) if release else dict(lease_until=utcnow() + self.lease)
        return session.connection().execute(
            update(ServiceOrderRow.__table__).where(table.id == order_id, table.lease_owner == self.owner)
            .values(**lease).returning(table.seq, table.id, table.version, table.doc)).first()

    def _release(self, order_id: str, retry_in: float | None = None) -> None:
        until = utcnow() + timedelta(seconds=retry_in) if retry_in else None
        with self.db.transaction() as session:
            session.execute(update(ServiceOrderRow)
                            .where(ServiceOrderRow.id == order_id, ServiceOrderRow.lease_owner == self.owner)
                            .values(lease_owner=None if until is None else self.owner, lease_until=until))


# --- changes of the order document ---------------------------------------------------------------------

def _copy(doc: dict) -> dict:
    """A deep copy of a JSON document (as stored: plain dicts, lists, strings, numbers), much faster than
    copy.deepcopy."""
    return orjson.loads(orjson.dumps(doc))


def _chain(*changes: Callable):
    """Several changes of the order as one: applied in turn, their extra events gathered."""
    def change(session, doc: dict) -> list[str]:
        events = []
        for each in changes:
            found = each(session, doc)
            events.extend([found] if isinstance(found, str) else found or ())
        return events
    return change


def _item(order: dict, item_id: str) -> dict:
    for item in lifecycle.items(order):
        if item.get("id") == item_id:
            return item
    return {}


def _item_ref(order_id: str, item_id: str) -> dict:
    return {"id": item_id, "itemId": item_id, "serviceOrderId": order_id, "@type": "ServiceOrderItemRef"}


def _start(_session, doc: dict) -> None:
    if doc.get("state") in lifecycle.CANCELLING:
        return  # a cancellation came first: it is carried out when the order is taken up again
    doc["state"] = "inProgress"
    doc["startDate"] = now_text()


def _set_state(state: str):
    def change(_session, doc: dict) -> None:
        doc["state"] = state
    return change


def _item_state(item_id: str, state: str):
    def change(_session, doc: dict) -> None:
        _item(doc, item_id)["state"] = state
    return change


def _fail_item(order_id: str, item_id: str, code: str, reason: str, error):
    def change(_session, doc: dict) -> None:
        moment = now_text()
        message = str(error)
        item = _item(doc, item_id)
        item["state"] = "failed"
        item.setdefault("errorMessage", []).append({
            "code": code, "reason": reason, "message": message, "status": "failed", "timestamp": moment,
            "@type": "ServiceOrderItemErrorMessage"})
        doc.setdefault("errorMessage", []).append({
            "code": code, "reason": reason, "message": f"item {item_id}: {message}", "status": "failed",
            "timestamp": moment, "serviceOrderItem": [_item_ref(order_id, item_id)],
            "@type": "ServiceOrderErrorMessage"})
    return change


def _finish(_session, doc: dict) -> None:
    if doc.get("state") in lifecycle.CANCELLING:
        return  # a cancellation came in while the last item ran: the order is taken up again to undo it
    doc["state"] = lifecycle.final_state([item.get("state") for item in lifecycle.items(doc)])
    doc["completionDate"] = now_text()


def _cancellation_failed(error: DeviceError):
    def change(_session, doc: dict) -> None:
        moment = now_text()
        doc["state"] = "failed"
        doc["completionDate"] = moment
        doc.setdefault("errorMessage", []).append({
            "code": "undoFailed", "reason": "Cancellation could not undo the order's device changes",
            "message": str(error), "status": "failed", "timestamp": moment, "@type": "ServiceOrderErrorMessage"})
    return change


def start_orchestrator(platform, settings=None) -> Orchestrator:
    return Orchestrator(platform, settings).start()

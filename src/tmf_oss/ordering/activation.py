"""Carrying out one order item on the devices, and undoing it.

For every device an item touches, the catalog's templates give the edit-config contents: `remove` with the
service's previous values for the ports it leaves or changes, `apply` with its new values for the ports it keeps
or gains. Under the candidate lock, what the device has under the `read` filters is taken as a snapshot, and
before the edits are committed the way back is written to the journal (`order_device_change`, committed): remove
what we wrote, then put the snapshot back. So a failed item, a cancelled order, or an order whose worker died can
always be undone from the database alone. Each device's change is one candidate commit: the device takes all of
it or none.

Changes that queue up for a busy device go out together once it is free, with those that come while they are
prepared (one lock, one journal transaction, one commit for all of them); a refusal in such a batch sends them
again one by one, so only the refused one fails.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update

from tmf_oss.db.base import utcnow
from tmf_oss.db.engine import Database
from tmf_oss.ordering.group_commit import GroupCommit
from tmf_oss.ordering.model import OrderDeviceChange
from tmf_oss.ordering.plan import Endpoint, ItemPlan
from tmf_oss.southbound.adapter import DeviceError, NetconfCredentials
from tmf_oss.southbound.devices import WatchedDevices
from tmf_oss.southbound.netconf_sessions import ChangeRefused, ConfigChange, NetconfSessions

log = logging.getLogger("tmf_oss.ordering")
JOURNAL = OrderDeviceChange.__table__
MAX_BATCH = 32  # changes of one device in one commit, at most


class DeviceDirectory:
    """NETCONF credentials by management address, from the devices file (read again when it changes)."""

    def __init__(self, path: str | None):
        self.devices = WatchedDevices(path)

    def credentials(self, address: str) -> NetconfCredentials:
        creds = self.devices.target(address, "NETCONF credentials").netconf
        if creds is None:
            raise DeviceError(address, "the devices file gives no NETCONF access to this device")
        return creds


@dataclass(frozen=True)
class DeviceWork:
    device: str
    configs: list[str]  # edit-config contents, in order
    snapshot_filters: list[str]  # what those contents may overwrite
    written_back: list[str]  # remove contents for what `configs` writes (the first half of the undo)


def device_work(plan: ItemPlan, service: dict) -> list[DeviceWork]:
    """What the item sends to each device, from the catalog's templates."""
    spec = plan.spec
    if spec is None or not spec.has_activation or plan.action == "noChange":
        return []
    old_endpoints = plan.previous_endpoints if plan.action in ("modify", "delete") else []
    new_endpoints = plan.endpoints if plan.action in ("add", "modify") else []
    devices: dict[str, DeviceWork] = {}

    def work(device: str) -> DeviceWork:
        return devices.setdefault(device, DeviceWork(device, [], [], []))

    for endpoint in old_endpoints:
        context = _context(service, plan.previous_values, endpoint)
        entry = work(endpoint.device)
        entry.configs.append(spec.render_netconf("remove", context))
        entry.snapshot_filters.append(spec.render_netconf("read", context))
    for endpoint in new_endpoints:
        context = _context(service, plan.values, endpoint)
        entry = work(endpoint.device)
        entry.configs.append(spec.render_netconf("apply", context))
        entry.snapshot_filters.append(spec.render_netconf("read", context))
        entry.written_back.append(spec.render_netconf("remove", context))
    for endpoint in old_endpoints:  # the old values' entries are removed again too (they may come back)
        work(endpoint.device).written_back.append(
            spec.render_netconf("remove", _context(service, plan.previous_values, endpoint)))
    return list(devices.values())


def _context(service: dict, values: dict, endpoint: Endpoint) -> dict:
    return {"service": {"id": service.get("id"), "name": service.get("name")}, "characteristic": values,
            "endpoint": endpoint.template_values()}


@dataclass(eq=False)
class _Job:
    """One item's change of one device, waiting for (or done by) a batch."""
    order_id: str
    item_id: str
    entry: DeviceWork
    done: bool = False
    error: BaseException | None = None


class Activator:
    """Sends an item's device work, journaling the way back first; undoes journaled changes."""

    def __init__(self, db: Database, devices: DeviceDirectory, sessions: NetconfSessions, *, parallel: int = 16,
                 writes: GroupCommit | None = None):
        self.db = db
        self.writes = writes or GroupCommit(db)
        self.devices = devices
        self.sessions = sessions
        self._pool = ThreadPoolExecutor(parallel, thread_name_prefix="tmf-oss-device")
        self._guard = threading.Lock()
        self._queues: dict[str, list[_Job]] = {}
        self._combiners: dict[str, threading.Lock] = {}

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def activate(self, order_id: str, item_id: str, work: list[DeviceWork]) -> None:
        """Every device's change, the devices side by side, each committed on its own; when one refuses, the
        others are rolled back and its DeviceError is raised."""
        outcomes = list(self._pool.map(lambda entry: self._attempt(order_id, item_id, entry), work))
        refusals = [outcome for outcome in outcomes if outcome is not None]
        if refusals:
            self.undo(order_id, item_id)
            raise refusals[0]

    def _attempt(self, order_id: str, item_id: str, entry: DeviceWork) -> DeviceError | None:
        try:
            self._change(_Job(order_id, item_id, entry))
            return None
        except DeviceError as error:
            return error

    def _change(self, job: "_Job") -> None:
        """The job's change, in a batch with whatever other changes of its device are waiting: the thread that
        gets the device takes every change queued for it (its own included), and those that come while it
        prepares them, and sends them under one lock, one journal transaction and one commit; the others find
        theirs done."""
        device = job.entry.device
        with self._guard:
            queue = self._queues.setdefault(device, [])
            queue.append(job)
            combiner = self._combiners.setdefault(device, threading.Lock())
        with combiner:
            if not job.done:
                with self._guard:
                    batch = list(queue)
                    queue.clear()
                try:
                    self._send(device, batch)  # may add to `batch` the changes that came meanwhile
                except BaseException as error:
                    for each in batch:
                        if not each.done:
                            each.done, each.error = True, error
                    if not isinstance(error, Exception):
                        raise
                finally:
                    for each in batch:
                        each.done = True
        if job.error is not None:
            raise job.error

    def _send(self, device: str, batch: list["_Job"]) -> None:
        creds = self.devices.credentials(device)
        with self.sessions.change(device, creds) as change:
            journaled: list[int] = []
            try:
                self._apply(change, batch, journaled, device)
                return
            except ChangeRefused as error:
                if change.pending:
                    change.discard()
                if len(batch) == 1:
                    batch[0].error = error
                    return
                # One of them is refused (and which is not known when the commit is): nothing of the batch was
                # committed; each goes again on its own, under the same lock.
                self._forget(journaled)
            for job in batch:
                try:
                    self._apply(change, [job], [])
                except ChangeRefused as error:
                    job.error = error
                    if change.pending:
                        change.discard()
                job.done = True

    def _apply(self, change: ConfigChange, batch: list["_Job"], journaled: list[int],
               device: str | None = None) -> None:
        """Snapshot, edit, journal and commit `batch` in the locked candidate. Each change's snapshot is what its
        `read` filters select before its own edits: from the running configuration for the first (the locked
        candidate is the running configuration), from the candidate after the edits of those before it for the
        others (what it would have found had they been committed one by one). The journal is committed, in one
        transaction, before the commit. With `device`, changes of that device queued while this goes on join the
        batch (up to MAX_BATCH), until none is waiting."""
        snapshots = []
        while True:
            for job in batch[len(snapshots):]:
                source = "candidate" if change.pending else "running"
                before = [element for selection in job.entry.snapshot_filters
                          for element in change.read(selection, source=source)]
                snapshots.append((job, before))
                for config in job.entry.configs:
                    change.edit(config)
            if device is None or len(batch) >= MAX_BATCH:
                break
            with self._guard:
                queue = self._queues.get(device) or []
                more = queue[:MAX_BATCH - len(batch)]
                del queue[:len(more)]
            if not more:
                break
            batch.extend(more)
        journaled.extend(self._journal(snapshots))
        change.commit()
        for job in batch:
            job.done = True
        # The entries stay `sent` once committed: undoing is the same whether or not the commit got through, and
        # the item's completion (or rollback) is what ends them.

    def _journal(self, snapshots: list[tuple["_Job", list[str]]]) -> list[int]:
        """The journal entries, committed (with other orders' writes waiting at the same time, if any)."""
        now = utcnow()
        rows = [{"order_id": job.order_id, "item_id": job.item_id, "device": job.entry.device, "status": "sent",
                 "undo": job.entry.written_back + before, "created_at": now} for job, before in snapshots]
        return self.writes.run(lambda session: list(
            session.connection().execute(insert(JOURNAL).returning(JOURNAL.c.seq), rows).scalars()))

    def _forget(self, seqs: list[int]) -> None:
        """Journal entries of a batch that was discarded: nothing of them reached the running configuration (and
        their snapshots, read from the candidate, may hold the others' edits)."""
        if seqs:
            with self.db.transaction() as session:
                session.execute(delete(OrderDeviceChange).where(OrderDeviceChange.seq.in_(seqs)))

    def undo(self, order_id: str, item_id: str | None = None) -> None:
        """Put back what the journal says the order (or one item of it) changed, newest change first. Raises
        DeviceError when a device cannot be restored (the journal keeps the entry, so it can be tried again)."""
        with self.db.read() as connection:
            query = select(OrderDeviceChange.seq, OrderDeviceChange.device, OrderDeviceChange.undo).where(
                OrderDeviceChange.order_id == order_id, OrderDeviceChange.status == "sent")
            if item_id is not None:
                query = query.where(OrderDeviceChange.item_id == item_id)
            entries = connection.execute(query.order_by(OrderDeviceChange.seq.desc())).all()
        failure = None
        for seq, device, configs in entries:
            try:
                creds = self.devices.credentials(device)
                with self.sessions.change(device, creds) as change:
                    for config in configs:
                        change.edit(config)
            except DeviceError as error:
                log.warning("could not undo order %s on %s: %s", order_id, device, error.reason)
                failure = failure or error
                continue
            with self.db.transaction() as session:
                session.execute(update(OrderDeviceChange).where(OrderDeviceChange.seq == seq).values(status="undone"))
        if failure is not None:
            raise failure


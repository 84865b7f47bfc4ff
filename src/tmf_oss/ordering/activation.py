"""Carrying out one order item on the devices, and undoing it.

For every device an item touches, the catalog's templates give the edit-config contents: `remove` with the
service's previous values for the ports it leaves or changes, `apply` with its new values for the ports it keeps
or gains. Before anything is sent, what the device has under the `read` filters is taken as a snapshot and the way
back is written to the journal (`order_device_change`, committed): remove what we are about to write, then put the
snapshot back. So a failed item, a cancelled order, or an order whose worker died can always be undone from the
database alone. Each device's change is one candidate commit: the device takes all of it or none.
"""
from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import select, update

from tmf_oss.db.engine import Database
from tmf_oss.ordering.model import OrderDeviceChange
from tmf_oss.ordering.plan import Endpoint, ItemPlan
from tmf_oss.southbound.adapter import DeviceError, NetconfCredentials
from tmf_oss.southbound.devices import DeviceFileError, load_devices
from tmf_oss.southbound.netconf_sessions import NetconfSessions

log = logging.getLogger("tmf_oss.ordering")


class DeviceDirectory:
    """NETCONF credentials by management address, from the devices file (read again when it changes)."""

    def __init__(self, path: str | None):
        self.path = path
        self._stamp: float | None = None
        self._creds: dict[str, NetconfCredentials] = {}
        self._lock = threading.Lock()

    def credentials(self, address: str) -> NetconfCredentials:
        if not self.path:
            raise DeviceError(address, "no devices file is configured (TMF_OSS_DEVICES_FILE), so tmf-oss has no "
                                       "NETCONF credentials for the device")
        with self._lock:
            try:
                stamp = os.stat(self.path).st_mtime
            except OSError as error:
                raise DeviceError(address, f"cannot read the devices file: {error.strerror}") from None
            if stamp != self._stamp:
                try:
                    devices = load_devices(self.path)
                except DeviceFileError as error:
                    raise DeviceError(address, f"the devices file is not usable: {error}") from None
                self._creds = {device.target.address: device.target.netconf for device in devices
                               if device.target.netconf is not None}
                self._stamp = stamp
            creds = self._creds.get(address)
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


class Activator:
    """Sends an item's device work, journaling the way back first; undoes journaled changes."""

    def __init__(self, db: Database, devices: DeviceDirectory, sessions: NetconfSessions, *, parallel: int = 16):
        self.db = db
        self.devices = devices
        self.sessions = sessions
        self._pool = ThreadPoolExecutor(parallel, thread_name_prefix="tmf-oss-device")

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
            self._change(order_id, item_id, entry)
            return None
        except DeviceError as error:
            return error

    def _change(self, order_id: str, item_id: str, entry: DeviceWork) -> None:
        creds = self.devices.credentials(entry.device)
        with self.sessions.change(entry.device, creds) as change:
            before = [element for selection in entry.snapshot_filters for element in change.read(selection)]
            with self.db.transaction() as session:
                journal = OrderDeviceChange(order_id=order_id, item_id=item_id, device=entry.device, status="sent",
                                            undo=entry.written_back + before)
                session.add(journal)
            for config in entry.configs:
                change.edit(config)
        # The entry stays `sent` once committed: undoing is the same whether or not the commit got through, and
        # the item's completion (or rollback) is what ends it.

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


"""Changes of one device that wait for it, or come while a batch is prepared, go out together: one lock, one
journal transaction, one commit; a refusal in a batch costs the others nothing. With a scripted device instead of
NETCONF."""
from __future__ import annotations

import contextlib
import threading
import time

from sqlalchemy import select

from tmf_oss.ordering.activation import Activator, DeviceWork, _Job
from tmf_oss.ordering.model import OrderDeviceChange
from tmf_oss.southbound.netconf_sessions import ChangeRefused


class ScriptedDevice:
    """A candidate datastore: edits pile up until committed; `refuse` configs are refused at edit-config."""

    def __init__(self, refuse: frozenset[str] = frozenset()):
        self.running: list[str] = []
        self.candidate: list[str] = []
        self.refuse = refuse
        self.log: list[str] = []
        self.busy = threading.Lock()  # held while a change is under way, so that others queue up behind it
        self.release = threading.Event()

    # what NetconfSessions offers the activator
    @contextlib.contextmanager
    def change(self, address, creds):
        with self.busy:
            self.release.wait(5)
            self.log.append("lock")
            change = _Change(self)
            try:
                yield change
            except BaseException:
                change.discard()
                raise
            if change.pending:
                change.commit()
            self.log.append("unlock")


class _Change:
    def __init__(self, device: ScriptedDevice):
        self.device = device
        self.pending = False

    def read(self, filter_xml: str, source: str = "running") -> list[str]:
        self.device.log.append(f"read {source}")
        store = self.device.candidate if source == "candidate" else self.device.running
        return [config for config in store if config.startswith(filter_xml)]

    def edit(self, config: str) -> None:
        self.device.log.append(f"edit {config}")
        if config in self.device.refuse:
            raise ChangeRefused("d1", f"refused {config}")
        self.pending = True
        self.device.candidate.append(config)

    def commit(self) -> None:
        self.device.log.append("commit")
        self.device.running = list(self.device.candidate)
        self.pending = False

    def discard(self) -> None:
        self.device.log.append("discard")
        self.device.candidate = list(self.device.running)
        self.pending = False


class AnyCredentials:
    def credentials(self, address):
        return None


def _work(name: str) -> DeviceWork:
    return DeviceWork("d1", [f"{name}-config"], [name], [f"remove {name}"])


def _activate_together(activator: Activator, device: ScriptedDevice, names: list[str]) -> dict[str, str | None]:
    """One order per name, all started while the device is busy, so they queue up for it."""
    outcomes: dict[str, str | None] = {}

    def run(name: str) -> None:
        try:
            activator._change(_job(name))
            outcomes[name] = None
        except ChangeRefused as error:
            outcomes[name] = error.reason

    def _job(name: str) -> _Job:
        return _Job(f"order-{name}", "1", _work(name))

    first = threading.Thread(target=run, args=(names[0],))
    first.start()
    while not device.busy.locked():
        time.sleep(0.001)
    others = [threading.Thread(target=run, args=(name,)) for name in names[1:]]
    for thread in others:
        thread.start()
    while sum(len(queue) for queue in activator._queues.values()) < len(names) - 1:
        time.sleep(0.001)
    device.release.set()
    for thread in [first, *others]:
        thread.join(10)
    return outcomes


def _journal(app) -> list[tuple[str, list]]:
    with app.platform.db.reading() as session:
        return [(row.order_id, row.undo) for row in session.execute(
            select(OrderDeviceChange).order_by(OrderDeviceChange.seq)).scalars()]


def test_changes_waiting_for_a_device_are_sent_in_one_commit(app):
    device = ScriptedDevice()
    activator = Activator(app.platform.db, AnyCredentials(), device)
    try:
        outcomes = _activate_together(activator, device, ["a", "b", "c"])
    finally:
        activator.close()
    assert outcomes == {"a": None, "b": None, "c": None}
    assert device.running == ["a-config", "b-config", "c-config"]
    # the two that came while the first was being prepared joined it: each snapshot taken before its own edit,
    # the first's from the running configuration, the others' from the candidate after the edits before them
    assert device.log == ["lock", "read running", "edit a-config", "read candidate", "edit b-config",
                          "read candidate", "edit c-config", "commit", "unlock"]
    assert sorted(_journal(app)) == [("order-a", ["remove a"]), ("order-b", ["remove b"]), ("order-c", ["remove c"])]


def test_a_change_for_a_free_device_goes_alone(app):
    device = ScriptedDevice()
    device.release.set()
    activator = Activator(app.platform.db, AnyCredentials(), device)
    try:
        activator._change(_Job("order-a", "1", _work("a")))
    finally:
        activator.close()
    assert device.log == ["lock", "read running", "edit a-config", "commit", "unlock"]
    assert _journal(app) == [("order-a", ["remove a"])]


def test_a_refused_change_in_a_batch_fails_alone(app):
    device = ScriptedDevice(refuse=frozenset({"c-config"}))
    activator = Activator(app.platform.db, AnyCredentials(), device)
    try:
        outcomes = _activate_together(activator, device, ["a", "b", "c", "d"])
    finally:
        activator.close()
    assert outcomes["a"] is None and outcomes["b"] is None and outcomes["d"] is None
    assert "refused c-config" in outcomes["c"]
    assert device.running == ["a-config", "b-config", "d-config"]
    # the batch was discarded and its changes sent one by one; its journal entries were replaced by theirs, and
    # the refused one, of which nothing reached the device, has none
    assert "discard" in device.log
    assert device.log.count("commit") == 3  # a, b and d, one by one (the batch never got to its commit)
    journal = _journal(app)
    assert sorted(order for order, _ in journal) == ["order-a", "order-b", "order-d"]

"""Long-lived NETCONF sessions for configuration work: one per device, reused, one change at a time.

Opening an SSH session costs far more than an edit-config and a commit, so the orchestrator keeps one session per
device and sends its changes through it. A change is a `ConfigChange`: the candidate datastore is locked and
cleaned, the caller reads what is there and edits, then commits; on any failure the candidate is discarded and
the running configuration stays as it was. A lock held by someone else (another manager, another of our workers)
is waited for, up to `lock_wait` seconds, before the device's refusal is reported.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator

from lxml import etree
from ncclient.manager import Manager
from ncclient.operations import RPCError

from tmf_oss.southbound.adapter import DeviceError, NetconfCredentials
from tmf_oss.southbound.netconf import NetconfAdapter, _config_element, _reason, _rpc_error_text, _subtree_filter

log = logging.getLogger("tmf_oss.southbound.netconf")

LOCK_RETRY_SECONDS = 0.2


class ChangeRefused(DeviceError):
    """The device answered a step of the change with an rpc-error: the session is still usable, and the candidate
    can be discarded and used again under the same lock."""


class ConfigChange:
    """Inside a locked candidate: read a configuration datastore, edit the candidate, commit or discard."""

    def __init__(self, address: str, session: Manager, creds: NetconfCredentials, sessions: "NetconfSessions"):
        self.address = address
        self._session = session
        self._creds = creds
        self._sessions = sessions
        self.pending = False  # edits not yet committed nor discarded

    def read(self, filter_xml: str, source: str = "running") -> list[str]:
        """The configuration's elements selected by a subtree filter, each as XML text (usable as edit-config
        content to put them back). `source="candidate"` includes this change's edits so far."""
        subtree = _subtree_filter(filter_xml)
        reply = self._sessions._device_step(self.address, self._creds, "get-config",
                                            lambda: self._session.get_config(source, filter=subtree))
        data = etree.fromstring(reply.data_xml.encode())
        return [etree.tostring(child).decode() for child in data if isinstance(child.tag, str)]

    def edit(self, config_xml: str) -> None:
        config = _config_element(config_xml)
        self.pending = True
        self._sessions._device_step(self.address, self._creds, "edit-config",
                                    lambda: self._session.edit_config(target="candidate", config=config))

    def commit(self) -> None:
        """Commit the edits so far (the candidate is discarded when the device refuses); the lock is kept."""
        self._sessions._device_step(self.address, self._creds, "commit", self._session.commit,
                                    discard=self._session)
        self.pending = False

    def discard(self) -> None:
        """Drop the edits not committed: the candidate is the running configuration again."""
        self.pending = False
        self._sessions._device_step(self.address, self._creds, "discard-changes", self._session.discard_changes)


class NetconfSessions:
    def __init__(self, adapter: NetconfAdapter | None = None, *, lock_wait: float = 10.0):
        self.adapter = adapter or NetconfAdapter()
        self.lock_wait = lock_wait
        self._sessions: dict[str, tuple[contextlib.ExitStack, Manager]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def change(self, address: str, creds: NetconfCredentials) -> Iterator[ConfigChange]:
        """A configuration change on one device: what is still pending is committed when the block ends normally,
        discarded when it raises (the exception goes on unchanged). Device failures raise DeviceError with the device's own reason."""
        with self._device_lock(address):
            session = self._session(address, creds)
            # No discard-changes after the lock: a device refuses to lock a candidate that holds changes not
            # committed (RFC 6241, 7.5), so a locked candidate is the running configuration.
            self._device_step(address, creds, "lock", lambda: self._lock_candidate(address, session))
            try:
                change = ConfigChange(address, session, creds, self)
                try:
                    yield change
                except BaseException:
                    with contextlib.suppress(Exception):
                        session.discard_changes()
                    raise
                if change.pending:
                    change.commit()
            finally:
                with contextlib.suppress(Exception):
                    session.unlock("candidate")

    def _device_step(self, address: str, creds: NetconfCredentials, step: str, work, discard: Manager | None = None):
        try:
            return work()
        except DeviceError:
            raise
        except RPCError as error:
            if discard is not None:
                with contextlib.suppress(Exception):
                    discard.discard_changes()
            raise ChangeRefused(address, f"configuration change refused at {step}, running configuration "
                                         f"unchanged: {_rpc_error_text(error)}") from error
        except Exception as error:
            self._drop(address)  # the session may be broken: the next change opens a new one
            raise DeviceError(address, _reason(step, creds, error, self.adapter.rpc_timeout)) from error

    def close(self) -> None:
        with self._guard:
            addresses = list(self._sessions)
        for address in addresses:
            self._drop(address)

    def _lock_candidate(self, address: str, session: Manager) -> None:
        if ":candidate" not in session.server_capabilities:
            raise DeviceError(address, "the device has no candidate datastore (configuration changes need one)")
        deadline = time.monotonic() + self.lock_wait
        while True:
            try:
                session.lock("candidate")
                return
            except RPCError as error:
                if error.tag != "lock-denied" or time.monotonic() >= deadline:
                    raise DeviceError(address, f"configuration change refused: the candidate datastore could not "
                                               f"be locked: {_rpc_error_text(error)}") from error
                time.sleep(LOCK_RETRY_SECONDS)

    def _device_lock(self, address: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(address, threading.Lock())

    def _session(self, address: str, creds: NetconfCredentials) -> Manager:
        with self._guard:
            held = self._sessions.get(address)
        if held is not None and held[1].connected:
            return held[1]
        if held is not None:
            self._drop(address)
        stack = contextlib.ExitStack()
        try:
            session = stack.enter_context(self.adapter._session(address, creds))
        except DeviceError:
            stack.close()
            raise
        except Exception as error:
            stack.close()
            raise DeviceError(address, _reason("connect", creds, error, self.adapter.rpc_timeout)) from error
        with self._guard:
            self._sessions[address] = (stack, session)
        return session

    def _drop(self, address: str) -> None:
        with self._guard:
            held = self._sessions.pop(address, None)
        if held is not None:
            with contextlib.suppress(Exception):
                held[0].close()

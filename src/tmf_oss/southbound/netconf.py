"""The NETCONF adapter (ncclient over SSH): operational state, configuration, transactional changes, notifications.

ncclient is synchronous, so each call runs in a worker thread and the API is async like the SNMP adapter's. Every
call opens its own session and closes it. Configuration changes go through the candidate datastore under a lock:
either the whole change is committed, or the candidate is discarded and the running configuration stays as it was.

Host keys are verified by default: against the `known_hosts` file given to the adapter, or else the user's
~/.ssh/known_hosts. Passwords and keys are never logged nor put in an error message.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TypeVar

import paramiko
from lxml import etree
from ncclient import manager
from ncclient.transport import session as _ncclient_session
from ncclient.transport.errors import TransportError
from ncclient.transport.ssh import SSHSession
from ncclient.manager import Manager
from ncclient.operations import RPCError, TimeoutExpiredError
from ncclient.transport.errors import AuthenticationError, SSHUnknownHostError

from tmf_oss.southbound.adapter import DeviceError, NetconfCredentials
from tmf_oss.southbound.faults import NETCONF_NOTIFICATION, FaultRecord, FaultSink

log = logging.getLogger("tmf_oss.southbound.netconf")



def _send_now(self, message: str) -> None:
    """ncclient's SSHSession.send, writing the framed message at once from the calling thread.

    ncclient queues a request for its session thread, which writes it only after its select() on the channel
    times out (every 0.1 s): each RPC waited up to 100 ms for nothing, half a second for one locked candidate
    change. Polling faster instead costs every open session hundreds of wake-ups a second. The framing is the one
    ncclient's thread applies (RFC 6242: end-of-message marker before the 1.1 hello, chunks after); paramiko
    channels may be written from one thread while another reads, and a lock keeps whole messages together.
    """
    if not self.connected:
        raise TransportError("Not connected to NETCONF server")
    data = message.encode()
    if self._base == _ncclient_session.NetconfBase.BASE_11:
        data = b"\n#%i\n%s%s" % (len(data), data, _ncclient_session.END_DELIM)
    else:
        data += _ncclient_session.MSG_DELIM
    with self.__dict__.setdefault("_whole_messages", threading.Lock()):
        self._channel.sendall(data)


SSHSession.send = _send_now

BASE_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
NOTIFICATION_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"
INTERFACES_NS = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
INTERFACES_FILTER = f'<interfaces-state xmlns="{INTERFACES_NS}"/><interfaces xmlns="{INTERFACES_NS}"/>'
INTERFACE_FIELDS = ("name", "oper-status", "admin-status")
# Leaves that name the interface a notification is about, in the models seen so far.
INTERFACE_LEAVES = ("if-name", "interface-name", "interface", "name")
NOTIFICATION_SEVERITY = {"link-down": "major", "link-up": "cleared"}
NOTIFICATION_POLL_SECONDS = 0.5

Result = TypeVar("Result")


class NetconfAdapter:
    def __init__(self, *, known_hosts: str | None = None, verify_host_keys: bool = True,
                 connect_timeout: float = 10.0, rpc_timeout: float = 30.0):
        self.known_hosts = known_hosts
        self.verify_host_keys = verify_host_keys
        self.connect_timeout = connect_timeout
        self.rpc_timeout = rpc_timeout

    async def get(self, address: str, creds: NetconfCredentials, filter_xml: str | None = None) -> str:
        """Operational data (and configuration) as the <data> reply, optionally limited by a subtree filter."""
        subtree = _subtree_filter(filter_xml)
        return await self._run(address, creds, "get", lambda session: session.get(filter=subtree).data_xml)

    async def get_config(self, address: str, creds: NetconfCredentials, source: str = "running",
                         filter_xml: str | None = None) -> str:
        subtree = _subtree_filter(filter_xml)
        return await self._run(address, creds, f"get-config {source}",
                               lambda session: session.get_config(source, filter=subtree).data_xml)

    async def apply_config(self, address: str, creds: NetconfCredentials, config_xml: str) -> None:
        """Merge `config_xml` (a <config> element, or what goes inside one) into the running configuration, whole
        or not at all."""
        config = _config_element(config_xml)
        await self._run(address, creds, "apply-config",
                        lambda session: _commit_through_candidate(address, session, config))

    async def interfaces(self, address: str, creds: NetconfCredentials) -> list[dict[str, str]]:
        """The ietf-interfaces state: one dict per interface with name, oper-status and admin-status as the device
        reports them (a device may leave out admin-status)."""
        return _interfaces(await self.get(address, creds, INTERFACES_FILTER))

    async def notifications(self, address: str, creds: NetconfCredentials, sink: FaultSink,
                            stop: threading.Event, subscribed: threading.Event | None = None) -> None:
        """Subscribe to the device's NETCONF event stream and hand each notification to `sink` as a FaultRecord,
        until `stop` is set (cancelling the awaiting task does not end the worker thread: set `stop`). `subscribed`
        is set once the subscription is in place. Raises DeviceError when the session cannot be set up or ends."""
        await asyncio.to_thread(self.listen, address, creds, sink, stop, subscribed)

    def listen(self, address: str, creds: NetconfCredentials, sink: FaultSink, stop: threading.Event,
               subscribed: threading.Event | None = None) -> None:
        """`notifications`, in the calling thread (for a long-lived listener that owns its thread)."""
        self._in_session(address, creds, "create-subscription",
                         lambda session: _listen(address, session, sink, stop, subscribed))

    async def _run(self, address: str, creds: NetconfCredentials, operation: str,
                   work: Callable[[Manager], Result]) -> Result:
        return await asyncio.to_thread(self._in_session, address, creds, operation, work)

    def _in_session(self, address: str, creds: NetconfCredentials, operation: str,
                    work: Callable[[Manager], Result]) -> Result:
        log.debug("netconf %s on %s:%s as %s", operation, address, creds.port, creds.user)
        try:
            with self._session(address, creds) as session:
                return work(session)
        except DeviceError:
            raise
        except Exception as error:
            raise DeviceError(address, _reason(operation, creds, error, self.rpc_timeout)) from error

    @contextlib.contextmanager
    def _session(self, address: str, creds: NetconfCredentials) -> Iterator[Manager]:
        if creds.key_file is not None and not os.access(creds.key_file, os.R_OK):
            raise DeviceError(address, f"cannot read the key file {creds.key_file}")
        # Our own socket, so that "unreachable" can say why (ncclient only says it could not open one).
        sock = socket.create_connection((address, creds.port), timeout=self.connect_timeout)
        try:
            host_key = self._trusted_host_key(address, creds.port)
            session = manager.connect(
                host=address, port=creds.port, sock=sock, username=creds.user,
                password=creds.password.reveal() if creds.password is not None else None,
                key_filename=creds.key_file, allow_agent=False, look_for_keys=False,
                hostkey_verify=self.verify_host_keys, hostkey_b64=host_key,
                timeout=self.connect_timeout, manager_params={"timeout": self.rpc_timeout})
        except BaseException:
            sock.close()
            raise
        try:
            yield session
        finally:
            with contextlib.suppress(Exception):
                session.close_session()

    def _trusted_host_key(self, address: str, port: int) -> str | None:
        """The host key to insist on, from our known_hosts file; None leaves ncclient to its default file."""
        if not self.verify_host_keys or self.known_hosts is None:
            return None
        try:
            known = paramiko.HostKeys(self.known_hosts)
        except OSError as error:
            raise DeviceError(address, f"cannot read the known_hosts file {self.known_hosts}: "
                                       f"{error.strerror or error}") from error
        keys = known.lookup(f"[{address}]:{port}") if port != 22 else known.lookup(address)
        if not keys:
            raise DeviceError(address, f"host key unknown: no entry for {address}:{port} in {self.known_hosts}")
        return next(iter(keys.values())).get_base64()


def _commit_through_candidate(address: str, session: Manager, config: str) -> None:
    if ":candidate" not in session.server_capabilities:
        raise DeviceError(address, "the device has no candidate datastore (configuration changes need one)")
    try:
        session.lock("candidate")
    except RPCError as error:
        raise DeviceError(address, f"the candidate datastore could not be locked: {_rpc_error_text(error)}") from error
    step = "discard-changes"
    try:
        session.discard_changes()  # whatever an earlier, unlocked session left in the candidate is not ours to commit
        step = "edit-config"
        session.edit_config(target="candidate", config=config)
        step = "commit"
        session.commit()
    except Exception as error:
        with contextlib.suppress(Exception):
            session.discard_changes()
        reason = _rpc_error_text(error) if isinstance(error, RPCError) else _plain_reason(error)
        raise DeviceError(address, f"configuration change rejected at {step}, running configuration unchanged: "
                                   f"{reason}") from error
    finally:
        with contextlib.suppress(Exception):
            session.unlock("candidate")


def _listen(address: str, session: Manager, sink: FaultSink, stop: threading.Event,
            subscribed: threading.Event | None) -> None:
    session.create_subscription()
    if subscribed is not None:
        subscribed.set()
    while not stop.is_set():
        notification = session.take_notification(block=True, timeout=NOTIFICATION_POLL_SECONDS)
        if notification is None:
            if not session.connected:
                raise DeviceError(address, "the notification session was closed by the device")
            continue
        record = fault_record(address, notification.notification_xml)
        if record is None:
            continue
        try:
            sink(record)
        except Exception:
            log.exception("fault sink failed on a NETCONF notification from %s", address)


def fault_record(address: str, notification_xml: str) -> FaultRecord | None:
    """A NETCONF <notification> as a FaultRecord; None when it is not one we can read."""
    try:
        root = etree.fromstring(notification_xml.encode())
    except etree.XMLSyntaxError:
        log.warning("unreadable NETCONF notification from %s", address)
        return None
    event_time = root.findtext(f"{{{NOTIFICATION_NS}}}eventTime")
    events = [child for child in root if isinstance(child.tag, str) and child.tag != f"{{{NOTIFICATION_NS}}}eventTime"]
    if not events:
        return None
    event = events[0]
    kind = etree.QName(event).localname
    values = {etree.QName(leaf).localname: (leaf.text or "").strip()
              for leaf in event if isinstance(leaf.tag, str) and len(leaf) == 0}
    interface = next((values[name] for name in INTERFACE_LEAVES if values.get(name)), None)
    return FaultRecord(
        source=NETCONF_NOTIFICATION, device_address=address, received_at=datetime.now(UTC), kind=kind,
        severity=NOTIFICATION_SEVERITY.get(kind, "indeterminate"),
        text=f"{kind} on {interface}" if interface else kind,
        device_time=_timestamp(event_time), interface=interface,
        details={"xml": notification_xml, "namespace": etree.QName(event).namespace, "values": values,
                 "event_time": event_time},
    )


def _interfaces(data_xml: str) -> list[dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    root = etree.fromstring(data_xml.encode())
    for entry in root.iter(f"{{{INTERFACES_NS}}}interface"):
        fields = {field: entry.findtext(f"{{{INTERFACES_NS}}}{field}") for field in INTERFACE_FIELDS}
        if not fields["name"]:
            continue
        known = found.setdefault(fields["name"], {})
        known.update({field: value for field, value in fields.items() if value})
    return list(found.values())


def _well_formed(xml: str, what: str) -> str:
    try:
        etree.fromstring(xml.encode())
    except etree.XMLSyntaxError as error:
        raise ValueError(f"{what} is not well-formed XML: {error}") from error
    return xml


def _subtree_filter(filter_xml: str | None) -> str | None:
    """A subtree <filter> around `filter_xml`, which may hold several top-level elements."""
    if filter_xml is None:
        return None
    return _well_formed(f'<filter xmlns="{BASE_NS}" type="subtree">{filter_xml}</filter>', "filter_xml")


def _config_element(config_xml: str) -> str:
    try:
        root = etree.fromstring(config_xml.encode())
        if etree.QName(root).localname == "config":
            return config_xml
    except etree.XMLSyntaxError:
        pass  # several top-level elements: they go inside <config>
    return _well_formed(f'<config xmlns="{BASE_NS}">{config_xml}</config>', "config_xml")


def _reason(operation: str, creds: NetconfCredentials, error: Exception, rpc_timeout: float) -> str:
    if isinstance(error, AuthenticationError):
        return f"authentication failed for user {creds.user!r} on port {creds.port}"
    if isinstance(error, SSHUnknownHostError):
        return "host key not trusted: unknown or changed (check the known_hosts file)"
    if isinstance(error, ConnectionRefusedError):
        return f"unreachable: connection refused on port {creds.port}"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return f"unreachable: no answer on port {creds.port}"
    if isinstance(error, OSError) and not isinstance(error, paramiko.SSHException):
        return f"unreachable: {error.strerror or error}"
    if isinstance(error, RPCError):
        return f"rpc-error on {operation}: {_rpc_error_text(error)}"
    if isinstance(error, TimeoutExpiredError):
        return f"no reply to {operation} within {rpc_timeout:g} s"
    return f"NETCONF session failed during {operation}: {_plain_reason(error)}"


def _rpc_error_text(error: RPCError) -> str:
    """The server's own words: error-message, with the error-tag and the path it concerns."""
    parts = []
    for each in getattr(error, "errors", None) or [error]:
        message = (each.message or "").strip() or "no error-message"
        where = f" at {each.path.strip()}" if each.path and each.path.strip() else ""
        parts.append(f"{message} ({each.tag}{where})")
    return "; ".join(parts)


def _plain_reason(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _timestamp(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return None

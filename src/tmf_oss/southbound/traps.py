"""SNMP trap receiver: SNMPv1 traps, SNMPv2c and SNMPv3 traps and informs (acknowledged) become FaultRecords.

Decoding uses pysnmp's protocol modules on datagrams we receive ourselves, so every packet is accounted for: a
malformed one, or one with a community or SNMPv3 user we do not accept, is counted and logged, and the receiver
carries on. SNMPv3 messages go through pysnmp's USM (trap_v3.py).
SNMPv1 traps are read as their SNMPv2 equivalent (RFC 3584: generic trap n is snmpTraps.(n+1), an
enterprise-specific one is enterprise.0.specific), so one table of rules serves both.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from datetime import datetime, timezone

from pyasn1.codec.ber import decoder, encoder
from pyasn1.error import PyAsn1Error
from pysnmp.proto import api
from pysnmp.proto.error import ProtocolError

from tmf_oss.southbound.adapter import SnmpCredentials
from tmf_oss.southbound.faults import SNMP_TRAP, FaultRecord, FaultSink, ReceiverStats
from tmf_oss.southbound.trap_v3 import SnmpV3Notifications, V3Refused

log = logging.getLogger("tmf_oss.southbound.traps")

SNMP_TRAPS = "1.3.6.1.6.3.1.1.5"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
IF_INDEX = "1.3.6.1.2.1.2.2.1.1."
IF_DESCR = "1.3.6.1.2.1.2.2.1.2."
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1."

# The standard notifications (SNMPv2-MIB, IF-MIB): what they mean and how severe, in X.733 terms. Rules for
# other traps come with alarm management; until then an unknown trap is kept as "indeterminate".
STANDARD_TRAPS = {
    f"{SNMP_TRAPS}.1": ("coldStart", "warning"),
    f"{SNMP_TRAPS}.2": ("warmStart", "warning"),
    f"{SNMP_TRAPS}.3": ("linkDown", "major"),
    f"{SNMP_TRAPS}.4": ("linkUp", "cleared"),
    f"{SNMP_TRAPS}.5": ("authenticationFailure", "warning"),
    f"{SNMP_TRAPS}.6": ("egpNeighborLoss", "major"),
}
MAX_DATAGRAM = 65507
RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024  # the kernel caps it at net.core.rmem_max


class TrapError(ValueError):
    """A datagram that is not an SNMP notification we can read."""


class TrapRefused(TrapError):
    """A notification with a community this receiver does not accept."""


class SnmpV3Message(TrapError):
    """An SNMPv3 datagram: not for the v1/v2c decoder."""


@dataclass
class Decoded:
    record: FaultRecord
    acknowledgement: bytes | None  # the response an inform expects


def _text(value) -> str:
    if hasattr(value, "asOctets"):
        raw = bytes(value.asOctets())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.hex(":")
    return value.prettyPrint()


def _v1_trap_oid(module, pdu) -> str:
    generic = int(module.apiTrapPDU.get_generic_trap(pdu))
    if generic == 6:
        enterprise = str(module.apiTrapPDU.get_enterprise(pdu))
        return f"{enterprise}.0.{int(module.apiTrapPDU.get_specific_trap(pdu))}"
    return f"{SNMP_TRAPS}.{generic + 1}"


def _decode_message(data: bytes):
    """BER decoding is most of a trap's cost: decode once with the SNMPv2c structure (what nearly every device
    sends), and only on failure as SNMPv1, instead of decoding generically first to learn the version."""
    problem: Exception | None = None
    for version in (api.SNMP_VERSION_2C, api.SNMP_VERSION_1):
        module = api.PROTOCOL_MODULES[version]
        try:
            message, _rest = decoder.decode(data, asn1Spec=module.Message())
        except (PyAsn1Error, ValueError, TypeError) as exc:
            problem = exc
            continue
        if int(module.apiMessage.get_version(message)) == version:
            return version, module, message
    try:
        version = int(api.decodeMessageVersion(data))
    except (PyAsn1Error, ValueError, TypeError, ProtocolError):
        version = None
    if version == 3:
        raise SnmpV3Message("an SNMPv3 message")
    raise TrapError(f"not an SNMPv1/v2c message: {type(problem).__name__ if problem else 'version'}")


def decode_trap(data: bytes, sender: str, received_at: datetime,
                communities: frozenset[str] | None = None) -> Decoded:
    """One datagram -> a FaultRecord (raises TrapError, or TrapRefused for a community not accepted)."""
    if len(data) > MAX_DATAGRAM:
        raise TrapError("datagram too large")
    version, module, message = _decode_message(data)
    community = _text(module.apiMessage.get_community(message))
    if communities is not None and community not in communities:
        raise TrapRefused("community not accepted")
    pdu = module.apiMessage.get_pdu(message)
    acknowledgement = None
    details: dict = {"version": "1" if version == api.SNMP_VERSION_1 else "2c"}
    if version == api.SNMP_VERSION_1:
        if not pdu.isSameTypeWith(module.TrapPDU()):
            raise TrapError("an SNMPv1 message that is not a trap")
        trap_oid = _v1_trap_oid(module, pdu)
        uptime = int(module.apiTrapPDU.get_timestamp(pdu))
        details["agent_address"] = module.apiTrapPDU.get_agent_address(pdu).prettyPrint()
        bindings = module.apiTrapPDU.get_varbinds(pdu)
    else:
        if pdu.isSameTypeWith(module.InformRequestPDU()):
            response = module.apiMessage.get_response(message)
            acknowledgement = encoder.encode(response)
        elif not pdu.isSameTypeWith(module.SNMPv2TrapPDU()):
            raise TrapError("an SNMPv2c message that is not a trap or an inform")
        bindings = module.apiPDU.get_varbinds(pdu)
        trap_oid, uptime = _v2_header(bindings)
    return Decoded(_record(sender, received_at, trap_oid, uptime, bindings, details), acknowledgement)


def _v2_header(bindings) -> tuple[str, int]:
    """snmpTrapOID.0 and sysUpTime.0 of an SNMPv2 notification."""
    by_oid = {str(oid): value for oid, value in bindings}
    if SNMP_TRAP_OID not in by_oid:
        raise TrapError("a notification without snmpTrapOID.0")
    return str(by_oid[SNMP_TRAP_OID]), int(by_oid[SYS_UPTIME]) if SYS_UPTIME in by_oid else 0


def decode_v3_notification(notification, sender: str, received_at: datetime) -> FaultRecord:
    trap_oid, uptime = _v2_header(notification.bindings)
    details = {"version": "3", "user": notification.user, "engine_id": notification.engine_id}
    return _record(sender, received_at, trap_oid, uptime, notification.bindings, details)


def _record(sender: str, received_at: datetime, trap_oid: str, uptime: int, bindings, details: dict) -> FaultRecord:
    kind, severity = STANDARD_TRAPS.get(trap_oid, (trap_oid, "indeterminate"))
    record = FaultRecord(source=SNMP_TRAP, device_address=sender, received_at=received_at, kind=kind,
                         severity=severity, details=details)
    varbinds = {}
    for oid, value in bindings:
        oid = str(oid)
        if oid in (SYS_UPTIME, SNMP_TRAP_OID):
            continue
        varbinds[oid] = _text(value) if hasattr(value, "asOctets") else value.prettyPrint()
        if oid.startswith(IF_INDEX):
            record.interface_index = int(value)
        elif oid.startswith(IF_NAME) or (oid.startswith(IF_DESCR) and record.interface is None):
            record.interface = _text(value)
    details.update(trap_oid=trap_oid, uptime_seconds=uptime / 100, varbinds=varbinds)
    if record.interface_index is None:  # ifIndex may only show as the index of another column
        for oid in varbinds:
            if oid.startswith((IF_DESCR, IF_NAME, "1.3.6.1.2.1.2.2.1.7.", "1.3.6.1.2.1.2.2.1.8.")):
                record.interface_index = int(oid.rsplit(".", 1)[1])
                break
    where = f" on {record.interface or 'ifIndex ' + str(record.interface_index)}" \
        if record.interface or record.interface_index is not None else ""
    record.text = f"{kind}{where} from {sender}"
    return record


class TrapReceiver(asyncio.DatagramProtocol):
    """Listens on a UDP port (162 by default on a real deployment; configurable) and feeds a FaultSink."""

    def __init__(self, sink: FaultSink, *, communities: frozenset[str] | None = None,
                 v3_credentials: dict[str, SnmpCredentials] | None = None):
        """`v3_credentials`: SNMPv3 credentials by device address (the devices file's); without any, SNMPv3
        notifications are refused."""
        self.sink = sink
        self.communities = communities
        self.v3 = SnmpV3Notifications(v3_credentials or {}, self._reply)
        self.stats = ReceiverStats()
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 162, *, shared: bool = False) -> "TrapReceiver":
        """`shared`: other processes bind the same port (SO_REUSEPORT); the kernel spreads senders over them, one
        sender always to the same process, so each device's traps stay in order."""
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, port),
                                                                reuse_port=shared or None)
        # A trap storm arrives faster than it is decoded for a while: a large socket buffer absorbs the burst.
        sock = self.transport.get_extra_info("socket")
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        except OSError:
            pass
        self.port = self.transport.get_extra_info("sockname")[1]
        return self

    async def stop(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.v3.close()

    def _reply(self, data: bytes, addr: tuple) -> None:
        if self.transport is not None:
            self.transport.sendto(data, addr)

    def datagram_received(self, data: bytes, addr) -> None:
        self.stats.received += 1
        sender = addr[0]
        received_at = datetime.now(timezone.utc)
        try:
            decoded = decode_trap(data, sender, received_at, self.communities)
        except TrapRefused:
            self.stats.refused += 1
            log.warning("trap from %s refused: community not accepted", sender)
            return
        except SnmpV3Message:
            self._v3_received(data, addr, received_at)
            return
        except TrapError as exc:
            self.stats.malformed += 1
            log.warning("unreadable datagram from %s (%d bytes): %s", sender, len(data), exc)
            return
        if decoded.acknowledgement is not None:
            self._reply(decoded.acknowledgement, addr)
        self._record(decoded.record, sender)

    def _v3_received(self, data: bytes, addr, received_at: datetime) -> None:
        sender = addr[0]
        try:
            notification = self.v3.decode(data, addr)
        except V3Refused as refused:
            self.stats.refused += 1
            log.warning("SNMPv3 message from %s refused: %s", sender, refused)
            return
        if notification is None:  # an inform sender's engine-ID discovery, answered by the engine
            return
        try:
            record = decode_v3_notification(notification, sender, received_at)
        except TrapError as exc:
            self.stats.malformed += 1
            log.warning("unreadable SNMPv3 notification from %s: %s", sender, exc)
            return
        self._record(record, sender)

    def _record(self, record: FaultRecord, sender: str) -> None:
        try:
            self.sink(record)
            self.stats.recorded += 1
        except Exception:
            self.stats.sink_errors += 1
            log.exception("recording a trap from %s failed", sender)

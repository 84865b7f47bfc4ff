"""The SNMP adapter (pysnmp, asyncio): identity, interfaces, physical components and counters of a device, and
configuration changes by SET.

Standard MIB objects only, by numeric OID (no MIB files needed): SNMPv2-MIB system group, IF-MIB ifTable and
ifXTable, ENTITY-MIB entPhysicalTable, LLDP-MIB remote table. v2c or v3 (authPriv). Tables are read with GETBULK
walks. A SET carries all its changes in one PDU, which the agent applies as a whole or not at all (RFC 3416);
the adapter reads the previous values first, so a caller can undo a change later. One SnmpAdapter serves many devices concurrently; `max_concurrency` bounds the requests in flight so a
large fleet neither floods the network nor the process.
"""
from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timezone

from pysnmp.hlapi.v3arch import asyncio as snmp
from pysnmp.hlapi.varbinds import MibViewControllerManager
from pysnmp.proto.rfc1902 import (Counter32, Counter64, Gauge32, Integer, Integer32, OctetString, TimeTicks,
                                  Unsigned32)

from tmf_oss.southbound.adapter import (CounterSample, DeviceError, DeviceIdentity, DeviceTarget, Discovery,
                                        Interface, InterfaceCounters, Neighbour, PhysicalComponent, SnmpCredentials)

log = logging.getLogger("tmf_oss.southbound.snmp")

SYSTEM = {"description": "1.3.6.1.2.1.1.1.0", "object_id": "1.3.6.1.2.1.1.2.0", "uptime": "1.3.6.1.2.1.1.3.0",
          "contact": "1.3.6.1.2.1.1.4.0", "name": "1.3.6.1.2.1.1.5.0", "location": "1.3.6.1.2.1.1.6.0"}
IF_TABLE = "1.3.6.1.2.1.2.2.1"
IF_X_TABLE = "1.3.6.1.2.1.31.1.1.1"
ENT_PHYSICAL_TABLE = "1.3.6.1.2.1.47.1.1.1.1"
LLDP_REMOTE_TABLE = "1.0.8802.1.1.2.1.4.1.1"
LLDP_LOCAL_PORT_TABLE = "1.0.8802.1.1.2.1.3.7.1"

STATUS = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent", 7: "lowerLayerDown"}
PHYSICAL_CLASS = {1: "other", 2: "unknown", 3: "chassis", 4: "backplane", 5: "container", 6: "powerSupply",
                  7: "fan", 8: "sensor", 9: "module", 10: "port", 11: "stack", 12: "cpu"}

AUTH_PROTOCOLS = {"MD5": snmp.usmHMACMD5AuthProtocol, "SHA": snmp.usmHMACSHAAuthProtocol,
                  "SHA224": snmp.usmHMAC128SHA224AuthProtocol, "SHA256": snmp.usmHMAC192SHA256AuthProtocol,
                  "SHA384": snmp.usmHMAC256SHA384AuthProtocol, "SHA512": snmp.usmHMAC384SHA512AuthProtocol}
PRIV_PROTOCOLS = {"DES": snmp.usmDESPrivProtocol, "AES": snmp.usmAesCfb128Protocol,
                  "AES192": snmp.usmAesCfb192Protocol, "AES256": snmp.usmAesCfb256Protocol}

IF_ADMIN_STATUS = "1.3.6.1.2.1.2.2.1.7"
IF_ALIAS = "1.3.6.1.2.1.31.1.1.1.18"
ADMIN_STATUS_VALUES = {"up": 1, "down": 2, "testing": 3}

BULK_SIZE = 25


def _auth_data(credentials: SnmpCredentials):
    if credentials.version == "3":
        if credentials.auth_protocol not in AUTH_PROTOCOLS or credentials.priv_protocol not in PRIV_PROTOCOLS:
            raise ValueError(f"unsupported SNMPv3 protocols {credentials.auth_protocol}/{credentials.priv_protocol}")
        return snmp.UsmUserData(
            credentials.user,
            credentials.auth_key.reveal() if credentials.auth_key else None,
            credentials.priv_key.reveal() if credentials.priv_key else None,
            authProtocol=AUTH_PROTOCOLS[credentials.auth_protocol] if credentials.auth_key else snmp.usmNoAuthProtocol,
            privProtocol=PRIV_PROTOCOLS[credentials.priv_protocol] if credentials.priv_key else snmp.usmNoPrivProtocol,
        )
    if credentials.version != "2c":
        raise ValueError(f"unsupported SNMP version {credentials.version!r} (2c or 3)")
    return snmp.CommunityData(credentials.community.reveal(), mpModel=1)


def _snmp_value(value):
    """What a SET sends: int as INTEGER, text or bytes as OCTET STRING; any other SMI type given as pysnmp's."""
    if isinstance(value, bool):
        raise TypeError("an SNMP value cannot be a bool")
    if isinstance(value, int):
        return Integer32(value)
    if isinstance(value, (str, bytes)):
        return OctetString(value)
    if hasattr(value, "isSameTypeWith"):  # already a pysnmp value (Gauge32, IpAddress, ...)
        return value
    raise TypeError(f"cannot send a {type(value).__name__} over SNMP")


def _python(value):
    """A pysnmp value as plain Python: numbers as int, strings as text (MAC-like octets as hex)."""
    if isinstance(value, (Integer, Integer32, Counter32, Counter64, Gauge32, Unsigned32, TimeTicks)):
        return int(value)
    if isinstance(value, snmp.ObjectIdentity) or value.__class__.__name__ == "ObjectIdentifier":
        return str(value)
    raw = bytes(value.asOctets()) if hasattr(value, "asOctets") else str(value).encode()
    try:
        text = raw.decode("utf-8")
        if text.isprintable() or text == "":
            return text
    except UnicodeDecodeError:
        pass
    return ":".join(f"{byte:02x}" for byte in raw)


_HEX_PAIRS = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2})*$")


def _mac(value) -> str:
    """ifPhysAddress as colon-separated hex, always: `_python` shows octets that happen to be printable (a
    random MAC such as 76:38:61:62:67:6b) as text, which is right for names and wrong for addresses."""
    if not value:
        return ""
    text = str(value)
    return text if _HEX_PAIRS.match(text) else ":".join(f"{byte:02x}" for byte in text.encode("utf-8"))


class SnmpAdapter:
    def __init__(self, *, max_concurrency: int = 64):
        self.engine = snmp.SnmpEngine()
        self._slots = asyncio.Semaphore(max_concurrency)
        self._requested: dict[str, snmp.ObjectType] = {}

    def _request_varbind(self, oid: str) -> snmp.ObjectType:
        """A GET's (or a walk's first) variable binding, resolved against the MIBs once per OID: pysnmp resolves
        every binding it is given on every request (and every answer too, unless asked not to), which cost more
        CPU than the rest of a poll together. A resolved binding is passed through as it is."""
        found = self._requested.get(oid)
        if found is None:
            if len(self._requested) > 100_000:  # a bound for a long-lived adapter asked for ever new OIDs
                self._requested.clear()
            controller = MibViewControllerManager.get_mib_view_controller(self.engine.cache)
            found = self._requested[oid] = snmp.ObjectType(snmp.ObjectIdentity(oid)).resolve_with_mib(controller)
        return found

    def close(self) -> None:
        self.engine.close_dispatcher()

    async def _transport(self, target: DeviceTarget):
        try:
            return await snmp.UdpTransportTarget.create((target.address, target.port), timeout=target.timeout,
                                                        retries=target.retries)
        except Exception as exc:  # an unresolvable name, a malformed address
            raise DeviceError(target.address, f"cannot reach the SNMP agent: {exc}") from None

    async def get(self, target: DeviceTarget, oids: list[str]) -> dict[str, object]:
        transport = await self._transport(target)
        async with self._slots:
            # Answers are read by OID and typed by their encoding (Counter32, OctetString...): no MIB lookup.
            error, status, index, bindings = await snmp.get_cmd(
                self.engine, _auth_data(target.snmp), transport, snmp.ContextData(),
                *(self._request_varbind(oid) for oid in oids), lookupMib=False)
        if error:
            raise DeviceError(target.address, f"SNMP GET failed: {error}")
        if status:
            raise DeviceError(target.address, f"SNMP GET refused: {status.prettyPrint()} at {index}")
        return {str(oid): _python(value) for oid, value in bindings
                if value.__class__.__name__ not in ("NoSuchObject", "NoSuchInstance", "EndOfMibView")}

    async def set(self, target: DeviceTarget, values: dict[str, object]) -> dict[str, object]:
        """Set every OID in `values` in one SET PDU: the agent applies all of them or none. Returns the values
        they had before (read just ahead of the SET), for an undo. A refused change raises DeviceError naming the
        object and the agent's reason."""
        if not values:
            return {}
        bindings = [snmp.ObjectType(snmp.ObjectIdentity(oid), _snmp_value(value)) for oid, value in values.items()]
        previous = await self.get(target, list(values))
        transport = await self._transport(target)
        async with self._slots:
            error, status, index, _ = await snmp.set_cmd(
                self.engine, _auth_data(target.snmp), transport, snmp.ContextData(), *bindings)
        if error:
            raise DeviceError(target.address, f"SNMP SET failed: {error}")
        if status:
            position = int(index)
            culprit = list(values)[position - 1] if 0 < position <= len(values) else "the request"
            raise DeviceError(target.address, f"SNMP SET refused, nothing changed: {status.prettyPrint()} "
                                              f"for {culprit}")
        return previous

    async def configure_interface(self, target: DeviceTarget, index: int, *, admin_status: str | None = None,
                                  alias: str | None = None) -> dict[str, object]:
        """Bring an interface up or down and/or set its description (ifAlias), in one SET."""
        values: dict[str, object] = {}
        if admin_status is not None:
            if admin_status not in ADMIN_STATUS_VALUES:
                raise ValueError(f"admin status must be one of {sorted(ADMIN_STATUS_VALUES)}")
            values[f"{IF_ADMIN_STATUS}.{index}"] = ADMIN_STATUS_VALUES[admin_status]
        if alias is not None:
            values[f"{IF_ALIAS}.{index}"] = alias
        return await self.set(target, values)

    async def walk(self, target: DeviceTarget, table: str) -> dict[tuple[int, ...], dict[int, object]]:
        """A table as {row index: {column: value}}, read with GETBULK."""
        transport = await self._transport(target)
        prefix = tuple(int(part) for part in table.split("."))
        rows: dict[tuple[int, ...], dict[int, object]] = {}
        async with self._slots:
            async for error, status, index, bindings in snmp.bulk_walk_cmd(
                    self.engine, _auth_data(target.snmp), transport, snmp.ContextData(), 0, BULK_SIZE,
                    self._request_varbind(table), lexicographicMode=False, lookupMib=False):
                if error:
                    raise DeviceError(target.address, f"SNMP walk of {table} failed: {error}")
                if status:
                    raise DeviceError(target.address, f"SNMP walk of {table} refused: {status.prettyPrint()}")
                for oid, value in bindings:
                    parts = tuple(oid.asTuple())
                    if parts[:len(prefix)] != prefix or len(parts) <= len(prefix) + 1:
                        continue
                    column, row = parts[len(prefix)], parts[len(prefix) + 1:]
                    rows.setdefault(row, {})[column] = _python(value)
        return rows

    async def identity(self, target: DeviceTarget) -> DeviceIdentity:
        values = await self.get(target, list(SYSTEM.values()))
        named = {key: values.get(oid) for key, oid in SYSTEM.items()}
        if named["name"] is None and named["description"] is None:
            raise DeviceError(target.address, "the agent answered without the system group")
        return DeviceIdentity(name=str(named["name"] or target.address), description=str(named["description"] or ""),
                              object_id=str(named["object_id"] or ""), location=str(named["location"] or ""),
                              contact=str(named["contact"] or ""), uptime_seconds=(named["uptime"] or 0) / 100)

    async def interfaces(self, target: DeviceTarget) -> list[Interface]:
        table, extended = await asyncio.gather(self.walk(target, IF_TABLE), self.walk(target, IF_X_TABLE))
        found = []
        for row, columns in sorted(table.items()):
            x = extended.get(row, {})
            speed = columns.get(5) or 0
            if speed == 4294967295 and x.get(15):  # ifSpeed saturates at 4.29 Gb/s; ifHighSpeed is in Mb/s
                speed = x[15] * 1_000_000
            found.append(Interface(
                index=row[0], name=str(x.get(1) or columns.get(2) or row[0]), description=str(columns.get(2) or ""),
                alias=str(x.get(18) or ""), type=columns.get(3) or 0, mtu=columns.get(4) or 0, speed_bps=speed,
                mac_address=_mac(columns.get(6)), admin_status=STATUS.get(columns.get(7), "unknown"),
                oper_status=STATUS.get(columns.get(8), "unknown")))
        return found

    async def components(self, target: DeviceTarget) -> list[PhysicalComponent]:
        table = await self.walk(target, ENT_PHYSICAL_TABLE)
        return [PhysicalComponent(
            index=row[0], name=str(columns.get(7) or ""), description=str(columns.get(2) or ""),
            physical_class=PHYSICAL_CLASS.get(columns.get(5), "other"), contained_in=columns.get(4) or 0,
            serial_number=str(columns.get(11) or ""), model_name=str(columns.get(13) or ""),
            firmware=str(columns.get(9) or ""), software=str(columns.get(10) or ""))
            for row, columns in sorted(table.items())]

    async def neighbours(self, target: DeviceTarget) -> list[Neighbour]:
        remote, local_ports = await asyncio.gather(self.walk(target, LLDP_REMOTE_TABLE),
                                                   self.walk(target, LLDP_LOCAL_PORT_TABLE))
        found = []
        for row, columns in sorted(remote.items()):
            # Row index: timeMark, localPortNum, remIndex.
            local_port = local_ports.get((row[1],), {})
            found.append(Neighbour(local_interface=str(local_port.get(3) or row[1]),
                                   remote_name=str(columns.get(9) or ""),
                                   remote_interface=str(columns.get(7) or "")))
        return found

    async def discover(self, target: DeviceTarget) -> Discovery:
        identity = await self.identity(target)  # first, alone: an unreachable device fails fast and once
        interfaces, components, neighbours = await asyncio.gather(
            self.interfaces(target), self.components(target), self.neighbours(target))
        return Discovery(address=target.address, identity=identity, interfaces=interfaces, components=components,
                         neighbours=neighbours, discovered_at=datetime.now(timezone.utc))

    async def read_counters(self, target: DeviceTarget) -> CounterSample:
        uptime, table, extended = await asyncio.gather(
            self.get(target, [SYSTEM["uptime"]]), self.walk(target, IF_TABLE), self.walk(target, IF_X_TABLE))
        counters = []
        for row, columns in sorted(table.items()):
            x = extended.get(row, {})
            high = 6 in x and 10 in x  # ifHCInOctets / ifHCOutOctets
            counters.append(InterfaceCounters(
                index=row[0],
                in_octets=x[6] if high else columns.get(10, 0), out_octets=x[10] if high else columns.get(16, 0),
                in_unicast_packets=x.get(7, columns.get(11, 0)), out_unicast_packets=x.get(11, columns.get(17, 0)),
                in_errors=columns.get(14, 0), out_errors=columns.get(20, 0),
                in_discards=columns.get(13, 0), out_discards=columns.get(19, 0),
                oper_status=STATUS.get(columns.get(8), "unknown"), high_capacity=bool(high)))
        return CounterSample(address=target.address, uptime_seconds=(uptime.get(SYSTEM["uptime"]) or 0) / 100,
                             read_at=datetime.now(timezone.utc), interfaces=counters)

"""What the rest of tmf-oss knows of a device, whatever protocol reaches it: the adapter interface and its data.

Discovery and inventory code speak only these types; an SNMP, NETCONF or other adapter fills them in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class Secret(str):
    """A credential: usable as a string, but never shown by repr, str formatting in logs, or error messages."""

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:  # str(secret) and "%s" in a log line show nothing
        return "***"

    def __format__(self, _spec: str) -> str:  # nor does an f-string
        return "***"

    def reveal(self) -> str:
        return str.__str__(self)


@dataclass(frozen=True)
class SnmpCredentials:
    version: str = "2c"  # "2c" or "3"
    community: Secret = Secret("public")
    user: str = ""
    auth_key: Secret | None = None
    priv_key: Secret | None = None
    auth_protocol: str = "SHA"  # MD5, SHA, SHA224, SHA256, SHA384, SHA512
    priv_protocol: str = "AES"  # DES, AES (128), AES192, AES256


@dataclass(frozen=True)
class NetconfCredentials:
    user: str
    password: Secret | None = None
    key_file: str | None = None  # path of a private key; its passphrase, if any, is `password`
    port: int = 830


@dataclass(frozen=True)
class DeviceTarget:
    """How to reach one device's management agents."""

    address: str
    port: int = 161  # SNMP
    snmp: SnmpCredentials = field(default_factory=SnmpCredentials)
    timeout: float = 2.0
    retries: int = 1
    netconf: NetconfCredentials | None = None  # None: the device is not managed over NETCONF


@dataclass
class DeviceIdentity:
    name: str
    description: str
    object_id: str  # sysObjectID: vendor and model family
    location: str = ""
    contact: str = ""
    uptime_seconds: float = 0.0


@dataclass
class Interface:
    index: int
    name: str
    description: str = ""
    alias: str = ""
    type: int = 0  # IANAifType
    mtu: int = 0
    speed_bps: int = 0
    mac_address: str = ""
    admin_status: str = "unknown"  # up, down, testing
    oper_status: str = "unknown"  # up, down, testing, unknown, dormant, notPresent, lowerLayerDown


@dataclass
class PhysicalComponent:
    """A chassis, card, port, power supply... as the device's ENTITY-MIB describes it."""

    index: int
    name: str
    description: str
    physical_class: str  # chassis, module, port, powerSupply, fan, sensor, container, stack, cpu, other
    contained_in: int = 0  # index of the parent component, 0 at the top
    serial_number: str = ""
    model_name: str = ""
    firmware: str = ""
    software: str = ""


@dataclass
class Neighbour:
    local_interface: str
    remote_name: str
    remote_interface: str
    remote_address: str = ""


@dataclass
class Discovery:
    """Everything one discovery pass learned about a device."""

    address: str
    identity: DeviceIdentity
    interfaces: list[Interface] = field(default_factory=list)
    components: list[PhysicalComponent] = field(default_factory=list)
    neighbours: list[Neighbour] = field(default_factory=list)
    discovered_at: datetime | None = None


@dataclass
class InterfaceCounters:
    index: int
    in_octets: int
    out_octets: int
    in_unicast_packets: int
    out_unicast_packets: int
    in_errors: int
    out_errors: int
    in_discards: int
    out_discards: int
    oper_status: str
    high_capacity: bool  # 64-bit ifHC* counters (wrap far later than the 32-bit ones)


@dataclass
class CounterSample:
    """Counters read in one pass, with the device's uptime: a restart shows as uptime going back."""

    address: str
    uptime_seconds: float
    read_at: datetime
    interfaces: list[InterfaceCounters]


class DeviceError(Exception):
    """A device could not be reached or answered in error; the message says which and why (never a secret)."""

    def __init__(self, address: str, message: str):
        super().__init__(f"{address}: {message}")
        self.address = address
        self.reason = message


class DeviceAdapter(Protocol):
    async def discover(self, target: DeviceTarget) -> Discovery: ...

    async def read_counters(self, target: DeviceTarget) -> CounterSample: ...

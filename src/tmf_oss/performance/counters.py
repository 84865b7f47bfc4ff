"""The raw values performance indicators are computed from: what each is called, where the device keeps it, and
a reading of them taken at one instant.

Every name in the table below may appear in an indicator's derivation expression (see derivation.py).

=========================  ====================  ==========  =========  ============================================
name                       kind                  scope       unit       source
=========================  ====================  ==========  =========  ============================================
ifInOctets                 counter32             interface   octet      IF-MIB ifTable
ifOutOctets                counter32             interface   octet      IF-MIB ifTable
ifInUcastPkts              counter32             interface   packet     IF-MIB ifTable
ifOutUcastPkts             counter32             interface   packet     IF-MIB ifTable
ifInDiscards               counter32             interface   packet     IF-MIB ifTable
ifOutDiscards              counter32             interface   packet     IF-MIB ifTable
ifInErrors                 counter32             interface   packet     IF-MIB ifTable
ifOutErrors                counter32             interface   packet     IF-MIB ifTable
ifInUnknownProtos          counter32             interface   packet     IF-MIB ifTable
ifInMulticastPkts          counter32             interface   packet     IF-MIB ifXTable
ifOutMulticastPkts         counter32             interface   packet     IF-MIB ifXTable
ifInBroadcastPkts          counter32             interface   packet     IF-MIB ifXTable
ifOutBroadcastPkts         counter32             interface   packet     IF-MIB ifXTable
ifHCInOctets               counter64             interface   octet      IF-MIB ifXTable
ifHCOutOctets              counter64             interface   octet      IF-MIB ifXTable
ifHCInUcastPkts            counter64             interface   packet     IF-MIB ifXTable
ifHCOutUcastPkts           counter64             interface   packet     IF-MIB ifXTable
ifHCInMulticastPkts        counter64             interface   packet     IF-MIB ifXTable
ifHCOutMulticastPkts       counter64             interface   packet     IF-MIB ifXTable
ifHCInBroadcastPkts        counter64             interface   packet     IF-MIB ifXTable
ifHCOutBroadcastPkts       counter64             interface   packet     IF-MIB ifXTable
ifSpeed                    gauge                 interface   bit/s      IF-MIB ifTable (saturates at 4294967295)
ifHighSpeed                gauge                 interface   Mbit/s     IF-MIB ifXTable
ifAdminStatus              enumeration           interface              IF-MIB: 1 up, 2 down, 3 testing
ifOperStatus               enumeration           interface              IF-MIB: 1 up, 2 down, 3 testing, 4 unknown,
                                                                        5 dormant, 6 notPresent, 7 lowerLayerDown
ifCounterDiscontinuityTime timeticks             interface   1/100 s    IF-MIB ifXTable: sysUpTime when the
                                                                        interface's counters last restarted
sysUpTime                  timeticks             device      1/100 s    SNMPv2-MIB: time since the agent started
hrProcessorLoad            gauge (average)       device      %          HOST-RESOURCES-MIB, averaged over processors
memTotalReal               gauge                 device      kB         UCD-SNMP-MIB
memAvailReal               gauge                 device      kB         UCD-SNMP-MIB
=========================  ====================  ==========  =========  ============================================

An interface-scoped value's OID is its table column: the device's value for interface N is `<oid>.N`. A
device-scoped value's OID is the full instance (`...0`), except for the one "average" value, hrProcessorLoad: the
device keeps one row per processor (indexed by hrDeviceIndex, how many is not known ahead), so its OID is the
column, the whole column is walked, and the value is the mean of its rows (absent when the device has none).

Kinds say how a value changes: counter32 and counter64 only ever increase and wrap to 0 past 2^32 - 1 and
2^64 - 1 (only their increase over an interval means anything); a gauge goes up and down; an enumeration is a
code; timeticks count hundredths of a second.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Mapping

Kind = Literal["counter32", "counter64", "gauge", "enumeration", "timeticks"]
Scope = Literal["interface", "device"]

COUNTER_MODULUS = {"counter32": 2 ** 32, "counter64": 2 ** 64}


@dataclass(frozen=True)
class Counter:
    name: str
    oid: str  # the column for an interface-scoped value, the full instance for a device-scoped one
    kind: Kind
    scope: Scope
    unit: str
    average_of_rows: bool = False  # `oid` is a column of a table of unknown rows; the value is their mean

    @property
    def is_counter(self) -> bool:
        return self.kind in COUNTER_MODULUS


_IF = "1.3.6.1.2.1.2.2.1"  # ifEntry
_IFX = "1.3.6.1.2.1.31.1.1.1"  # ifXEntry


def _table(*entries: Counter) -> dict[str, Counter]:
    return {entry.name: entry for entry in entries}


COUNTERS: dict[str, Counter] = _table(
    Counter("ifInOctets", f"{_IF}.10", "counter32", "interface", "octet"),
    Counter("ifOutOctets", f"{_IF}.16", "counter32", "interface", "octet"),
    Counter("ifInUcastPkts", f"{_IF}.11", "counter32", "interface", "packet"),
    Counter("ifOutUcastPkts", f"{_IF}.17", "counter32", "interface", "packet"),
    Counter("ifInDiscards", f"{_IF}.13", "counter32", "interface", "packet"),
    Counter("ifOutDiscards", f"{_IF}.19", "counter32", "interface", "packet"),
    Counter("ifInErrors", f"{_IF}.14", "counter32", "interface", "packet"),
    Counter("ifOutErrors", f"{_IF}.20", "counter32", "interface", "packet"),
    Counter("ifInUnknownProtos", f"{_IF}.15", "counter32", "interface", "packet"),
    Counter("ifInMulticastPkts", f"{_IFX}.2", "counter32", "interface", "packet"),
    Counter("ifOutMulticastPkts", f"{_IFX}.4", "counter32", "interface", "packet"),
    Counter("ifInBroadcastPkts", f"{_IFX}.3", "counter32", "interface", "packet"),
    Counter("ifOutBroadcastPkts", f"{_IFX}.5", "counter32", "interface", "packet"),
    Counter("ifHCInOctets", f"{_IFX}.6", "counter64", "interface", "octet"),
    Counter("ifHCOutOctets", f"{_IFX}.10", "counter64", "interface", "octet"),
    Counter("ifHCInUcastPkts", f"{_IFX}.7", "counter64", "interface", "packet"),
    Counter("ifHCOutUcastPkts", f"{_IFX}.11", "counter64", "interface", "packet"),
    Counter("ifHCInMulticastPkts", f"{_IFX}.8", "counter64", "interface", "packet"),
    Counter("ifHCOutMulticastPkts", f"{_IFX}.12", "counter64", "interface", "packet"),
    Counter("ifHCInBroadcastPkts", f"{_IFX}.9", "counter64", "interface", "packet"),
    Counter("ifHCOutBroadcastPkts", f"{_IFX}.13", "counter64", "interface", "packet"),
    Counter("ifSpeed", f"{_IF}.5", "gauge", "interface", "bit/s"),
    Counter("ifHighSpeed", f"{_IFX}.15", "gauge", "interface", "Mbit/s"),
    Counter("ifAdminStatus", f"{_IF}.7", "enumeration", "interface", ""),
    Counter("ifOperStatus", f"{_IF}.8", "enumeration", "interface", ""),
    Counter("ifCounterDiscontinuityTime", f"{_IFX}.19", "timeticks", "interface", "1/100 s"),
    Counter("sysUpTime", "1.3.6.1.2.1.1.3.0", "timeticks", "device", "1/100 s"),
    Counter("hrProcessorLoad", "1.3.6.1.2.1.25.3.3.1.2", "gauge", "device", "%", average_of_rows=True),
    Counter("memTotalReal", "1.3.6.1.4.1.2021.4.5.0", "gauge", "device", "kB"),
    Counter("memAvailReal", "1.3.6.1.4.1.2021.4.6.0", "gauge", "device", "kB"),
)

UPTIME = "sysUpTime"
# Changes when an interface's counters restart (interface re-created, module reset) without the agent restarting.
DISCONTINUITY = "ifCounterDiscontinuityTime"

ValueKey = tuple[str, int | None]  # (counter name, ifIndex; None for a device-scoped value)


@dataclass(frozen=True)
class Reading:
    """The values read from one device in one round, and when. `monotonic` is time.monotonic() on the host that
    read them: the elapsed time between two readings of a device, which rates divide by, is the difference of
    their `monotonic` stamps, so both must come from one host's clock."""

    values: Mapping[ValueKey, float]
    taken_at: datetime  # UTC
    monotonic: float

    @property
    def uptime(self) -> float | None:
        """sysUpTime, in hundredths of a second; None when the agent did not give it."""
        return self.values.get((UPTIME, None))

"""The normalized fault record every receiver produces, whatever the protocol it came in on.

Receivers (SNMP traps, syslog, NETCONF notifications) turn what a device sends into FaultRecords and hand them to a
sink; the fault store keeps them, and alarm management builds alarms on them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

SNMP_TRAP = "snmp-trap"
SYSLOG = "syslog"
NETCONF_NOTIFICATION = "netconf-notification"

# Severities in X.733 terms (what TMF642 perceivedSeverity uses), so later stages need no per-protocol mapping.
SEVERITIES = ("critical", "major", "minor", "warning", "indeterminate", "cleared")


@dataclass
class FaultRecord:
    source: str  # SNMP_TRAP, SYSLOG or NETCONF_NOTIFICATION
    device_address: str  # the address the device sent from (its management address)
    received_at: datetime  # when we received it (UTC)
    kind: str  # what happened, e.g. "linkDown", "coldStart", a syslog MSGID or tag, a notification name
    severity: str = "indeterminate"  # one of SEVERITIES
    text: str = ""  # human-readable summary
    device_time: datetime | None = None  # when the device says it happened, if it says
    interface: str | None = None  # ifName / interface name, when the fault concerns one
    interface_index: int | None = None  # ifIndex, when known
    details: dict = field(default_factory=dict)  # everything else the message carried (varbinds, SD params, ...)


FaultSink = Callable[[FaultRecord], None]


@dataclass
class ReceiverStats:
    """What a receiver has seen since it started, the same for every protocol."""

    received: int = 0  # datagrams received
    recorded: int = 0  # FaultRecords the sink accepted
    malformed: int = 0  # datagrams that were not readable messages
    refused: int = 0  # readable, but not accepted (e.g. an SNMP community we do not take)
    sink_errors: int = 0  # FaultRecords the sink raised on

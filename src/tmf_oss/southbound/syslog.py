"""The syslog receiver: syslog messages received over UDP become FaultRecords.

Both formats devices send are understood: RFC 5424 (with structured data) and the older BSD format, RFC 3164
(including the hostname-less and Cisco IOS variants). `parse_syslog` is a pure function; `SyslogReceiver` binds a
UDP socket (IPv4 or IPv6) and hands every parsed message to a FaultSink. A malformed datagram or a failing sink is
logged and counted, and never stops the receiver.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from datetime import datetime, timedelta, timezone

from tmf_oss.southbound.faults import SYSLOG, FaultRecord, FaultSink, ReceiverStats

log = logging.getLogger("tmf_oss.southbound.syslog")

MAX_MESSAGE_BYTES = 64 * 1024  # above any real syslog message; bounds the work one datagram can cause
LOGGED_PAYLOAD_BYTES = 200  # how much of a malformed datagram a warning shows
# RFC 3164 timestamps have no year and no time zone; how far ahead of us a device's clock may plausibly be.
DEVICE_CLOCK_AHEAD = timedelta(days=1)

# Syslog severity (RFC 5424 section 6.2.1) -> X.733 perceived severity. The syslog severity itself is kept in
# details["syslog_severity"], so later rules can refine what a message means.
X733_SEVERITY: dict[int, str] = {
    0: "critical",  # emergency: the system is unusable
    1: "critical",  # alert: action must be taken immediately
    2: "critical",  # critical condition
    3: "major",  # error: something failed, but the device as a whole still works
    4: "warning",  # warning: a potential problem, exactly the X.733 meaning
    5: "indeterminate",  # notice: normal but significant; X.733 ranks "minor" above "warning", notice is below
    6: "indeterminate",  # informational: not a fault in itself
    7: "indeterminate",  # debug: likewise
}

# Interface state changes, recognised in the message text whatever the vendor. Each pattern has the groups
# `interface` and `state` (up/down), optionally `ifindex`; the first pattern that matches wins. Append your own.
INTERFACE_STATE_PATTERNS: list[re.Pattern[str]] = [
    # Cisco IOS: "%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down" (and LINEPROTO-5-UPDOWN)
    re.compile(r"\binterface (?P<interface>[^\s,]+), changed state to (?:administratively )?(?P<state>up|down)\b",
               re.IGNORECASE),
    # Junos: "SNMP_TRAP_LINK_DOWN: ifIndex 526, ifAdminStatus up(1), ifOperStatus down(2), ifName ge-0/0/1"
    re.compile(r"\bSNMP_TRAP_LINK_(?P<state>UP|DOWN): ifIndex (?P<ifindex>\d+),.*?\bifName (?P<interface>[^\s,]+)"),
    # Junos and generic: "Interface ge-0/0/1 is down", "Interface eth1 link down"
    re.compile(r"\binterface (?P<interface>[^\s,]+?):? (?:link )?(?:is )?(?:administratively )?(?P<state>up|down)\b",
               re.IGNORECASE),
    # Linux kernel and daemons: "eth0: link down", "e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex"
    re.compile(r"\b(?P<interface>[\w.@-]+): (?:NIC )?link (?:is )?(?P<state>up|down)\b", re.IGNORECASE),
]

NILVALUE = "-"
_PRI = re.compile(rb"<(?P<pri>\d{1,3})>")
_RFC5424_HEADER = re.compile(r"1 (?P<timestamp>\S+) (?P<hostname>\S+) (?P<app_name>\S+) (?P<procid>\S+) "
                             r"(?P<msgid>\S+) (?P<rest>.*)\Z", re.DOTALL)
_RFC5424_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})\Z")
_SD_NAME = r'[^\s="\]]{1,32}'
_SD_VALUE = r'(?:[^"\\]|\\.)*'  # anything but a bare quote or backslash: \" \\ \] are escapes
_SD_ELEMENT = re.compile(rf'\[(?P<id>{_SD_NAME})(?P<params>(?: {_SD_NAME}="{_SD_VALUE}")*)\]', re.DOTALL)
_SD_PARAM = re.compile(rf'(?P<name>{_SD_NAME})="(?P<value>{_SD_VALUE})"', re.DOTALL)
_SD_ESCAPE = re.compile(r'\\(["\\\]])')  # RFC 5424: a backslash before any other character is kept as is
# "Mmm dd hh:mm:ss", day padded with a space. Cisco IOS may prefix "*" (clock not synchronised) and add
# milliseconds and a colon: "*Mar  1 18:46:11.123: %SYS-5-CONFIG_I: ...".
_RFC3164_HEADER = re.compile(r"[*.]?(?P<month>[A-Z][a-z]{2}) {1,2}(?P<day>\d{1,2}) "
                             r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.(?P<fraction>\d{1,6}))?:?"
                             r"(?: (?P<rest>.*))?\Z", re.DOTALL)
_RFC3164_TAG = re.compile(r"(?P<tag>[^\s\[\]:]+)(?:\[(?P<pid>[^\]]*)\])?:(?: |\Z)")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# Each format's parser returns (details, device_time, text, the text interface recognisers search).
_Parsed = tuple[dict, datetime | None, str, str]


class SyslogParseError(ValueError):
    """The datagram is not a syslog message we can read; the text says why."""


def parse_syslog(data: bytes, sender: str, received_at: datetime) -> FaultRecord:
    """One syslog message (RFC 5424 or RFC 3164) from `sender` as a FaultRecord; SyslogParseError if malformed."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise SyslogParseError(f"message of {len(data)} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")
    pri_match = _PRI.match(data)
    if not pri_match:
        raise SyslogParseError("missing <PRI> at the start of the message")
    pri = int(pri_match["pri"])
    if pri > 191:
        raise SyslogParseError(f"PRI {pri} out of range (0-191)")
    # Devices send all sorts of bytes in MSG: never fail on them, replace them.
    rest = data[pri_match.end():].decode("utf-8", errors="replace")
    if re.match(r"\d+ ", rest):
        details, device_time, text, searched = _parse_rfc5424(rest)
    else:
        details, device_time, text, searched = _parse_rfc3164(rest, _as_utc(received_at))

    facility, syslog_severity = divmod(pri, 8)
    kind = details["msgid"] or details["app_name"] or "syslog"
    interface = interface_index = None
    if state_change := _recognise_interface_state(searched):
        kind, interface, interface_index = state_change
    return FaultRecord(
        source=SYSLOG, device_address=sender, received_at=received_at, kind=kind,
        severity=X733_SEVERITY[syslog_severity],
        text=text.rstrip("\r\n\x00"),  # many senders end a message with a newline or a NUL: not part of the text
        device_time=device_time, interface=interface, interface_index=interface_index,
        details={"facility": facility, "syslog_severity": syslog_severity, **details},
    )


def _parse_rfc5424(rest: str) -> _Parsed:
    if not rest.startswith("1 "):
        raise SyslogParseError(f"unsupported syslog version {rest.split(' ', 1)[0]!r} (only RFC 5424 version 1)")
    header = _RFC5424_HEADER.match(rest)
    if not header:
        raise SyslogParseError("truncated RFC 5424 header (expected VERSION TIMESTAMP HOSTNAME APP-NAME PROCID "
                               "MSGID STRUCTURED-DATA)")
    structured_data, after = _parse_structured_data(header["rest"])
    if after and not after.startswith(" "):
        raise SyslogParseError("expected a space between the structured data and the message")
    details = {"format": "rfc5424", "structured_data": structured_data,
               **{name: _nil(header[name]) for name in ("hostname", "app_name", "procid", "msgid")}}
    text = after[1:].removeprefix("\ufeff")  # a BOM marks MSG as UTF-8; it is not part of the text
    return details, _parse_rfc5424_timestamp(header["timestamp"]), text, text


def _parse_rfc5424_timestamp(value: str) -> datetime | None:
    if value == NILVALUE:
        return None
    if not _RFC5424_TIMESTAMP.match(value):
        raise SyslogParseError(f"bad RFC 5424 timestamp {value[:40]!r}")
    try:
        return datetime.fromisoformat(value).astimezone(timezone.utc)
    except ValueError as exc:  # well formed but impossible, e.g. month 13
        raise SyslogParseError(f"bad RFC 5424 timestamp {value[:40]!r}: {exc}") from None


def _parse_structured_data(text: str) -> tuple[dict[str, dict[str, str]], str]:
    """The SD elements at the start of `text` (SD-ID -> params) and what follows them."""
    if text.startswith(NILVALUE):
        return {}, text[1:]
    elements: dict[str, dict[str, str]] = {}
    position = 0
    while element := _SD_ELEMENT.match(text, position):
        # A repeated PARAM-NAME (RFC 5424 allows it, e.g. several origin ip=) keeps its last value.
        elements[element["id"]] = {param["name"]: _SD_ESCAPE.sub(r"\1", param["value"])
                                   for param in _SD_PARAM.finditer(element["params"])}
        position = element.end()
    if position == 0:
        raise SyslogParseError(f"malformed RFC 5424 structured data near {text[:40]!r}")
    return elements, text[position:]


def _parse_rfc3164(rest: str, received_at: datetime) -> _Parsed:
    header = _RFC3164_HEADER.match(rest)
    if not header or header["month"] not in _MONTHS:
        raise SyslogParseError(f"bad RFC 3164 timestamp (expected 'Mmm dd hh:mm:ss') near {rest[:20]!r}")
    content = header["rest"] or ""
    # HOSTNAME is optional in practice: some devices start with the TAG right away.
    hostname = None
    if not _RFC3164_TAG.match(content):
        hostname, _, content = content.partition(" ")
    tag = _RFC3164_TAG.match(content)
    details = {"format": "rfc3164", "hostname": hostname or None, "app_name": tag["tag"] if tag else None,
               "procid": tag["pid"] if tag else None, "msgid": None, "structured_data": {}}
    text = content[tag.end():] if tag else content
    # The TAG can be the interface itself ("eth0: link down"), so recognisers search the whole content.
    return details, _rfc3164_time(header, received_at), text, content


def _rfc3164_time(header: re.Match[str], received_at: datetime) -> datetime:
    """The timestamp in the latest year that does not put it in the future (a December message received in January
    is from last year), allowing for a device clock somewhat ahead. The format has no time zone: UTC is assumed."""
    month = _MONTHS.index(header["month"]) + 1
    parts = [int(header[name]) for name in ("day", "hour", "minute", "second")]
    microsecond = int((header["fraction"] or "0").ljust(6, "0"))
    for year in (received_at.year + 1, received_at.year, received_at.year - 1):
        try:
            candidate = datetime(year, month, *parts, microsecond, tzinfo=timezone.utc)
        except ValueError:  # e.g. Feb 29 outside a leap year, or 25:00:00
            continue
        if candidate <= received_at + DEVICE_CLOCK_AHEAD:
            return candidate
    raise SyslogParseError(f"bad RFC 3164 timestamp: no such date or time {header.group(0)[:20]!r}")


def _recognise_interface_state(text: str) -> tuple[str, str, int | None] | None:
    """(kind, interface, ifIndex) if the text reports an interface going up or down."""
    for pattern in INTERFACE_STATE_PATTERNS:
        if match := pattern.search(text):
            ifindex = match.groupdict().get("ifindex")
            kind = "linkUp" if match["state"].lower() == "up" else "linkDown"
            return kind, match["interface"], int(ifindex) if ifindex else None
    return None


def _nil(value: str) -> str | None:
    return None if value == NILVALUE else value


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _sender_address(address: tuple) -> str:
    """The sender's host as text; an IPv4 client seen on a dual-stack socket ("::ffff:192.0.2.1") as plain IPv4."""
    host = address[0]
    try:
        mapped = ipaddress.ip_address(host).ipv4_mapped if ":" in host else None
    except ValueError:
        return host
    return str(mapped) if mapped else host


class SyslogReceiver(asyncio.DatagramProtocol):
    """Listens for syslog datagrams and hands each one, as a FaultRecord, to `sink`."""

    def __init__(self, sink: FaultSink):
        self.sink = sink
        self.stats = ReceiverStats()
        self.port: int | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._closed: asyncio.Future[None] | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0, *, shared: bool = False) -> None:
        """Bind to host:port (port 0: any free port, then see `self.port`); IPv4 or IPv6 follows from `host`.
        `shared`: other processes bind the same port (SO_REUSEPORT) and the kernel spreads senders over them."""
        loop = asyncio.get_running_loop()
        self._closed = loop.create_future()
        self._transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, port),
                                                                 reuse_port=shared or None)
        self.port = self._transport.get_extra_info("sockname")[1]
        log.info("syslog receiver listening on %s port %s", host, self.port)

    async def stop(self) -> None:
        if self._transport is None:
            return
        self._transport.close()
        self._transport = None
        await self._closed

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.stats.received += 1
        sender = _sender_address(addr)
        try:
            record = parse_syslog(data, sender, datetime.now(timezone.utc))
        except SyslogParseError as exc:
            self.stats.malformed += 1
            log.warning("malformed syslog message from %s: %s; payload %r%s", sender, exc,
                        data[:LOGGED_PAYLOAD_BYTES], "..." if len(data) > LOGGED_PAYLOAD_BYTES else "")
            return
        try:
            self.sink(record)
        except Exception:
            # One record the sink cannot take must not cost us the next ones.
            self.stats.sink_errors += 1
            log.exception("fault sink failed on a syslog message from %s (kind %s)", sender, record.kind)
            return
        self.stats.recorded += 1

    def error_received(self, exc: Exception) -> None:
        log.warning("syslog receiver socket error: %s", exc)

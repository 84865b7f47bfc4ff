"""Syslog: RFC 5424 and RFC 3164 messages parsed into FaultRecords, and real UDP datagrams received on loopback."""
from __future__ import annotations

import asyncio
import logging
import re
import shutil
import socket
from datetime import datetime, timedelta, timezone

import pytest

from tmf_oss.southbound import syslog
from tmf_oss.southbound.faults import SEVERITIES, SYSLOG, FaultRecord
from tmf_oss.southbound.syslog import MAX_MESSAGE_BYTES, X733_SEVERITY, SyslogParseError, SyslogReceiver, parse_syslog

RECEIVED = datetime(2024, 6, 15, 12, 0, tzinfo=timezone.utc)
SENDER = "192.0.2.10"
CISCO_LINK_DOWN = b"<187>Jun 15 11:59:00 %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down"


def parse(message: bytes | str, received_at: datetime = RECEIVED) -> FaultRecord:
    return parse_syslog(message.encode() if isinstance(message, str) else message, SENDER, received_at)


# --- RFC 5424 -------------------------------------------------------------------------------------------------------

def test_rfc5424_with_several_sd_elements_escapes_and_bom():
    record = parse(b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 8710 ID47 '
                   b'[exampleSDID@32473 iut="3" eventSource="Appl\\"ic\\\\at\\]ion" note="a\\nb"]'
                   b'[examplePriority@32473 class="high"] \xef\xbb\xbfAn application event log entry')

    assert record.source == SYSLOG
    assert record.device_address == SENDER  # the UDP sender, not the HOSTNAME
    assert record.received_at == RECEIVED
    assert record.kind == "ID47"
    assert record.text == "An application event log entry"
    assert record.device_time == datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=timezone.utc)
    assert record.details == {
        "facility": 20, "syslog_severity": 5, "format": "rfc5424", "hostname": "mymachine.example.com",
        "app_name": "evntslog", "procid": "8710", "msgid": "ID47",
        "structured_data": {
            # \" \\ \] are unescaped; any other backslash is kept as sent
            "exampleSDID@32473": {"iut": "3", "eventSource": 'Appl"ic\\at]ion', "note": "a\\nb"},
            "examplePriority@32473": {"class": "high"},
        },
    }


def test_rfc5424_timestamp_offset_and_fraction_become_utc():
    record = parse("<34>1 2003-08-24T05:14:15.000003-07:00 host app - - - hello")
    assert record.device_time == datetime(2003, 8, 24, 12, 14, 15, 3, tzinfo=timezone.utc)
    assert record.device_time.utcoffset() == timedelta(0)


def test_rfc5424_nilvalues():
    record = parse("<34>1 - - - - - -")
    assert record.device_time is None
    assert record.kind == "syslog"
    assert record.text == ""
    assert record.details == {
        "facility": 4, "syslog_severity": 2, "format": "rfc5424", "hostname": None, "app_name": None,
        "procid": None, "msgid": None, "structured_data": {}}


def test_rfc5424_without_msgid_takes_kind_from_app_name_and_strips_line_ending():
    record = parse("<14>1 2024-06-15T11:59:00Z router1 bgpd 77 - - neighbor 192.0.2.1 up\n")
    assert record.kind == "bgpd"
    assert record.text == "neighbor 192.0.2.1 up"
    assert record.details["hostname"] == "router1"


# --- RFC 3164 -------------------------------------------------------------------------------------------------------

def test_rfc3164_with_hostname():
    record = parse("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")
    assert record.kind == "su"
    assert record.severity == "critical"
    assert record.text == "'su root' failed for lonvick on /dev/pts/8"
    assert record.device_time == datetime(2023, 10, 11, 22, 14, 15, tzinfo=timezone.utc)  # not in the future
    assert record.details == {"facility": 4, "syslog_severity": 2, "format": "rfc3164", "hostname": "mymachine",
                              "app_name": "su", "procid": None, "msgid": None, "structured_data": {}}


def test_rfc3164_space_padded_day_and_pid():
    record = parse("<13>Jun  5 17:32:18 10.0.0.99 sshd[4721]: Accepted publickey for admin")
    assert record.device_time == datetime(2024, 6, 5, 17, 32, 18, tzinfo=timezone.utc)
    assert (record.details["hostname"], record.details["app_name"], record.details["procid"]) == \
        ("10.0.0.99", "sshd", "4721")
    assert record.text == "Accepted publickey for admin"


def test_rfc3164_without_hostname():
    record = parse(CISCO_LINK_DOWN)
    assert record.details["hostname"] is None
    assert record.details["app_name"] == "%LINK-3-UPDOWN"
    assert record.device_address == SENDER


def test_rfc3164_cisco_timestamp_with_unsynchronised_mark_and_milliseconds():
    record = parse("<189>*Jun 15 11:59:00.123: %SYS-5-CONFIG_I: Configured from console by admin")
    assert record.device_time == datetime(2024, 6, 15, 11, 59, 0, 123000, tzinfo=timezone.utc)
    assert record.kind == "%SYS-5-CONFIG_I"
    assert record.text == "Configured from console by admin"


def test_rfc3164_without_tag():
    record = parse("<13>Jun 15 11:59:00 switch7 fan tray 2 removed")
    assert record.details["hostname"] == "switch7"
    assert record.details["app_name"] is None
    assert record.kind == "syslog"
    assert record.text == "fan tray 2 removed"


@pytest.mark.parametrize("stamp, received_at, year", [
    ("Dec 31 23:59:50", datetime(2025, 1, 1, 0, 0, 5, tzinfo=timezone.utc), 2024),  # sent last year
    ("Jan  1 00:00:02", datetime(2024, 12, 31, 23, 59, 59, tzinfo=timezone.utc), 2025),  # device clock a bit ahead
    ("Mar  1 08:00:00", datetime(2025, 3, 1, 8, 0, 1, tzinfo=timezone.utc), 2025),
    ("Jun 16 02:00:00", datetime(2025, 6, 15, 12, 0, 0, tzinfo=timezone.utc), 2025),  # device in a zone ahead
    ("Jun 17 12:00:00", datetime(2025, 6, 15, 12, 0, 0, tzinfo=timezone.utc), 2024),  # too far ahead: last year
    ("Feb 29 10:00:00", datetime(2024, 3, 1, 0, 0, 0), 2024),  # naive received_at is taken as UTC
    ("Feb 29 10:00:00", datetime(2025, 3, 1, 0, 0, 0, tzinfo=timezone.utc), 2024),  # last year was a leap year
])
def test_rfc3164_year_comes_from_the_reception_time(stamp, received_at, year):
    record = parse(f"<13>{stamp} host app: text", received_at)
    assert record.device_time.year == year
    assert record.device_time.tzinfo == timezone.utc


# --- PRI and severity -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pri, facility, syslog_severity, severity", [
    (0, 0, 0, "critical"), (9, 1, 1, "critical"), (18, 2, 2, "critical"), (27, 3, 3, "major"),
    (36, 4, 4, "warning"), (45, 5, 5, "indeterminate"), (134, 16, 6, "indeterminate"),
    (191, 23, 7, "indeterminate"),
])
def test_pri_gives_facility_and_severity(pri, facility, syslog_severity, severity):
    record = parse(f"<{pri}>1 - - - - - - text")
    assert (record.details["facility"], record.details["syslog_severity"], record.severity) == \
        (facility, syslog_severity, severity)


def test_every_syslog_severity_maps_to_an_x733_severity():
    assert set(X733_SEVERITY) == set(range(8))
    assert set(X733_SEVERITY.values()) <= set(SEVERITIES)


# --- Interface state changes ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("content, kind, interface, interface_index", [
    ("%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down", "linkDown", "GigabitEthernet0/1", None),
    ("%LINEPROTO-5-UPDOWN: Line protocol on Interface Serial0/0:1, changed state to up", "linkUp", "Serial0/0:1", None),
    ("%LINK-5-CHANGED: Interface Vlan10, changed state to administratively down", "linkDown", "Vlan10", None),
    ("kernel: eth0: link down", "linkDown", "eth0", None),
    ("eth0.100: link up", "linkUp", "eth0.100", None),  # as the TAG, with no hostname
    ("kernel: [ 12.3] e1000e 0000:00:19.0 enp0s25: NIC Link is Up 1000 Mbps Full Duplex", "linkUp", "enp0s25", None),
    ("mib2d[1]: Interface ge-0/0/1 is down", "linkDown", "ge-0/0/1", None),
    ("mib2d[1]: Interface xe-1/0/0.0 is up", "linkUp", "xe-1/0/0.0", None),
    ("mib2d[1]: SNMP_TRAP_LINK_DOWN: ifIndex 526, ifAdminStatus up(1), ifOperStatus down(2), ifName ge-0/0/1",
     "linkDown", "ge-0/0/1", 526),
    ("myapp: Interface eth1 link down", "linkDown", "eth1", None),
])
def test_interface_state_changes_are_recognised(content, kind, interface, interface_index):
    record = parse(f"<187>Jun 15 11:59:00 {content}")
    assert (record.kind, record.interface, record.interface_index) == (kind, interface, interface_index)


def test_interface_state_change_in_rfc5424_overrides_msgid():
    record = parse("<187>1 2024-06-15T11:59:00Z r1 ifmgr - IFSTATE - Interface ge-0/0/3 is down")
    assert (record.kind, record.interface) == ("linkDown", "ge-0/0/3")
    assert record.details["msgid"] == "IFSTATE"


def test_messages_about_other_things_are_not_link_events():
    record = parse("<13>Jun 15 11:59:00 host sshd[1]: link to the documentation is down the page")
    assert record.kind == "sshd"
    assert record.interface is None


def test_interface_recognisers_are_extensible(monkeypatch):
    huawei = re.compile(r"interface (?P<interface>\S+) has entered the (?P<state>UP|DOWN) state", re.IGNORECASE)
    monkeypatch.setattr(syslog, "INTERFACE_STATE_PATTERNS", [*syslog.INTERFACE_STATE_PATTERNS, huawei])
    record = parse("<188>Jun 15 11:59:00 ne40 %%01IFNET/4/LINK_STATE(l)[0]:The line protocol IP on the interface "
                   "GigabitEthernet0/0/1 has entered the DOWN state.")
    assert (record.kind, record.interface) == ("linkDown", "GigabitEthernet0/0/1")


# --- Malformed input ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, reason", [
    (b"", "missing <PRI>"),
    (b"Jun 15 11:59:00 host app: no priority", "missing <PRI>"),
    (b"<abc>1 - - - - - -", "missing <PRI>"),
    (b"<192>1 - - - - - -", "PRI 192 out of range"),
    (b"<999>Jun 15 11:59:00 host app: text", "PRI 999 out of range"),
    (b"<13>1 2024-06-15T11:59:00Z host app", "truncated RFC 5424 header"),
    (b"<13>1 - - - - -", "truncated RFC 5424 header"),
    (b"<13>2 - - - - - - text", "unsupported syslog version"),
    (b"<13>1 yesterday host app - - - text", "bad RFC 5424 timestamp"),
    (b"<13>1 2024-13-01T00:00:00Z host app - - - text", "bad RFC 5424 timestamp"),
    (b"<13>1 2024-06-15T11:59:00 host app - - - text", "bad RFC 5424 timestamp"),  # no offset
    (b"<13>1 - host app - - [unterminated x=\"1\" text", "malformed RFC 5424 structured data"),
    (b"<13>1 - host app - - [ok x=\"1\"]text", "expected a space"),
    (b"<13>Foo 11 22:14:15 host app: text", "bad RFC 3164 timestamp"),
    (b"<13>Jun 15 25:14:15 host app: text", "bad RFC 3164 timestamp"),
    (b"<13>Feb 30 10:00:00 host app: text", "bad RFC 3164 timestamp"),
    (b"<13>Jun 15 11:5", "bad RFC 3164 timestamp"),
    (b"<13>", "bad RFC 3164 timestamp"),
])
def test_malformed_messages_are_refused_with_a_reason(data, reason):
    with pytest.raises(SyslogParseError, match=re.escape(reason)):
        parse(data)


def test_oversized_messages_are_refused():
    header = b"<13>1 - - - - - - "
    assert parse(header + b"x" * (MAX_MESSAGE_BYTES - len(header))).text == "x" * (MAX_MESSAGE_BYTES - len(header))
    with pytest.raises(SyslogParseError, match="exceeds"):
        parse(header + b"x" * (MAX_MESSAGE_BYTES - len(header) + 1))


def test_parse_error_is_a_value_error():
    assert issubclass(SyslogParseError, ValueError)


@pytest.mark.parametrize("data", [b"<13>1 - host app - - - caf\xe9 \xff\xfe end",
                                  b"<13>Jun 15 11:59:00 h a: \xc3( end"])
def test_invalid_utf8_is_replaced_not_fatal(data):
    record = parse(data)
    assert "\ufffd" in record.text
    assert record.text.endswith(" end")


# --- Receiving over UDP ---------------------------------------------------------------------------------------------

class Collector:
    """A FaultSink the test can wait on; raises for messages whose text is "boom"."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[FaultRecord] = asyncio.Queue()

    def __call__(self, record: FaultRecord) -> None:
        if record.text == "boom":
            raise RuntimeError("sink is broken")
        self.queue.put_nowait(record)

    async def next(self, timeout: float = 5.0) -> FaultRecord:
        return await asyncio.wait_for(self.queue.get(), timeout)


def send(host: str, port: int, *datagrams: bytes) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        for datagram in datagrams:
            sock.sendto(datagram, (host, port))


def ipv6_loopback_missing() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
        return False
    except OSError:
        return True


@pytest.mark.parametrize("host", [
    "127.0.0.1",
    pytest.param("::1", marks=pytest.mark.skipif(ipv6_loopback_missing(), reason="no IPv6 loopback on this host")),
])
def test_receiver_hands_datagrams_to_the_sink(host):
    async def scenario():
        collector = Collector()
        receiver = SyslogReceiver(collector)
        await receiver.start(host=host, port=0)
        try:
            assert receiver.port
            send(host, receiver.port, CISCO_LINK_DOWN)
            return await collector.next(), receiver.stats
        finally:
            await receiver.stop()

    before = datetime.now(timezone.utc)
    record, stats = asyncio.run(scenario())
    assert record.device_address == host
    assert before <= record.received_at <= datetime.now(timezone.utc)
    assert (record.kind, record.interface, record.severity) == ("linkDown", "GigabitEthernet0/1", "major")
    assert (stats.received, stats.recorded, stats.malformed, stats.sink_errors) == (1, 1, 0, 0)


def test_ipv4_senders_on_a_dual_stack_socket_get_their_plain_ipv4_address():
    assert syslog._sender_address(("::ffff:192.0.2.1", 514, 0, 0)) == "192.0.2.1"
    assert syslog._sender_address(("2001:db8::1", 514, 0, 0)) == "2001:db8::1"
    assert syslog._sender_address(("192.0.2.1", 514)) == "192.0.2.1"


def test_receiver_survives_malformed_datagrams_and_a_failing_sink(caplog):
    garbage = b"not syslog " * 100

    async def scenario():
        collector = Collector()
        receiver = SyslogReceiver(collector)
        await receiver.start()
        try:
            send("127.0.0.1", receiver.port, garbage, b"<13>1 - - app - - - boom", b"<13>1 - - app - - - fine")
            return await collector.next(), receiver.stats
        finally:
            await receiver.stop()
            await receiver.stop()  # stopping twice is harmless

    with caplog.at_level(logging.WARNING, logger="tmf_oss.southbound.syslog"):
        record, stats = asyncio.run(scenario())
    assert record.text == "fine"
    assert (stats.received, stats.recorded, stats.malformed, stats.sink_errors) == (3, 1, 1, 1)

    [malformed] = [entry for entry in caplog.records if entry.levelno == logging.WARNING]
    message = malformed.getMessage()
    assert "127.0.0.1" in message and "missing <PRI>" in message
    assert len(message) < len(garbage)  # the payload is truncated
    [sink_failure] = [entry for entry in caplog.records if entry.levelno == logging.ERROR]
    assert "sink" in sink_failure.getMessage() and sink_failure.exc_info


@pytest.mark.skipif(shutil.which("logger") is None, reason="the util-linux `logger` command is not installed")
@pytest.mark.parametrize("option, format_name", [("--rfc5424", "rfc5424"), ("--rfc3164", "rfc3164")])
def test_receiver_understands_the_logger_command(option, format_name):
    async def scenario():
        collector = Collector()
        receiver = SyslogReceiver(collector)
        await receiver.start()
        try:
            process = await asyncio.create_subprocess_exec(
                "logger", "--server", "127.0.0.1", "--port", str(receiver.port), "--udp", option, "-t", "myapp",
                "Interface eth1 link down", stderr=asyncio.subprocess.PIPE)
            _, stderr = await asyncio.wait_for(process.communicate(), 10)
            assert process.returncode == 0, stderr.decode()
            return await collector.next()
        finally:
            await receiver.stop()

    record = asyncio.run(scenario())
    assert record.device_address == "127.0.0.1"
    assert (record.kind, record.interface, record.text) == ("linkDown", "eth1", "Interface eth1 link down")
    assert record.details["format"] == format_name
    assert record.details["app_name"] == "myapp"
    # logger's default priority is user.notice
    assert (record.details["facility"], record.details["syslog_severity"], record.severity) == (1, 5, "indeterminate")
    assert record.device_time is not None
    if format_name == "rfc5424":  # RFC 3164 carries no time zone, so only RFC 5424 times can be compared
        assert abs(record.device_time - datetime.now(timezone.utc)) < timedelta(minutes=1)

"""SNMPv3 notifications (USM authPriv/authNoPriv): authenticated and decrypted by pysnmp's engine.

The trap receiver owns its socket and hands us the datagrams that are SNMPv3; pysnmp's message dispatcher does
the rest of RFC 3412/3414 (time windows, authentication, decryption, the engine-ID discovery an inform sender
starts with, the inform's response), so nothing of USM is written here.

Which keys to use: a trap's authoritative engine is the sender's, so its user's keys must be localized to the
sender's engine ID, which we learn from the message. The credentials are the ones the devices file gives the
sending device (by address), else those of a device with the same user name. An engine ID learned from a message
that then fails authentication is forgotten at once, so forged messages cannot grow the table.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from pyasn1.codec.ber import decoder
from pyasn1.error import PyAsn1Error
from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.carrier.base import AbstractTransportDispatcher
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import ntfrcv
from pysnmp.proto.mpmod.rfc3412 import SNMPv3Message
from pysnmp.proto.rfc1902 import OctetString
from pysnmp.proto.secmod.rfc3414.service import UsmSecurityParameters

from tmf_oss.southbound.adapter import SnmpCredentials
from tmf_oss.southbound.snmp import AUTH_PROTOCOLS, PRIV_PROTOCOLS

log = logging.getLogger("tmf_oss.southbound.traps")

MAX_LEARNED_ENGINES = 100_000  # far beyond any fleet; a bound all the same


@dataclass
class V3Notification:
    bindings: list  # (ObjectName, value) pairs, as an SNMPv2 notification carries them
    user: str
    engine_id: str  # hex: the sender's for a trap, ours for an inform
    inform: bool


class V3Refused(ValueError):
    """An SNMPv3 message we do not accept; the message says which kind of refusal, never a key."""


class _ReplySender(AbstractTransportDispatcher):
    """What pysnmp's engine sends (reports for engine-ID discovery, inform responses) goes out of our socket."""

    def __init__(self, send: Callable[[bytes, tuple], None]):
        super().__init__()
        self._send = send

    def send_message(self, outgoingMessage, transportDomain, transportAddress):  # noqa: N803 (pysnmp's names)
        self._send(bytes(outgoingMessage), tuple(transportAddress))


class SnmpV3Notifications:
    def __init__(self, by_address: dict[str, SnmpCredentials], send: Callable[[bytes, tuple], None]):
        self.by_address = {address: c for address, c in by_address.items() if c.version == "3" and c.user}
        self.by_user: dict[str, SnmpCredentials] = {}
        for credentials in self.by_address.values():
            self.by_user.setdefault(credentials.user, credentials)
        self._learned: set[tuple[bytes, str]] = set()
        self._engine = engine.SnmpEngine()
        self._engine_id = bytes(self._engine.snmpEngineID)
        self._engine.register_transport_dispatcher(_ReplySender(send))
        self._received: list[V3Notification] = []
        ntfrcv.NotificationReceiver(self._engine, self._notification)
        for credentials in self.by_user.values():  # informs: we are the authoritative engine
            self._add_user(credentials, None)

    def __bool__(self) -> bool:
        return bool(self.by_user)

    def close(self) -> None:
        self._engine.close_dispatcher()

    def decode(self, data: bytes, sender: tuple) -> V3Notification | None:
        """The notification in an SNMPv3 datagram; None for the engine-ID discovery step an inform sender starts
        with (the engine has answered it). Raises V3Refused for a message we do not accept."""
        try:
            message, _ = decoder.decode(data, asn1Spec=SNMPv3Message())
            security, _ = decoder.decode(bytes(message["msgSecurityParameters"]), asn1Spec=UsmSecurityParameters())
        except (PyAsn1Error, ValueError, TypeError):
            raise V3Refused("not a readable SNMPv3 message with USM security") from None
        engine_id = bytes(security["msgAuthoritativeEngineId"])
        user = bytes(security["msgUserName"]).decode("utf-8", "replace")
        if not user and not engine_id:
            discovery = True
        elif user not in self.by_user:
            raise V3Refused(f"unknown user {user!r}")
        else:
            discovery = False
        learning = self._learn(engine_id, user, sender[0])
        self._received.clear()
        try:
            self._engine.message_dispatcher.receive_message(self._engine, udp.DOMAIN_NAME, sender, data)
        except Exception:  # pysnmp counts and drops bad messages itself; anything else is still one bad datagram
            log.debug("SNMPv3 message from %s not processed", sender[0], exc_info=True)
        received = self._received[0] if self._received else None
        if received is not None:
            received.engine_id = engine_id.hex()
        if learning is not None and received is None:
            self._forget(engine_id, learning)
        if received is None and not discovery:
            raise V3Refused(f"user {user!r}: failed authentication or decryption, or outside the time window")
        return received

    def _learn(self, engine_id: bytes, user: str, address: str) -> SnmpCredentials | None:
        """Localize the sender's user to its engine ID, the first time we see the pair."""
        if not engine_id or not user or (engine_id, user) in self._learned or engine_id == self._engine_id:
            return None
        credentials = self.by_address.get(address)
        if credentials is None or credentials.user != user:
            credentials = self.by_user.get(user)
        if credentials is None or len(self._learned) >= MAX_LEARNED_ENGINES:
            return None
        self._add_user(credentials, engine_id)
        self._learned.add((engine_id, user))
        return credentials

    def _forget(self, engine_id: bytes, credentials: SnmpCredentials) -> None:
        self._learned.discard((engine_id, credentials.user))
        config.delete_v3_user(self._engine, credentials.user, securityEngineId=OctetString(engine_id))

    def _add_user(self, credentials: SnmpCredentials, engine_id: bytes | None) -> None:
        auth = credentials.auth_key.reveal() if credentials.auth_key else None
        priv = credentials.priv_key.reveal() if credentials.priv_key else None
        config.add_v3_user(
            self._engine, credentials.user,
            AUTH_PROTOCOLS[credentials.auth_protocol] if auth else config.USM_AUTH_NONE, auth,
            PRIV_PROTOCOLS[credentials.priv_protocol] if priv else config.USM_PRIV_NONE, priv,
            securityEngineId=OctetString(engine_id) if engine_id is not None else None)

    def _notification(self, snmp_engine, state_reference, context_engine_id, context_name, bindings, _context):
        request = snmp_engine.observer.get_execution_context("rfc3412.receiveMessage:request")
        self._received.append(V3Notification(
            bindings=list(bindings), user=str(request["securityName"]), engine_id="",
            inform=request["pdu"].__class__.__name__ == "InformRequestPDU"))

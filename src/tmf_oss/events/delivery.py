"""One delivery attempt: where an event goes, the HTTP POST with a hard timeout, and the retry policy.

The POST goes through libcurl (pycurl): the dispatcher's throughput is bounded by the client's cost per request,
and libcurl's is about a fifth of urllib3's and a third of http.client's (benchmarks/README.md). It also
releases the GIL while it waits, so delivery threads overlap, and enforces a total timeout per request.
"""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import pycurl

from tmf_oss.config import Settings

LISTENER_STYLE = "listener"
CALLBACK_STYLE = "callback"


def listener_name(event_type: str) -> str:
    """'ResourceCreateEvent' -> 'resourceCreateEvent', the name of the listener operation in the standard."""
    return event_type[:1].lower() + event_type[1:]


def target_url(callback: str, event_type: str, style: str) -> str:
    if style == CALLBACK_STYLE:
        return callback
    base, sep, query = callback.partition("?")
    return f"{base.rstrip('/')}/listener/{listener_name(event_type)}{sep}{query}"


@dataclass(frozen=True)
class RetryPolicy:
    backoff_base: float = 0.5
    backoff_max: float = 300.0
    max_attempts: int = 12
    max_age_seconds: float = 86400.0

    @classmethod
    def from_settings(cls, settings: Settings) -> "RetryPolicy":
        return cls(settings.delivery_backoff_base_seconds, settings.delivery_backoff_max_seconds,
                   settings.delivery_max_attempts, settings.delivery_max_age_seconds)

    def delay(self, failures: int) -> timedelta:
        # Jittered between half and all of the exponential delay: subscriptions failing against one recovering
        # listener spread their retries instead of arriving together.
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** min(failures - 1, 30))
        return timedelta(seconds=random.uniform(ceiling / 2, ceiling))

    def gives_up(self, failures: int, first_failure_at: datetime, now: datetime) -> bool:
        return failures >= self.max_attempts or (now - first_failure_at).total_seconds() >= self.max_age_seconds


class Sender:
    """POSTs event bodies. One libcurl handle per thread, kept between requests so connections stay alive."""

    def __init__(self, *, timeout: float):
        self.timeout_ms = max(1, int(timeout * 1000))
        self._local = threading.local()
        self._handles: list[pycurl.Curl] = []
        self._lock = threading.Lock()

    def _handle(self) -> pycurl.Curl:
        handle = getattr(self._local, "handle", None)
        if handle is None:
            handle = pycurl.Curl()
            handle.setopt(pycurl.NOSIGNAL, 1)  # required with threads; timeouts still apply
            handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
            handle.setopt(pycurl.FOLLOWLOCATION, 0)
            # Threads take whichever subscription is next, so each handle talks to many callback hosts: keep a
            # live connection to each rather than curl's default five.
            handle.setopt(pycurl.MAXCONNECTS, 256)
            handle.setopt(pycurl.TIMEOUT_MS, self.timeout_ms)
            handle.setopt(pycurl.CONNECTTIMEOUT_MS, self.timeout_ms)
            # No 'Expect: 100-continue' round trip for bodies over 1 KB.
            handle.setopt(pycurl.HTTPHEADER, ["Content-Type: application/json", "Expect:"])
            handle.setopt(pycurl.WRITEFUNCTION, _discard)
            self._local.handle = handle
            with self._lock:
                self._handles.append(handle)
        return handle

    def post(self, url: str, body: bytes) -> str | None:
        """None when the listener accepted the event (2xx), otherwise why not."""
        handle = self._handle()
        try:
            handle.setopt(pycurl.URL, url)
            handle.setopt(pycurl.POSTFIELDS, body)
            handle.perform()
        except pycurl.error as exc:
            code, message = exc.args[0], exc.args[1] if len(exc.args) > 1 else ""
            return f"{_CURL_ERRORS.get(code, 'curl error ' + str(code))}: {message}"
        status = handle.getinfo(pycurl.RESPONSE_CODE)
        if 200 <= status < 300:
            return None
        return f"HTTP {status}"

    def close(self) -> None:
        with self._lock:
            handles, self._handles = self._handles, []
        for handle in handles:
            handle.close()


def _discard(_chunk: bytes) -> None:
    return None


_CURL_ERRORS = {
    pycurl.E_COULDNT_CONNECT: "ConnectionRefused",
    pycurl.E_OPERATION_TIMEDOUT: "Timeout",
    pycurl.E_COULDNT_RESOLVE_HOST: "UnknownHost",
    pycurl.E_GOT_NOTHING: "EmptyReply",
    pycurl.E_RECV_ERROR: "ReceiveError",
    pycurl.E_SEND_ERROR: "SendError",
}

"""One delivery attempt: where an event goes, the HTTP POST with a hard timeout, and the retry policy.

urllib3 rather than httpx here: its pooled, thread-safe connections cost a fraction of httpx's per-request
overhead, and the dispatcher's throughput is bounded by that overhead.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import urllib3

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
    """POSTs event bodies; thread-safe, keeps connections alive per callback host."""

    def __init__(self, *, timeout: float, pool_size: int = 16):
        self.timeout = urllib3.Timeout(total=timeout)
        self.pool = urllib3.PoolManager(num_pools=256, maxsize=pool_size, block=False, retries=False)

    def post(self, url: str, body: bytes) -> str | None:
        """None when the listener accepted the event (2xx), otherwise why not."""
        try:
            response = self.pool.request("POST", url, body=body, timeout=self.timeout, redirect=False,
                                         headers={"Content-Type": "application/json"})
        except urllib3.exceptions.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        except (OSError, ValueError) as exc:  # e.g. an unreachable network, a URL urllib3 cannot parse
            return f"{type(exc).__name__}: {exc}"
        if 200 <= response.status < 300:
            return None
        return f"HTTP {response.status}"

    def close(self) -> None:
        self.pool.clear()

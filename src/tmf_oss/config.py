"""Settings, read once from TMF_OSS_* environment variables; CLI flags override them."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace

ENV_PREFIX = "TMF_OSS_"


def _as_bool(text: str) -> bool:
    return text.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///tmf-oss.db"
    host: str = "127.0.0.1"
    port: int = 8080
    # Public URL clients reach us on (scheme://host[:port]); empty means "derive from the request",
    # honouring X-Forwarded-Proto/Host when trust_forwarded_headers is on.
    public_base_url: str = ""
    trust_forwarded_headers: bool = True
    workers: int = 1
    log_level: str = "info"
    default_page_size: int = 100
    max_page_size: int = 1000
    # Per process, all collections together: list pages kept while nothing in their collection changes
    # (tmf/page_cache.py); 0 turns the cache off.
    list_page_cache_mb: int = 32
    # Validating every response costs a large share of each request; tests switch it on.
    validate_responses: bool = False
    # Run the event dispatcher inside `serve` (the embedded default); production runs `tmf-oss worker`.
    run_dispatcher: bool = True
    # Whether hub callbacks may point at private, loopback or link-local addresses. On by default so the
    # embedded default works on one machine; turn it off on a server that accepts hubs from outside.
    allow_private_callbacks: bool = True
    # Where events go: "listener" POSTs to {callback}/listener/{eventName} as the TMF listener API describes;
    # "callback" POSTs to the callback URL exactly as registered.
    callback_style: str = "listener"
    delivery_timeout_seconds: float = 5.0
    # Fallback poll; commits in this process (and NOTIFY on PostgreSQL) wake the dispatcher at once.
    dispatch_interval_seconds: float = 1.0
    # Subscriptions served at once by one dispatcher process; a slow callback holds one of these, no more.
    delivery_concurrency: int = 16
    # Retries: exponential backoff from this base, jittered and capped; then the event is parked.
    delivery_backoff_base_seconds: float = 0.5
    delivery_backoff_max_seconds: float = 300.0
    delivery_max_attempts: int = 12
    delivery_max_age_seconds: float = 86400.0
    # A dispatcher holds a subscription for this long per claim (renewed while it works); a crashed
    # dispatcher's subscriptions are taken over once it runs out.
    delivery_lease_seconds: float = 30.0
    # Delivered events older than this are removed from the outbox (parked ones are kept).
    outbox_retention_seconds: float = 7 * 86400.0
    # /metrics and /admin/v1/... (delivery state, parked events, replay).
    admin_api: bool = True
    # The managed devices (southbound/devices.py documents the format); used by `tmf-oss discover`.
    devices_file: str = ""
    # Fault receivers (`tmf-oss receive`, or inside `tmf-oss worker` with run_receivers). The standard ports
    # (162, 514) need privileges; these defaults do not. 0 turns a receiver off.
    run_receivers: bool = False
    receiver_host: str = "127.0.0.1"
    trap_port: int = 1162
    syslog_port: int = 1514
    trap_communities: str = "public"  # comma-separated; traps with another community are refused and counted
    # Fault records become TMF642 alarms (alarms/engine.py). Rules beyond the built-in ones: alarms/rules.py.
    alarm_rules_file: str = ""
    correlation_window_seconds: float = 60.0
    flap_window_seconds: float = 300.0
    flap_threshold: int = 3  # raises of one alarm within the flap window that make it flapping
    flap_hold_seconds: float = 120.0  # a flapping alarm clears once it has stayed clear this long
    # Fault records the engine has applied are removed once older than this (the alarms keep what they meant).
    fault_retention_seconds: float = 30 * 86400.0
    # The SSH host keys NETCONF devices must present (OpenSSH known_hosts format); empty: ~/.ssh/known_hosts.
    netconf_known_hosts: str = ""
    # A TMF633 service catalog file loaded after the one tmf-oss ships (catalog/default-catalog.yaml; README
    # describes the format); its entries add to the shipped ones and replace those with the same id.
    service_catalog_file: str = ""
    # Service orders (ordering/orchestrator.py): run the orchestrator inside `serve` and `worker`; orders one
    # process works on at once; how long a worker holds an order per claim (renewed while it works: a dead
    # worker's orders are taken over once it lapses); how long to wait for a device's configuration lock held
    # by someone else before reporting the device's refusal.
    run_orchestrator: bool = True
    order_concurrency: int = 8
    order_lease_seconds: float = 30.0
    device_lock_wait_seconds: float = 10.0
    # Performance management (performance/collector.py): run the collector inside `serve` and `worker`; how long
    # a worker holds a collection job per claim; how many real seconds a minute of granularity lasts (60; less
    # compresses time for a lab or a demo: 2 measures a g_1mn job every 2 s); how long raw values and the
    # 15-minute / hourly roll-ups are kept.
    run_collector: bool = True
    pm_lease_seconds: float = 120.0
    pm_seconds_per_minute: float = 60.0
    pm_raw_retention_days: int = 7
    pm_rollup_retention_days: int = 400
    swagger_ui: bool = True
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        if self.callback_style not in ("listener", "callback"):
            raise ValueError(f"callback_style must be 'listener' or 'callback', not '{self.callback_style}'")

    @classmethod
    def from_env(cls, environ: dict | None = None, **overrides) -> "Settings":
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _coerce(f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_overrides(self, **overrides) -> "Settings":
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _coerce(type_name, raw: str):
    type_name = str(type_name)
    if type_name == "bool":
        return _as_bool(raw)
    if type_name == "int":
        return int(raw)
    if type_name == "float":
        return float(raw)
    return raw

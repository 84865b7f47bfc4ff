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
    # Validating every response costs a large share of each request; tests switch it on.
    validate_responses: bool = False
    # Run the event dispatcher inside `serve` (the embedded default); production runs `tmf-oss worker`.
    run_dispatcher: bool = True
    allow_private_callbacks: bool = True
    delivery_timeout_seconds: float = 5.0
    dispatch_interval_seconds: float = 0.2
    swagger_ui: bool = True
    extra: dict = field(default_factory=dict, compare=False)

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

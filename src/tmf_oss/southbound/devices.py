"""Which devices to manage, how to reach them, and how often to rediscover them: a YAML file, not code.

    defaults:                        # optional; every device inherits these
      rediscover_seconds: 3600
      snmp: {version: "2c", community: {env: TMF_OSS_SNMP_COMMUNITY}}
    devices:
      - address: 192.0.2.10          # management address (SNMP agent)
      - address: 192.0.2.11
        port: 1161
        timeout: 3
        snmp:
          version: "3"
          user: oss
          auth_protocol: SHA         # MD5 SHA SHA224 SHA256 SHA384 SHA512
          auth_key: {file: /run/secrets/oss-auth}
          priv_protocol: AES         # DES AES AES192 AES256
          priv_key: {env: OSS_PRIV_KEY}
        netconf:                     # optional: the device also speaks NETCONF (over SSH)
          user: oss
          key_file: /run/secrets/oss-netconf-key   # and/or password: {env: ...} (the key's passphrase if both)
          port: 830
          notifications: true        # subscribe to its event stream (the fault receivers do); default true

SNMPv3 credentials also let the trap receiver accept the device's SNMPv3 notifications. A `netconf` section in
`defaults` is inherited like the `snmp` one; a device can turn it off with `netconf: null`.

A secret is `{env: NAME}` (an environment variable), `{file: PATH}` (the file's content, trailing newline
removed), or a plain string. Secrets are held as `Secret` values: never printed, logged or returned by an API.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from tmf_oss.southbound.adapter import DeviceError, DeviceTarget, NetconfCredentials, Secret, SnmpCredentials

SNMP_KEYS = {"version", "community", "user", "auth_key", "priv_key", "auth_protocol", "priv_protocol"}
NETCONF_KEYS = {"user", "password", "key_file", "port", "notifications"}
DEVICE_KEYS = {"address", "port", "timeout", "retries", "snmp", "netconf", "rediscover_seconds"}


class DeviceFileError(ValueError):
    """The devices file is not usable; the message says where and why."""


@dataclass(frozen=True)
class ManagedDevice:
    target: DeviceTarget
    rediscover_seconds: float = 3600.0
    netconf_notifications: bool = False  # subscribe to the device's NETCONF event stream


def _secret(value, where: str) -> Secret:
    if isinstance(value, str):
        return Secret(value)
    if isinstance(value, dict) and set(value) == {"env"}:
        if value["env"] not in os.environ:
            raise DeviceFileError(f"{where}: environment variable {value['env']} is not set")
        return Secret(os.environ[value["env"]])
    if isinstance(value, dict) and set(value) == {"file"}:
        try:
            return Secret(Path(value["file"]).read_text().rstrip("\n"))
        except OSError as exc:
            raise DeviceFileError(f"{where}: cannot read {value['file']}: {exc.strerror}") from None
    raise DeviceFileError(f"{where}: a secret is a string, {{env: NAME}} or {{file: PATH}}")


def _snmp(section: dict, inherited: SnmpCredentials, where: str) -> SnmpCredentials:
    if not isinstance(section, dict):
        raise DeviceFileError(f"{where}: 'snmp' must be a mapping")
    unknown = set(section) - SNMP_KEYS
    if unknown:
        raise DeviceFileError(f"{where}: unknown snmp settings {sorted(unknown)}")
    values = {}
    for key, value in section.items():
        if key in ("community", "auth_key", "priv_key"):
            values[key] = _secret(value, f"{where}.snmp.{key}")
        else:
            values[key] = str(value)
    credentials = replace(inherited, **values)
    if credentials.version not in ("2c", "3"):
        raise DeviceFileError(f"{where}: snmp version must be \"2c\" or \"3\"")
    if credentials.version == "3" and not credentials.user:
        raise DeviceFileError(f"{where}: SNMPv3 needs a user")
    return credentials


def _netconf(section, inherited: tuple[NetconfCredentials | None, bool], where: str
             ) -> tuple[NetconfCredentials | None, bool]:
    """(credentials, subscribe to notifications) from a `netconf` section over the inherited ones."""
    if section is None:
        return None, False
    if not isinstance(section, dict):
        raise DeviceFileError(f"{where}: 'netconf' must be a mapping (or null)")
    unknown = set(section) - NETCONF_KEYS
    if unknown:
        raise DeviceFileError(f"{where}: unknown netconf settings {sorted(unknown)}")
    base, notifications = inherited
    values = {} if base is None else {"user": base.user, "password": base.password, "key_file": base.key_file,
                                      "port": base.port}
    for key, value in section.items():
        if key == "password":
            values[key] = _secret(value, f"{where}.netconf.password")
        elif key == "port":
            values[key] = int(value)
        elif key == "notifications":
            if not isinstance(value, bool):
                raise DeviceFileError(f"{where}: netconf notifications is true or false")
            notifications = value
        else:
            values[key] = str(value)
    if not values.get("user"):
        raise DeviceFileError(f"{where}: NETCONF needs a user")
    if not values.get("password") and not values.get("key_file"):
        raise DeviceFileError(f"{where}: NETCONF needs a key_file or a password")
    if base is None and "notifications" not in section:
        notifications = True
    return NetconfCredentials(**values), notifications


def parse_devices(document: dict, *, source: str = "devices file") -> list[ManagedDevice]:
    if not isinstance(document, dict) or not isinstance(document.get("devices"), list):
        raise DeviceFileError(f"{source}: expected a mapping with a 'devices' list")
    defaults = document.get("defaults") or {}
    base_snmp = _snmp(defaults.get("snmp", {}), SnmpCredentials(), f"{source}: defaults")
    base_interval = float(defaults.get("rediscover_seconds", 3600))
    base_netconf = _netconf(defaults["netconf"], (None, False), f"{source}: defaults") \
        if "netconf" in defaults else (None, False)
    devices, seen = [], set()
    for position, entry in enumerate(document["devices"], start=1):
        where = f"{source}: device {position}"
        if not isinstance(entry, dict) or not entry.get("address"):
            raise DeviceFileError(f"{where}: every device needs an 'address'")
        unknown = set(entry) - DEVICE_KEYS
        if unknown:
            raise DeviceFileError(f"{where}: unknown settings {sorted(unknown)}")
        address = str(entry["address"])
        if address in seen:
            raise DeviceFileError(f"{where}: {address} is listed twice")
        seen.add(address)
        try:
            netconf, notifications = _netconf(entry["netconf"], base_netconf, where) \
                if "netconf" in entry else base_netconf
            target = DeviceTarget(address=address, port=int(entry.get("port", 161)),
                                  snmp=_snmp(entry.get("snmp", {}), base_snmp, where),
                                  timeout=float(entry.get("timeout", 2.0)), retries=int(entry.get("retries", 1)),
                                  netconf=netconf)
            interval = float(entry.get("rediscover_seconds", base_interval))
        except (TypeError, ValueError) as exc:
            if isinstance(exc, DeviceFileError):
                raise
            raise DeviceFileError(f"{where}: {exc}") from None
        devices.append(ManagedDevice(target, interval, notifications and netconf is not None))
    return devices


def load_devices(path: str | Path) -> list[ManagedDevice]:
    try:
        document = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise DeviceFileError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise DeviceFileError(f"{path} is not valid YAML: {exc}") from None
    return parse_devices(document, source=str(path))


class WatchedDevices:
    """The devices file as long-running work looks devices up in it (the orchestrator, the collector): read again
    whenever it changes, so devices and credentials can be edited without a restart."""

    def __init__(self, path: str | None):
        self.path = path or None
        self._stamp: float | None = None
        self._targets: dict[str, DeviceTarget] = {}
        self._problem: str | None = None
        self._lock = threading.Lock()

    def target(self, address: str, wanted: str = "access") -> DeviceTarget:
        """How to reach the device; DeviceError saying why not (`wanted` names what is missing, for the message)."""
        if not self.path:
            raise DeviceError(address, f"no devices file is configured (TMF_OSS_DEVICES_FILE), so tmf-oss has no "
                                       f"{wanted} for the device")
        with self._lock:
            try:
                stamp = os.stat(self.path).st_mtime
            except OSError as error:
                raise DeviceError(address, f"cannot read the devices file: {error.strerror}") from None
            if stamp != self._stamp:
                try:
                    self._targets = {device.target.address: device.target for device in load_devices(self.path)}
                    self._problem = None
                except DeviceFileError as error:
                    self._targets, self._problem = {}, f"the devices file is not usable: {error}"
                self._stamp = stamp
            problem, target = self._problem, self._targets.get(address)
        if problem:
            raise DeviceError(address, problem)
        if target is None:
            raise DeviceError(address, "the device is not in the devices file")
        return target

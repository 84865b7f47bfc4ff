"""A simulated network for trying tmf-oss without devices: snmpsim agents answering with generated data.

Each simulated device has its own loopback address (127.0.2.N by default), its own community (devN), and
standard MIB data: the system group, ifTable/ifXTable, and ENTITY-MIB (a chassis, a line card, ports). Used by
`tmf-oss demo`, the discovery benchmark and tests. snmpsim (PyPI, pure Python) is an optional dependency:
`pip install 'tmf-oss[demo]'`.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SIMULATOR = "snmpsim-command-responder"


def simulator_path() -> str | None:
    """snmpsim's responder; beside our interpreter first: installed in the same virtualenv, it need not be on
    PATH."""
    return shutil.which(SIMULATOR, path=str(Path(sys.executable).parent)) or shutil.which(SIMULATOR)
PORT = 1161
SYS_UP_TIME = "1.3.6.1.2.1.1.3.0"
READY_SECONDS = 60  # generous: indexing 250 devices' files on a loaded machine takes a while


def address(index: int, prefix: str = "127.0.2") -> str:
    return f"{prefix}.{index}"


def device_records(index: int, devices: int, interfaces: int, down: set[int]) -> str:
    """An snmprec file: OID|type|value lines in OID order (types: 2 integer, 4 string, 6 OID, 67 timeticks,
    65 counter32, 66 gauge32, 70 counter64; 4x is hex-encoded octets)."""
    lines = [
        ("1.3.6.1.2.1.1.1.0", 4, f"SimRouter {index} (snmpsim)"),
        ("1.3.6.1.2.1.1.2.0", 6, "1.3.6.1.4.1.8072.3.2.10"),
        ("1.3.6.1.2.1.1.3.0", 67, str(100000 + index)),
        ("1.3.6.1.2.1.1.4.0", 4, "noc@sim.invalid"),
        ("1.3.6.1.2.1.1.5.0", 4, f"sim{index:03}"),
        ("1.3.6.1.2.1.1.6.0", 4, f"sim site {index % 10}"),
    ]
    columns = {  # ifTable column -> value for interface n
        1: (2, lambda n: n), 2: (4, lambda n: f"ge-0/0/{n}"), 3: (2, lambda n: 6), 4: (2, lambda n: 1500),
        5: (66, lambda n: 1000000000), 6: ("4x", lambda n: f"02{index:02x}{index:02x}0000{n:02x}"),
        7: (2, lambda n: 1), 8: (2, lambda n: 2 if n in down else 1), 10: (65, lambda n: 1000 * n),
        16: (65, lambda n: 2000 * n),
    }
    for column, (kind, value) in columns.items():
        for n in range(1, interfaces + 1):
            lines.append((f"1.3.6.1.2.1.2.2.1.{column}.{n}", kind, str(value(n))))
    x_columns = {1: (4, lambda n: f"ge-0/0/{n}"), 6: (70, lambda n: 1000 * n), 10: (70, lambda n: 2000 * n),
                 15: (66, lambda n: 1000), 18: (4, lambda n: f"uplink {n}" if n == 1 else "")}
    for column, (kind, value) in x_columns.items():
        for n in range(1, interfaces + 1):
            lines.append((f"1.3.6.1.2.1.31.1.1.1.{column}.{n}", kind, str(value(n))))
    # (entPhysicalIndex, name, class: 3 chassis / 9 module / 10 port, contained in, serial number)
    entities = [(1, "chassis", 3, 0, f"SN{index:06}"), (2, "line card 0", 9, 1, f"LC{index:06}")] + [
        (2 + n, f"port ge-0/0/{n}", 10, 2, "") for n in range(1, interfaces + 1)]
    for column, kind, pick in ((2, 4, lambda e: e[1]), (4, 2, lambda e: e[3]), (5, 2, lambda e: e[2]),
                               (7, 4, lambda e: e[1]), (11, 4, lambda e: e[4])):
        for entity in entities:
            lines.append((f"1.3.6.1.2.1.47.1.1.1.1.{column}.{entity[0]}", kind, str(pick(entity))))

    # LLDP: the devices form a chain, device N's ge-0/0/1 cabled to device N+1's ge-0/0/2 (both ends report it).
    local_port, remote_port = 1, 2
    peers = []  # (local port number, remote device, remote port number)
    if interfaces >= 2:
        if index < devices:
            peers.append((local_port, index + 1, remote_port))
        if index > 1:
            peers.append((remote_port, index - 1, local_port))
    for n in range(1, interfaces + 1):
        lines.append((f"1.0.8802.1.1.2.1.3.7.1.2.{n}", 2, "5"))  # lldpLocPortIdSubtype: interfaceName
        lines.append((f"1.0.8802.1.1.2.1.3.7.1.3.{n}", 4, f"ge-0/0/{n}"))  # lldpLocPortId
    for local, remote_device, remote in peers:
        row = f"0.{local}.1"  # lldpRemTimeMark.lldpRemLocalPortNum.lldpRemIndex
        lines.append((f"1.0.8802.1.1.2.1.4.1.1.6.{row}", 2, "5"))  # lldpRemPortIdSubtype: interfaceName
        lines.append((f"1.0.8802.1.1.2.1.4.1.1.7.{row}", 4, f"ge-0/0/{remote}"))  # lldpRemPortId
        lines.append((f"1.0.8802.1.1.2.1.4.1.1.9.{row}", 4, f"sim{remote_device:03}"))  # lldpRemSysName

    def oid_key(line):
        return tuple(int(part) for part in line[0].split("."))

    return "".join(f"{oid}|{kind}|{value}\n" for oid, kind, value in sorted(lines, key=oid_key))


def write_data(directory: Path, devices: int, interfaces: int, down: set[int]) -> None:
    """One data file per device (community devN); `down` lists interface numbers reported down."""
    for index in range(1, devices + 1):
        (directory / f"dev{index}.snmprec").write_text(device_records(index, devices, interfaces, down))




def _end_with_parent() -> None:
    """In the simulator's process, before it starts: Linux ends it when the process that started it ends, however
    that happens (a server stopped by a signal does not run its cleanup code)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class SimulatedNetwork:
    """snmpsim processes serving `devices` devices, split across `processes` to use more than one core."""

    devices: int
    interfaces: int = 24
    processes: int = 2
    prefix: str = "127.0.2"
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tmf-oss-sim-")))
    _running: list[subprocess.Popen] = field(default_factory=list, repr=False)

    def addresses(self) -> list[str]:
        return [address(i, self.prefix) for i in range(1, self.devices + 1)]

    def devices_document(self) -> dict:
        """What a devices file would say for this network (see southbound/devices.py)."""
        return {"devices": [{"address": address(i, self.prefix), "port": PORT, "timeout": 5, "retries": 2,
                             "snmp": {"community": f"dev{i}"}} for i in range(1, self.devices + 1)]}

    def start(self, *, down: set[int] = frozenset()) -> "SimulatedNetwork":
        simulator = simulator_path()
        if simulator is None:
            raise RuntimeError("snmpsim is not installed: pip install 'tmf-oss[demo]' (or pip install snmpsim)")
        if not 1 <= self.devices <= 250:
            raise ValueError("a simulated network has 1 to 250 devices (one loopback address each)")
        write_data(self.data_dir, self.devices, self.interfaces, set(down))
        for part in range(self.processes):
            endpoints = [f"--agent-udpv4-endpoint={address(i, self.prefix)}:{PORT}"
                         for i in range(1 + part, self.devices + 1, self.processes)]
            if endpoints:
                # Each process indexes the data files into a cache of its own: two writing one index (snmpsim's
                # default is a shared directory in /tmp) can crash either of them.
                self._running.append(subprocess.Popen(
                    [simulator, f"--data-dir={self.data_dir}", f"--cache-dir={self.data_dir / f'index{part}'}",
                     "--log-level=error", "--logging-method=null", *endpoints],
                    env={**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=_end_with_parent))
        try:
            self._wait_until_answering(deadline=time.monotonic() + READY_SECONDS)
        except RuntimeError:
            self.stop()
            raise
        return self

    def _wait_until_answering(self, *, deadline: float) -> None:
        """snmpsim indexes its data files before it answers, longer on a busy machine: ask every device for its
        sysUpTime until each has answered once, rather than sleeping for a guessed time."""
        import asyncio

        from tmf_oss.southbound.adapter import DeviceError, DeviceTarget, Secret, SnmpCredentials
        from tmf_oss.southbound.snmp import SnmpAdapter

        async def probe() -> set[str]:
            adapter = SnmpAdapter()
            waiting = {address(i, self.prefix): i for i in range(1, self.devices + 1)}
            try:
                while waiting:
                    if any(process.poll() is not None for process in self._running):
                        raise RuntimeError("the SNMP simulator stopped while starting (snmpsim installed?)")
                    if time.monotonic() > deadline:
                        return set(waiting)
                    targets = [DeviceTarget(at, PORT, SnmpCredentials(community=Secret(f"dev{i}")), timeout=1,
                                            retries=0) for at, i in waiting.items()]
                    answers = await asyncio.gather(*(adapter.get(t, [SYS_UP_TIME]) for t in targets),
                                                   return_exceptions=True)
                    for target, answer in zip(targets, answers):
                        if not isinstance(answer, DeviceError):
                            waiting.pop(target.address)
                    if waiting:
                        await asyncio.sleep(0.2)
                return set()
            finally:
                adapter.close()

        silent = asyncio.run(probe())
        if silent:
            raise RuntimeError(f"simulated devices {', '.join(sorted(silent))} did not answer within "
                               f"{READY_SECONDS} s")

    def report_down(self, down: set[int]) -> None:
        """From now on every device reports these interface numbers down (snmpsim rereads changed files)."""
        write_data(self.data_dir, self.devices, self.interfaces, set(down))
        time.sleep(1)

    def stop(self) -> None:
        for process in self._running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=15)
        self._running.clear()
        shutil.rmtree(self.data_dir, ignore_errors=True)

"""One collection round of one job: read its devices over SNMP and turn the readings into samples.

A reading taken just after a granularity boundary closes the period before it: the value of
[boundary - step, boundary) is computed between the job's previous reading of the device and this one (rates
divide by the time that really passed between them). The first reading of a device is only a baseline; so is
one taken after a gap of more than one and a half periods (a stopped worker, a job unlocked again): an increase
over several periods is not one period's value. A device that does not answer makes every value it owes
missing, with the reason, and the round goes on with the others.
"""
from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from tmf_oss.performance import derivation, sampling
from tmf_oss.performance.counters import Reading
from tmf_oss.performance.jobs import Indicator
from tmf_oss.performance.objects import MonitoredObject
from tmf_oss.performance.samples import Sample, SeriesKey
from tmf_oss.southbound.adapter import DeviceError, DeviceTarget
from tmf_oss.southbound.devices import WatchedDevices

GAP_FACTOR = 1.5


@dataclass(frozen=True)
class JobRound:
    job_id: str
    indicators: list[Indicator]
    objects: list[MonitoredObject]
    step: float  # seconds between measurements
    period_start: datetime  # the period this round's values are for
    keep: bool = True  # False: the schedule does not collect this period; the reading is the next one's baseline


class ReadingMemory:
    """Each job's previous reading of each device, and each device's interface indexes, in this process."""

    def __init__(self):
        self._readings: dict[tuple[str, str], Reading] = {}
        self._indexes: dict[str, dict[str, int]] = {}

    def swap(self, job_id: str, device: str, reading: Reading, step: float) -> Reading | None:
        previous = self._readings.get((job_id, device))
        self._readings[(job_id, device)] = reading
        if previous is None or reading.monotonic - previous.monotonic > GAP_FACTOR * step:
            return None
        return previous

    def forget_job(self, job_id: str) -> None:
        for key in [key for key in self._readings if key[0] == job_id]:
            del self._readings[key]

    def indexes(self, device: str) -> dict[str, int] | None:
        return self._indexes.get(device)

    def remember_indexes(self, device: str, indexes: dict[str, int]) -> None:
        self._indexes[device] = indexes

    def forget_indexes(self, device: str) -> None:
        self._indexes.pop(device, None)


async def _read(adapter, target: DeviceTarget, counters: set[str], names: set[str], memory: ReadingMemory):
    """(reading, {interface name: ifIndex}) of one device; DeviceError when it does not answer."""
    indexes = memory.indexes(target.address)
    if not names:  # device indicators only: the interface table is not needed
        indexes = indexes or {}
    elif indexes is None or not names <= indexes.keys():
        indexes = await sampling.interface_indexes(adapter, target)
        memory.remember_indexes(target.address, indexes)
    wanted = {indexes[name] for name in names if name in indexes}
    reading = await sampling.read_device(adapter, target, counters, wanted)
    return reading, indexes


async def measure(job: JobRound, adapter, devices: WatchedDevices, memory: ReadingMemory) -> list[Sample]:
    """The samples of one round (values and missing values), one per indicator and object of its scope."""
    by_device: dict[str, list[MonitoredObject]] = defaultdict(list)
    for obj in job.objects:
        by_device[obj.device].append(obj)
    start, end = job.period_start, job.period_start + timedelta(seconds=job.step)

    async def one_device(address: str, objs: list[MonitoredObject]) -> list[Sample]:
        scopes = {obj.scope for obj in objs}
        indicators = [indicator for indicator in job.indicators if indicator.scope in scopes]
        counters = set().union(*(indicator.expression.counters for indicator in indicators)) if indicators else set()
        names = {obj.interface for obj in objs if obj.interface is not None}
        try:
            target = devices.target(address, "SNMP access")
        except DeviceError as error:
            return _all_missing(job, objs, indicators, start, end, error.reason)
        try:
            reading, indexes = await _read(adapter, target, counters, names, memory)
        except DeviceError as error:
            memory.forget_indexes(address)
            return _all_missing(job, objs, indicators, start, end, f"device {address} did not answer: {error}")
        previous = memory.swap(job.job_id, address, reading, job.step)
        if previous is not None and previous.uptime is not None and reading.uptime is not None \
                and reading.uptime < previous.uptime:
            memory.forget_indexes(address)  # a restarted device may have numbered its interfaces anew
        samples = []
        for obj in objs:
            index = None
            if obj.interface is not None:
                index = indexes.get(obj.interface)
            for indicator in indicators:
                if indicator.scope != obj.scope:
                    continue
                if obj.interface is not None and index is None:
                    value = derivation.Missing(f"interface {obj.interface} not found on device {address}")
                else:
                    value = indicator.expression.evaluate(previous, reading, index)
                if isinstance(value, derivation.Missing) and previous is None:
                    continue  # a baseline reading: nothing was owed yet
                samples.append(_sample(job, obj, indicator, start, end, value))
        return samples

    results = await asyncio.gather(*(one_device(address, objs) for address, objs in by_device.items()))
    return [sample for device_samples in results for sample in device_samples]


def _sample(job: JobRound, obj: MonitoredObject, indicator: Indicator, start, end, value) -> Sample:
    missing = isinstance(value, derivation.Missing)
    return Sample(SeriesKey(job.job_id, obj.id, indicator.id), start, end, None if missing else value,
                  value.reason if missing else None, indicator_name=indicator.name, object_name=obj.name)


def _all_missing(job: JobRound, objs, indicators, start, end, reason: str) -> list[Sample]:
    return [_sample(job, obj, indicator, start, end, derivation.Missing(reason))
            for obj in objs for indicator in indicators if indicator.scope == obj.scope]

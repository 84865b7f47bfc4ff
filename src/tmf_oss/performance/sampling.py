"""Reading a device's raw values (counters.py) for performance collection: one round of SNMP requests per poll.

A round is GETs of many values each (VARBINDS_PER_GET per request) for the named values of the given interfaces,
with sysUpTime (restarts show as it going back) and, for interface counters, ifCounterDiscontinuityTime (an
interface whose counters restarted on their own); the average-of-rows values (hrProcessorLoad) are walked beside
them. A value the agent does not have is left out of the reading: the expression that needs it reports it missing.
A device that cannot be reached raises DeviceError, from the first request alone.
"""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone

from tmf_oss.performance.counters import COUNTERS, DISCONTINUITY, UPTIME, Counter, Reading, ValueKey
from tmf_oss.southbound.adapter import DeviceTarget
from tmf_oss.southbound.snmp import SnmpAdapter

# Values per GET. An ifXTable value with its OID takes about 27 bytes in the answer, so 40 answer in about 1.1 kB:
# within the 1500-byte messages routers commonly allow (an agent refuses a larger answer with tooBig), while 10
# counters of 100 interfaces take 25 requests rather than 1000.
VARBINDS_PER_GET = 40


async def read_device(adapter: SnmpAdapter, target: DeviceTarget, counters: set[str],
                      if_indexes: set[int]) -> Reading:
    """The named raw values of the device and of its interfaces `if_indexes`, plus sysUpTime, read now."""
    unknown = set(counters) - COUNTERS.keys()
    if unknown:
        raise ValueError(f"unknown counters: {', '.join(sorted(unknown))}")
    wanted = [COUNTERS[name] for name in sorted(set(counters) - {UPTIME})]
    if if_indexes and any(counter.scope == "interface" and counter.is_counter for counter in wanted):
        wanted.append(COUNTERS[DISCONTINUITY])
    requested = _instances([COUNTERS[UPTIME], *dict.fromkeys(wanted)], if_indexes)
    oids = list(requested)
    # sysUpTime leads the first request, sent alone: the poll is stamped when the device told its uptime, and an
    # unreachable device fails once, fast.
    first = await adapter.get(target, oids[:VARBINDS_PER_GET])
    taken_at, stamp = datetime.now(timezone.utc), time.monotonic()
    rest = [oids[start:start + VARBINDS_PER_GET] for start in range(VARBINDS_PER_GET, len(oids), VARBINDS_PER_GET)]
    averaged = [counter for counter in wanted if counter.average_of_rows]
    answers = await asyncio.gather(*(adapter.get(target, chunk) for chunk in rest),
                                   *(_average_of_rows(adapter, target, counter) for counter in averaged),
                                   return_exceptions=True)  # every request ends before the first error is raised
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    values: dict[ValueKey, float] = {}
    for answer in [first, *answers[:len(rest)]]:
        for oid, value in answer.items():
            if oid in requested and _is_number(value):
                values[requested[oid]] = value
    for counter, average in zip(averaged, answers[len(rest):]):
        if average is not None:
            values[(counter.name, None)] = average
    return Reading(values=values, taken_at=taken_at, monotonic=stamp)


async def interface_indexes(adapter: SnmpAdapter, target: DeviceTarget) -> dict[str, int]:
    """The device's interfaces, name -> ifIndex, named as discovery names them (ifName, else ifDescr) so that a
    TMF639 interface resource's name finds its ifIndex. Two interfaces of one name: the lower ifIndex."""
    indexes: dict[str, int] = {}
    for interface in await adapter.interfaces(target):  # sorted by ifIndex
        indexes.setdefault(interface.name, interface.index)
    return indexes


def _instances(counters: list[Counter], if_indexes: set[int]) -> dict[str, ValueKey]:
    """OID to GET -> what its value is, in request order."""
    instances: dict[str, ValueKey] = {}
    for counter in counters:
        if counter.average_of_rows:
            continue
        if counter.scope == "device":
            instances[counter.oid] = (counter.name, None)
        else:
            for index in sorted(if_indexes):
                instances[f"{counter.oid}.{index}"] = (counter.name, index)
    return instances


async def _average_of_rows(adapter: SnmpAdapter, target: DeviceTarget, counter: Counter) -> float | None:
    """The mean of a table column over all its rows (None without rows). SnmpAdapter.walk reads a table entry,
    so the column's entry is walked (for hrProcessorLoad, two short columns)."""
    entry, column = counter.oid.rsplit(".", 1)
    rows = await adapter.walk(target, entry)
    numbers = [columns[int(column)] for columns in rows.values() if _is_number(columns.get(int(column)))]
    return sum(numbers) / len(numbers) if numbers else None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)

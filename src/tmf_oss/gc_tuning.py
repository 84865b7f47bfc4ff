"""Python's cyclic garbage collector, set for long-running processes that hold large, lasting structures.

By default a collection runs after every 700 net allocations of container objects, and every so often it becomes
a full collection over everything the process holds. A server worker holds its API documents, validators,
SQLAlchemy metadata and caches (about 200,000 objects: a full collection takes 0.1 s on this class of machine, and
every request in flight waits for it); the fault engine holds its active alarms and the topology. The garbage is
the same whatever the settings (most of it is freed by reference counting anyway), only collected less often.
"""
from __future__ import annotations

import gc

# A first threshold of 10,000: measured on the alarm pipeline, the collector's share of the engine's Python time
# fell from a third to a few percent; in the API workers, objects of requests still in flight (many at once when
# reads are coalesced) are promoted to older generations far less often.
GC_FIRST_THRESHOLD = 10_000


def collect_less_often() -> None:
    """Raise the first threshold to GC_FIRST_THRESHOLD (never lowers it: a process tuned otherwise keeps its
    setting)."""
    first, second, third = gc.get_threshold()
    if first < GC_FIRST_THRESHOLD:
        gc.set_threshold(GC_FIRST_THRESHOLD, second, third)


def settle_after_startup() -> None:
    """Once a server process has built what it keeps for its whole life: those objects are moved out of the
    collector's sight (gc.freeze), so that full collections only walk what was allocated since, and collections
    run less often."""
    gc.collect()  # the start-up's garbage first, so that it is not kept forever
    gc.freeze()
    collect_less_often()

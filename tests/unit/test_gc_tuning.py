"""Garbage collector settings of long-running processes: collections less often, start-up objects out of sight."""
from __future__ import annotations

import gc

import pytest

from tmf_oss.gc_tuning import GC_FIRST_THRESHOLD, collect_less_often, settle_after_startup


@pytest.fixture
def restored_gc():
    saved = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*saved)


def test_the_first_threshold_is_raised_never_lowered(restored_gc):
    gc.set_threshold(700, 10, 10)
    collect_less_often()
    assert gc.get_threshold() == (GC_FIRST_THRESHOLD, 10, 10)
    gc.set_threshold(GC_FIRST_THRESHOLD * 5, 20, 30)
    collect_less_often()
    assert gc.get_threshold() == (GC_FIRST_THRESHOLD * 5, 20, 30)


def test_what_a_server_built_at_start_is_kept_out_of_later_collections(restored_gc):
    gc.set_threshold(700, 10, 10)
    kept_for_life = [{"n": n} for n in range(1000)]
    settle_after_startup()
    assert gc.get_freeze_count() >= len(kept_for_life)
    assert gc.get_threshold()[0] == GC_FIRST_THRESHOLD
    watched = {id(item) for item in gc.get_objects()}  # the generations a collection walks
    assert not any(id(item) in watched for item in kept_for_life)

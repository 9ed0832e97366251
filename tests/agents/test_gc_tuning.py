"""The worker's garbage-collector settings (``agents.gc_tuning``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from socialpulse.agents.gc_tuning import BATCH_THRESHOLDS, tune_gc


@pytest.fixture()
def restored() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_tuning_freezes_the_startup_objects_and_widens_the_young_generation(
    restored: None,
) -> None:
    tune_gc()
    assert gc.get_threshold() == BATCH_THRESHOLDS
    assert gc.get_freeze_count() > 1000  # the modules and objects loaded so far
    assert BATCH_THRESHOLDS[0] >= 10_000  # holds a batch's events (envelopes of 500 x 4)

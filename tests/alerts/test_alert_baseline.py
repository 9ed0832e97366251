"""The baseline and the binomial thresholds the detectors judge with."""

from __future__ import annotations

import math
import random

import pytest

from socialpulse.alerts.baseline import Baseline, binomial_low_threshold, binomial_threshold
from socialpulse.alerts.lifecycle import Check, Lifecycle


def test_baseline_learns_mean_and_spread() -> None:
    rng = random.Random(1)
    base = Baseline(alpha=2 / 61, min_samples=20)
    for _ in range(2000):
        base.observe(rng.gauss(50, 5), floor=1.0)
    assert base.ready
    assert base.mean == pytest.approx(50, abs=2)
    assert base.std() == pytest.approx(5, rel=0.25)


def test_outliers_are_set_aside_then_a_new_level_is_learned() -> None:
    base = Baseline(min_samples=5, max_skips=10)
    for x in (10, 11, 9, 10, 11, 9, 10):
        base.observe(x, floor=1.0)
    before = base.mean
    for _ in range(10):
        base.observe(100, floor=1.0)  # a crisis: not learned
    assert base.mean == before and base.skipped == 10
    base.observe(100, floor=1.0)  # still there after max_skips: the new normal
    assert base.mean > before and base.skipped == 0


def test_a_ratio_cap_stops_a_slow_climb() -> None:
    rng = random.Random(2)
    slow = 2 / 241  # the paid signals' memory
    capped, free = Baseline(alpha=slow, min_samples=5), Baseline(alpha=slow, min_samples=5)
    climb = [rng.gauss(20, 4) for _ in range(120)] + [20 + 1.5 * k for k in range(1, 26)]
    for x in climb:
        capped.observe(x, floor=1.0, max_ratio=1.5)
        free.observe(x, floor=1.0)
    assert capped.skipped > 0 and capped.mean < free.mean


def tail(n: int, p: float, k: int) -> float:
    return sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1))


@pytest.mark.parametrize(("n", "p"), [(10, 0.1), (30, 0.15), (200, 0.3), (999, 0.05)])
def test_binomial_threshold_is_the_smallest_share_rarer_than_alpha(n: int, p: float) -> None:
    share = binomial_threshold(n, p, 1e-4)
    k = round(share * n)
    assert tail(n, p, k) < 1e-4 <= tail(n, p, k - 1)


def test_binomial_thresholds_large_n_and_low_side() -> None:
    assert binomial_threshold(0, 0.1) == 1.0
    assert 0.1 < binomial_threshold(10_000, 0.1) < 0.12
    low = binomial_low_threshold(2000, 0.05)
    assert 0.02 < low < 0.05
    assert binomial_low_threshold(0, 0.05) == 0.0


def test_lifecycle_hysteresis_and_cooldown() -> None:
    life = Lifecycle(resolve_after=60, cooldown=300, clock=lambda: 1.0)
    fire = Check(fire=True, clear=False, value=2, baseline=1, threshold=1.5)
    calm = Check(fire=False, clear=True, value=1, baseline=1, threshold=1.5)
    between = Check(fire=False, clear=False, value=1.4, baseline=1, threshold=1.5)
    first = life.step("b", "mention_spike", 0, fire)
    assert first is not None and first.state == "firing"
    assert life.step("b", "mention_spike", 10, fire) is None  # one alert at a time
    assert life.step("b", "mention_spike", 20, calm) is None  # clear, but not for long
    assert life.step("b", "mention_spike", 50, between) is None  # not clear: start again
    assert life.step("b", "mention_spike", 60, calm) is None
    resolved = life.step("b", "mention_spike", 121, calm)
    assert resolved is not None and resolved.state == "resolved" and resolved.id == first.id
    assert life.step("b", "mention_spike", 200, fire) is None  # cooling down
    again = life.step("b", "mention_spike", 422, fire)
    assert again is not None and again.id != first.id


def _exact_threshold(n: int, p0: float, alpha: float) -> float:
    """The definition, with exact binomial coefficients (slow; the reference)."""
    from fractions import Fraction

    p = Fraction(p0)
    tail = Fraction(0)
    for k in range(n, -1, -1):
        tail += math.comb(n, k) * p**k * (1 - p) ** (n - k)
        if tail >= alpha:
            return min(1.0, (k + 1) / n)
    return 0.0


@pytest.mark.parametrize("n", [1, 2, 7, 30, 100, 400])
@pytest.mark.parametrize("p0", [0.0, 0.001, 0.02, 0.15, 0.5, 0.93, 1.0])
@pytest.mark.parametrize("alpha", [1e-6, 0.01])
def test_binomial_threshold_matches_the_exact_definition(n: int, p0: float, alpha: float) -> None:
    binomial_threshold.cache_clear()
    assert binomial_threshold(n, p0, alpha) == _exact_threshold(n, p0, alpha)


def test_binomial_threshold_is_exact_at_a_thousand_trials() -> None:
    binomial_threshold.cache_clear()
    assert binomial_threshold(1000, 0.15) == _exact_threshold(1000, 0.15, 1e-6)

"""A brand's normal: an exponentially weighted mean and variance of a signal.

One sample per closed minute of event time (the signal over the window ending there). The
baseline may judge only after ``min_samples`` samples. A sample more than three standard
deviations from the mean is not learned, so a crisis does not become the new normal while
it lasts; after ``max_skips`` such samples in a row it is learned again, so a lasting
change of level becomes the new normal in about that many minutes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

#: one-sided false-alarm probability per evaluation of a count or share test
ALPHA = 1e-6
Z_ALPHA = 4.75  # the standard normal's 1 - ALPHA quantile


@dataclass
class Baseline:
    """EWMA mean and variance (West's incremental form) with a sample count."""

    alpha: float = 2 / 31  # the weight of about the last 30 samples
    min_samples: int = 20
    max_skips: int = 30
    mean: float = 0.0
    var: float = 0.0
    samples: int = 0
    skipped: int = 0

    @property
    def ready(self) -> bool:
        return self.samples >= self.min_samples

    def learn(self, x: float) -> None:
        if self.samples == 0:
            self.mean, self.var = x, 0.0
        else:
            # a plain running mean until the EWMA has as many samples as its memory, so the
            # first, noisier samples do not weigh on it for hours
            alpha = max(self.alpha, 1 / (self.samples + 1))
            diff = x - self.mean
            incr = alpha * diff
            self.mean += incr
            self.var = (1 - alpha) * (self.var + diff * incr)
        self.samples += 1

    def observe(self, x: float, floor: float, max_ratio: float | None = None) -> None:
        """Learn ``x`` unless it is an outlier (see the module's docstring): more than three
        standard deviations off, or above ``max_ratio`` times the mean (for signals judged
        by a ratio, which a slow climb could otherwise carry along)."""
        outlier = abs(x - self.mean) > 3 * self.std(floor) or (
            max_ratio is not None and x > max_ratio * self.mean
        )
        if self.ready and outlier and self.skipped < self.max_skips:
            self.skipped += 1
            return
        self.skipped = 0
        self.learn(x)

    def std(self, floor: float = 0.0) -> float:
        return max(math.sqrt(max(self.var, 0.0)), floor)

    def z(self, x: float, floor: float) -> float:
        """How many standard deviations ``x`` lies above the mean (``floor`` bounds the std)."""
        return (x - self.mean) / self.std(floor) if floor > 0 or self.var > 0 else 0.0


@lru_cache(maxsize=4096)
def binomial_threshold(n: int, p0: float, alpha: float = ALPHA) -> float:
    """The smallest share k/n of n trials with P(X >= k | n, p0) < alpha.

    Exact for up to 1,000 trials, by the normal approximation above that. The upper tail
    is summed from k = n down, in log space with the pmf's recurrence, and stops as soon
    as it reaches alpha: a few hundred float steps, no big binomial coefficients (the
    detectors call this per batch with a baseline share that keeps moving).
    """
    if n <= 0:
        return 1.0
    if n > 1000:
        return min(1.0, p0 + Z_ALPHA * math.sqrt(p0 * (1 - p0) / n) + 0.5 / n)
    if p0 <= 0.0:
        return 1.0 / n  # X is 0 for sure: any k >= 1 has probability 0
    if p0 >= 1.0:
        return 1.0
    log_pmf = n * math.log(p0)  # log P(X = n)
    step = math.log1p(-p0) - math.log(p0)
    tail = 0.0
    for k in range(n, -1, -1):
        tail += math.exp(log_pmf)
        if tail >= alpha:
            return min(1.0, (k + 1) / n)
        if k:  # P(X = k-1) = P(X = k) * k / (n - k + 1) * (1 - p0) / p0
            log_pmf += math.log(k / (n - k + 1)) + step
    return 0.0


def binomial_low_threshold(n: int, p0: float, alpha: float = ALPHA) -> float:
    """The largest share k/n of n trials with P(X <= k | n, p0) < alpha (0 when none)."""
    if n <= 0 or p0 <= 0:
        return 0.0
    return max(0.0, 1.0 - binomial_threshold(n, 1.0 - p0, alpha) - 1.0 / n)

"""Multinomial logistic regression in numpy: the heads of the model scorer.

Small enough to train on a laptop in seconds (a few thousand rows of a 384-wide
embedding), with Newton's method on the L2-regularised, class-weighted log-loss, so the
result does not depend on a learning rate or a random seed.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def softmax(z: Array) -> Array:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: Array = e / e.sum(axis=1, keepdims=True)
    return out


def fit(
    x: Array,
    y: NDArray[np.int64],
    *,
    l2: float,
    classes: int = 3,
    balanced: bool = True,
    sample_weight: Array | None = None,
    iterations: int = 25,
) -> tuple[Array, Array]:
    """Weights ``(features, classes)`` and bias ``(classes,)`` of a softmax regression.

    ``l2`` is the penalty on the weights (not the bias), per row of training data;
    ``balanced`` weighs every class as if it had as many rows as the others;
    ``sample_weight`` scales each row's weight on top of that.
    """
    n, d = x.shape
    counts = np.bincount(y, minlength=classes).astype(np.float64)
    weights = (n / (classes * np.maximum(counts, 1.0)))[y] if balanced else np.ones(n)
    if sample_weight is not None:
        weights = weights * sample_weight
    weights = weights / weights.sum()
    xb = np.hstack([x, np.ones((n, 1))])
    onehot = np.eye(classes)[y]
    theta = np.zeros((d + 1, classes))
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(iterations):
        p = softmax(xb @ theta)
        grad = xb.T @ ((p - onehot) * weights[:, None]) + reg[:, None] * theta
        hess = np.zeros(((d + 1) * classes, (d + 1) * classes))
        for k in range(classes):
            for j in range(k, classes):
                w = weights * p[:, k] * ((k == j) - p[:, j])
                block = (xb * w[:, None]).T @ xb
                if k == j:
                    block += np.diag(reg) + 1e-8 * np.eye(d + 1)
                hess[k::classes, j::classes] = block
                hess[j::classes, k::classes] = block.T
        step = np.linalg.lstsq(hess, grad.reshape(-1), rcond=None)[0].reshape(d + 1, classes)
        theta -= step
        if np.abs(step).max() < 1e-6:
            break
    return theta[:-1], theta[-1]


def predict_proba(x: Array, weights: Array, bias: Array) -> Array:
    return softmax(x @ weights + bias)


def macro_f1(y: NDArray[np.int64], pred: NDArray[np.int64], classes: int = 3) -> float:
    """Mean over the classes of each class's F1 (0 for a class neither predicted nor seen)."""
    scores = []
    for k in range(classes):
        tp = float(np.sum((pred == k) & (y == k)))
        fp = float(np.sum((pred == k) & (y != k)))
        fn = float(np.sum((pred != k) & (y == k)))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores))

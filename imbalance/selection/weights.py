"""Class weights: sklearn's balanced ones computed from the training labels, and the manual ones."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

from imbalance.config import RetrainConfig


def balanced_class_weights(labels: np.ndarray) -> dict[int, float]:
    """Return sklearn's "balanced" weights, n / (2 * count of the class), for classes 0 and 1."""
    classes = np.array([0, 1])
    weights = compute_class_weight("balanced", classes=classes, y=labels)
    return {int(c): float(w) for c, w in zip(classes, weights, strict=True)}


def class_weight_table(labels: np.ndarray, cfg: RetrainConfig) -> dict[str, dict[int, float]]:
    """Return each weight rule's class weights, keyed by rule name."""
    return {
        "balanced": balanced_class_weights(labels),
        "manual": {int(k): float(v) for k, v in sorted(cfg.selection.manual_class_weight.items())},
    }


def minority_weights(
    points: int, low: float = 1.0, high: float = 500.0, extra: Sequence[float] = ()
) -> list[float]:
    """Return the minority-class weights to sweep: log-spaced from `low` to `high`, plus `extra`.

    Log-spaced because the weight acts by ratio (1 -> 2 matters as much as 100 -> 200);
    `extra` adds named points such as sklearn's balanced weight. Rounded to 4 significant
    digits (readable in a report, and a config can name them exactly), sorted, unique.
    """
    if points < 2:
        raise ValueError(f"a sweep from {low} to {high} needs at least 2 points, got {points}")
    if not 0.0 < low < high:
        raise ValueError(f"weights must satisfy 0 < low < high, got {low} and {high}")
    values = [*np.geomspace(low, high, points), *extra]
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"weights must be positive and finite, got {list(extra)}")
    return sorted({float(f"{v:.4g}") for v in values})

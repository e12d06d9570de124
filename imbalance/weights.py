"""Class weights: sklearn's balanced ones computed from the training labels, and the manual ones."""

from __future__ import annotations

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

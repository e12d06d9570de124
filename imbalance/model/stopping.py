"""Early stopping, one rule for every trainer: Keras's `EarlyStopping(restore_best_weights=True)`.

After each epoch a member's validation loss is measured on the given rows, weighted by
the member's own class weights (the objective it is trained on), reduced as `fit`
reports `val_loss` (the weighted row losses summed, over the rows). An epoch improves
on the best so far if its loss is lower than the best minus `min_delta` (the first
epoch always does); after `patience` epochs in a row without one the member stops.
Whether it stopped or ran out of epochs, it keeps the weights of its best epoch; its
Adam state and step count are those of its last epoch (Keras restores weights only).

`best_epoch` below is the rule in Python, for `fit`'s history and for tests; the
compiled loop (imbalance/model/loop.py) applies it per member, in XLA.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EarlyStopping:
    """The rows a validation loss is measured on, and when a member stops (patience >= 1)."""

    x: np.ndarray
    y: np.ndarray
    patience: int
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if self.patience < 1:
            raise ValueError(f"patience must be at least 1, got {self.patience}")
        if self.min_delta < 0:
            raise ValueError(f"min_delta must be non-negative, got {self.min_delta}")
        if np.ndim(self.x) != 2 or len(self.x) == 0 or len(self.y) != len(self.x):
            raise ValueError(
                f"validation rows must be 2-D with one label each, got x {np.shape(self.x)}, "
                f"y {np.shape(self.y)}"
            )


@dataclass(frozen=True)
class History:
    """What one model's training went through: its epochs' losses, validation losses, best.

    `losses[e]` is epoch e+1's training loss as `fit` reports it; `val_losses` the
    validation losses (empty without early stopping); `best_epoch` (1-based) the epoch
    whose weights the model was left with: the last one without early stopping.
    """

    losses: list[float]
    val_losses: list[float]
    best_epoch: int

    @property
    def epochs_run(self) -> int:
        """Return how many epochs the model trained."""
        return len(self.losses)


def best_epoch(val_losses: Sequence[float], patience: int, min_delta: float = 0.0) -> tuple:
    """Return (epochs run, best epoch), 1-based, of a member whose epochs gave `val_losses`.

    The epochs run are those up to the stop (all of them if it never stopped).
    """
    best, kept, wait = math.inf, 0, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if kept == 0 or loss < best - min_delta:
            best, kept, wait = loss, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch, kept
    return len(val_losses), kept

"""The tracked loop's state between compiled calls: each member's kept weights and counts.

The batched trainer (imbalance/model/batched.py) takes the tracked loop (loop._tracked)
when early stopping (imbalance/model/stopping.py) or per-member epoch counts may stop a
member before the last epoch. The loop keeps, per member, the weights of its best epoch,
Adam's m and v of its last, its best validation loss, the epochs since, its epoch counts
and whether it still trains; a training split into calls (chunks of members, blocks of
epochs) carries that state here from one call to the next, as (members, ...) rows,
beside the loop's fixed inputs (each member's epoch limit, the validation rows, the rule)
and the validation losses it reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from imbalance.model.loop import Loop, members_last
from imbalance.model.stopping import EarlyStopping

if TYPE_CHECKING:
    import tensorflow as tf


@dataclass
class Track:
    """The tracked loop's state per member, as (members, ...) rows: see loop._tracked."""

    kept: np.ndarray  # the weights kept (its best epoch's), (members, n_params)
    kept_m: np.ndarray  # Adam's m and v as of its last epoch
    kept_v: np.ndarray
    best: np.ndarray  # its best validation loss (float32)
    wait: np.ndarray  # epochs since its best (int32)
    epochs_run: np.ndarray  # int32
    best_epoch: np.ndarray  # int32, 1-based; 0 before its first epoch
    active: np.ndarray  # bool: still training
    limits: np.ndarray  # int32: the most epochs it trains
    val_losses: np.ndarray  # (members, epochs) float32, NaN where not measured
    val: tuple | None  # the validation rows as tensors (`_inputs`), None without
    rule: tuple  # (patience, min_delta) as tensors

    @classmethod
    def start(
        cls,
        params: np.ndarray,
        moments: np.ndarray,
        velocities: np.ndarray,
        limits: np.ndarray,
        epochs: int,
        early_stopping: EarlyStopping | None = None,
        labels: np.ndarray | None = None,
        index: np.ndarray | None = None,
    ) -> Track:
        """Return the state before the first epoch of members starting from these rows.

        `labels` and `index` (into the class-weight table) are those of the
        `early_stopping` rows; `epochs` the most any member trains.
        """
        n = len(params)
        zeros = np.zeros(n, np.int32)
        val, rule = _inputs(early_stopping, labels, index)
        return cls(
            params.copy(),
            moments.copy(),
            velocities.copy(),
            np.full(n, np.inf, np.float32),
            zeros.copy(),
            zeros.copy(),
            zeros.copy(),
            limits > 0,
            limits.astype(np.int32),
            np.full((n, epochs), np.nan, np.float32),
            val,
            rule,
        )

    def run(self, loop: Loop, part: slice, data: tuple, first: int, n_epochs: int) -> tf.Tensor:
        """Run the tracked loop for the members in `part`, epochs first..first+n_epochs.

        `data`: the loop's (table, x, y, label index, orders). Their state goes in and
        comes back out, their validation losses into `val_losses`; returns their losses.
        """
        import tensorflow as tf

        losses, val_losses, state = loop.run_tracked(
            *data,
            tf.constant(n_epochs, tf.int32),
            tf.constant(first, tf.int32),
            tf.convert_to_tensor(self.limits[part]),
            self.rule,
            self.val,
            self.members_last(part),
        )
        self.update(part, state)
        self.val_losses[part, first : first + n_epochs] = val_losses.numpy()[:, :n_epochs]
        return losses

    def blank_past(self, losses: np.ndarray) -> None:
        """Set the losses past each member's epochs, what its lane went on to, to NaN."""
        past = np.arange(losses.shape[1])[None, :] >= self.epochs_run[:, None]
        losses[past] = self.val_losses[past] = np.nan

    def members_last(self, part: slice) -> tuple:
        """Return the state of the members in `part` as the loop's tensors, members last."""
        import tensorflow as tf

        rows = (self.kept, self.kept_m, self.kept_v)
        return (
            *(members_last(r[part]) for r in rows),
            *(tf.convert_to_tensor(a[part]) for a in self._counts()),
        )

    def update(self, part: slice, state: Sequence) -> None:
        """Take the loop's state of the members in `part` back."""
        for rows, tensor in zip((self.kept, self.kept_m, self.kept_v), state[:3], strict=True):
            rows[part] = np.asarray(tensor.numpy()).T
        for values, tensor in zip(self._counts(), state[3:], strict=True):
            values[part] = tensor.numpy()

    def _counts(self) -> tuple:
        return self.best, self.wait, self.epochs_run, self.best_epoch, self.active


def _inputs(
    early_stopping: EarlyStopping | None,
    labels: np.ndarray | None,
    index: np.ndarray | None,
) -> tuple[tuple[tf.Tensor, ...] | None, tuple[tf.Tensor, tf.Tensor]]:
    """Return the tracked loop's validation rows and its rule (patience, min_delta), as tensors.

    The rows are `early_stopping`'s, with their `labels` and their `index` into the
    class-weight table; None without early stopping, whose rule is then (0, 0.0).
    """
    import tensorflow as tf

    val = None
    if early_stopping is not None:
        val = tuple(
            tf.convert_to_tensor(a)
            for a in (
                np.asarray(early_stopping.x, np.float32),
                labels.astype(np.float32),
                index.astype(np.int32),
            )
        )
    rule = (
        tf.constant(early_stopping.patience if early_stopping else 0, tf.int32),
        tf.constant(early_stopping.min_delta if early_stopping else 0.0, tf.float32),
    )
    return val, rule

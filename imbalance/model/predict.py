"""Score many trained members at once, through the network's one definition.

A run chooses with dozens of blind members (the sweep's weights x seeds): building a
Keras model per member to score a few thousand validation rows would cost more than
the scoring. Here all members' weights are stacked on the member axis that
`definition.scores` takes, and one compiled call scores a block of rows for all of
them: the arithmetic of the saved model's `Network` layer (equal to its `predict`
within 1e-6: tested), not a copy of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imbalance.model import definition
from imbalance.model.tf import load_keras

# Bound on one compiled call's member-dependent memory, as the trainer's budget: each
# row of a block costs ~4 bytes per member for every unit and small-layer product.
SCORE_BUDGET_BYTES = 64 * 2**20


_COMPILED: list = []  # one tf.function for the process: its traces (one per shape) are kept


def _compiled_scores(tf):
    """Return the compiled scoring function, made once: a run scores the same members on
    the same rows more than once (choices, calibration), and a new tf.function would
    compile them again (~1 s)."""
    if not _COMPILED:
        _COMPILED.append(tf.function(definition.scores, jit_compile=True, autograph=False))
    return _COMPILED[0]


def score_members(weights: Sequence[Sequence[np.ndarray]], x: np.ndarray) -> np.ndarray:
    """Return the (members, rows) float32 class-1 scores of each member on the rows `x`.

    `weights[k]`: member k's `get_weights()` (kernel, bias per layer, one unit last).
    Scores are the sigmoid of the logits, in float32: in [0, 1], never overflowing
    (a logit of +-1e4 scores exactly 1 or 0). Refuses (ValueError) weights that are
    not the network's kernel and bias pairs, or rows that do not fit the first kernel.
    """
    shapes = definition.member_shapes(weights, x)
    rows = np.asarray(x, dtype=np.float32)
    n_members, n_rows = len(weights), len(rows)
    if n_members == 0 or n_rows == 0:
        return np.zeros((n_members, n_rows), np.float32)
    load_keras()
    import tensorflow as tf

    # Never one member alone: XLA drops a size-1 axis and compiles other code, so a
    # member scores the same alone as among others (padded with a copy of itself).
    stack = max(2, n_members)
    pick = np.minimum(np.arange(stack), n_members - 1)
    stacked = [
        tf.constant(np.stack([np.asarray(weights[k][i], np.float32) for k in pick], axis=-1))
        for i in range(len(shapes))
    ]
    kernels = shapes[0::2]
    per_row = (
        4 * stack * sum(o + (i * o if i * o <= definition.SMALL_LAYER else 0) for i, o in kernels)
    )
    block = max(1, min(n_rows, SCORE_BUDGET_BYTES // per_row))
    score_block = _compiled_scores(tf)
    out = np.empty((n_rows, stack), np.float32)
    for start in range(0, n_rows, block):
        part = rows[start : start + block]
        if len(part) < block:  # the last block padded: one shape, one compilation
            part = np.concatenate([part, np.zeros((block - len(part), part.shape[1]), np.float32)])
        scored = score_block(stacked, tf.constant(part)).numpy()
        out[start : start + block] = scored[: min(block, n_rows - start)]
    return np.ascontiguousarray(out[:, :n_members].T)

"""Train K networks of one shape at once, in one XLA-compiled loop over shared batches.

A 2-2-2-1 step is a few hundred floating-point operations: one model at a time,
`train_fused` spends its ~10-30 µs per step on the loop's own overhead, not on
arithmetic. Here every weight carries a member axis (K members) and one step
updates all K members: each has its own initial weights, class weights and Adam
state, and all see the same batches (the order of `epoch_order(len(x), seed,
epoch)`, as `train_fused` with that seed).

A member's arithmetic is the network's one definition (imbalance/model/definition.py:
its forward pass, loss and Keras Adam), reduced as fit reduces it (the weighted row
losses summed over the batch size; the epoch loss the batch-size-weighted mean of
the batch losses). Nothing is shared between members but the batches, so a
member comes out the same whatever else trains beside it, up to the float32
rounding XLA brings in with size (it picks its loop and reduce code by operand
shape): measured on 3,000 rows, 72 steps, a member is bit-identical alone, among
3, 40 or 100 members, chunked or not; among 150 or more, some biases move by
~1e-8 (an ulp or two) (tests/model/test_batched.py). The fused trainer is this
one with a single member.

Early stopping and per-member epoch counts (imbalance/model/stopping.py) take a second
compiled loop, the same epochs with each member's validation loss after each (one forward
pass over the validation rows for all members) and its best weights, Adam state and counts
kept and frozen at its stop (between calls, in imbalance/model/tracking.py); its lane
computes on, discarded, so a member still comes out the same whatever else trains beside
it (bit for bit, tested). Measured on the loaded 2-core box, K = 30, 80,000 rows: ~0.065 s
an epoch, plus ~0.02 s for 16,000 validation rows, ~0 for 1,600 or for epoch counts alone.

Inside the compiled loop (imbalance/model/loop.py) the members are the last axis
of every tensor: a kernel is (in, out, K), a layer's values (units, batch, K), and
the weights and Adam's slots are one (n_params, K) variable each.

Memory. The data, labels and row orders are shared; what grows with K is each
step's activations and gradients and each member's parameters and Adam slots:

    bytes per member ~= 4 * (batch_size * (4 * units + products) + 8 * params)

(`units` = the layers' widths summed, e.g. 2 + 2 + 1, counted four times: pre- and
post-activation values and their gradients; `products` = in x out summed over the
elementwise layers, e.g. 4 + 4 + 2, in case XLA keeps the broadcast product; the 8
per parameter are the weight, m, v, the gradient and the loop's double buffers.)
Members are trained in chunks of at most `MEMBER_BUDGET_BYTES // bytes per member`
(the default job: ~12.5 kB a member, ~21,000 per chunk; batch 1,000,000 of hidden
256: one, so two, see train_batched). Chunks are balanced and the last one is
padded with copies, so every call has one shape and compiles once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from imbalance.model import definition
from imbalance.model.loop import Programs, flat, members_last, unflat
from imbalance.model.rows import class_weights_per_row, epoch_order
from imbalance.model.stopping import EarlyStopping
from imbalance.model.tf import load_keras
from imbalance.model.tracking import Track

if TYPE_CHECKING:
    import keras

# Bound on the member-dependent memory of one compiled call (see the module docstring).
MEMBER_BUDGET_BYTES = 256 * 2**20
# Host memory allowed for the precomputed row orders of one compiled call. The
# default job's 50 orders (16 MB) fit in one call; at 10M rows each call gets one
# epoch's order (40 MB) while a thread shuffles the next.
ORDER_BUDGET_BYTES = 64 * 2**20
# Compiled calls per training at most, so that progress can be reported between them;
# the calls share one compilation, so ten cost ~nothing more than one.
PROGRESS_UPDATES = 10


@dataclass(frozen=True)
class BatchResult:
    """What a batched training leaves: per member, its weights, Adam slots and epoch losses.

    `weights[k]`, `momentums[k]` and `velocities[k]` are in `model.get_weights()`
    order; `losses[k, e]` is member k's epoch-e loss as fit reports it (NaN past its
    `epochs_run[k]`); `iterations` is the Adam step count of a member that trained
    every epoch, `member_iterations[k]` member k's own. With early stopping
    `val_losses[k, e]` is its validation loss, and its weights are those of its
    `best_epoch[k]` (1-based; without, its last epoch), its Adam slots those of its
    last (imbalance/model/stopping.py). Left out, the counts are every epoch's.
    """

    weights: list[list[np.ndarray]]
    momentums: list[list[np.ndarray]]
    velocities: list[list[np.ndarray]]
    losses: np.ndarray
    iterations: int
    epochs_run: list[int] = field(default_factory=list)
    best_epoch: list[int] = field(default_factory=list)
    val_losses: np.ndarray | None = None
    member_iterations: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        n_members, n_epochs = len(self.weights), np.shape(self.losses)[1]
        for name, value in (
            ("epochs_run", [n_epochs] * n_members),
            ("best_epoch", [n_epochs] * n_members),
            ("member_iterations", [self.iterations] * n_members),
        ):
            if not getattr(self, name):
                object.__setattr__(self, name, value)
        if self.val_losses is None:
            object.__setattr__(self, "val_losses", np.zeros((n_members, 0), np.float32))


def member_bytes(
    shapes: Sequence[tuple[int, ...]], batch_size: int, validation_rows: int = 0
) -> int:
    """Return the estimated bytes one member adds to a compiled call (module docstring).

    Early stopping adds a forward pass over the `validation_rows` (values, no gradients:
    2 per unit) and 3 more copies of the parameters (the kept weights, m and v).
    """
    kernels = shapes[0::2]
    units = sum(shape[1] for shape in kernels)
    products = sum(i * o for i, o in kernels if i * o <= definition.SMALL_LAYER)
    params = sum(int(np.prod(shape)) for shape in shapes)
    if validation_rows:
        params += 3 * params // 8 + 1
    step = batch_size * (4 * units + products) + validation_rows * (2 * units + products)
    return 4 * (step + 8 * params)


def members_per_call(
    shapes: Sequence[tuple[int, ...]], batch_size: int, validation_rows: int = 0
) -> int:
    """Return how many members one compiled call may train within `MEMBER_BUDGET_BYTES`."""
    return max(1, MEMBER_BUDGET_BYTES // member_bytes(shapes, batch_size, validation_rows))


def train_batched(
    initial: Sequence[Sequence[np.ndarray]],
    x: np.ndarray,
    y: np.ndarray,
    class_weights: Sequence[dict[int, float] | None],
    *,
    epochs: int | Sequence[int],
    batch_size: int,
    learning_rate: float,
    seed: int = 0,
    shuffle: bool = True,
    on_epochs_done: Callable[[int], None] | None = None,
    max_members: int | None = None,
    ignore: np.ndarray | None = None,
    blind: Sequence[bool] | None = None,
    resume: BatchResult | None = None,
    programs: Programs | None = None,
    early_stopping: EarlyStopping | None = None,
) -> BatchResult:
    """Return each member's trained weights, Adam state and epoch losses.

    Member k starts from `initial[k]` (the network's `get_weights()`: kernels and
    biases, see `definition.weight_shapes`) and weighs rows by `class_weights[k]`
    (None: all 1). It ends where `model.fit` would leave that network, compiled by
    `definition.compile_network` with `learning_rate`, for the same `epochs`,
    `batch_size` and (with `shuffle=False`) batches, to float32 rounding; with
    `shuffle`, epoch e visits the rows in `epoch_order(len(x), seed, e)`. At most
    `max_members` (default: the memory budget's share) train per call. `resume`:
    the members' Adam state to go on from (its momentums, velocities and
    iterations; default: a fresh Adam). `programs` keeps the compiled loop for the
    caller's next training of the same shape (default: this call's own).

    Members k with `blind[k]` never learn from the rows where `ignore` is true (they
    weigh 0 for them: `train_fused(..., ignore=...)`); the others learn from all. So
    models for choosing (blind to a validation part) and final models (trained on all
    rows) train together, on the same batches, in one compiled loop.

    `epochs`: every member's, or one count per member; members that train fewer
    epochs than others stop after theirs, their state frozen (they come out as if
    trained alone for that many). With `early_stopping` each member stops on its own
    validation loss (imbalance/model/stopping.py), its `epochs` the most it trains,
    and keeps its best epoch's weights. Either way the loop ends when every member
    has stopped; without either, it is the plain loop, bit for bit.
    """
    load_keras()
    import tensorflow as tf

    n_members = len(initial)
    shapes = _check(initial, x, y, class_weights)
    n_rows = len(x)
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    limits = np.broadcast_to(np.asarray(epochs, np.int64), (n_members,)).copy()
    if np.ndim(epochs) and len(epochs) != n_members:
        raise ValueError(f"{n_members} members but {len(epochs)} epoch counts")
    if (limits < 0).any():
        raise ValueError(f"epochs must be non-negative, got {list(limits)}")
    epochs = int(limits.max()) if n_members else 0
    # Only a training that stops some member before the end takes the tracked loop.
    tracked = early_stopping is not None or bool((limits != epochs).any())
    start = [[np.array(w, np.float32) for w in ws] for ws in initial]
    if resume is None:
        zeros = [[np.zeros_like(w) for w in ws] for ws in start]
        fresh = [[z.copy() for z in ws] for ws in zeros]
        resume = BatchResult(start, zeros, fresh, np.zeros((n_members, 0), np.float32), 0)
    if n_members == 0 or n_rows == 0 or epochs <= 0:
        return BatchResult(
            start,
            [[np.array(w, np.float32) for w in ws] for ws in resume.momentums],
            [[np.array(w, np.float32) for w in ws] for ws in resume.velocities],
            np.zeros((n_members, 0), np.float32),
            resume.iterations,
        )
    batch_size = min(int(batch_size), n_rows)
    n_val = 0 if early_stopping is None else len(early_stopping.x)
    if n_val and np.shape(early_stopping.x)[1] != np.shape(x)[1]:
        raise ValueError(
            f"validation rows have {np.shape(early_stopping.x)[1]} features, x has {np.shape(x)[1]}"
        )
    per_call = members_per_call(shapes, batch_size, n_val)
    if max_members is not None:
        per_call = min(per_call, max(1, int(max_members)))
    # Balanced chunks, the last padded: one shape, one compilation. Never a chunk of
    # one: XLA drops a size-1 axis and compiles other code (with dots, a lone member
    # came out ~6e-8 off), so a lone member trains beside a copy, for about nothing.
    n_calls = -(-n_members // per_call)
    per_call = max(2, -(-n_members // n_calls))
    epochs_per_call = (
        epochs if not shuffle else max(1, min(epochs, ORDER_BUDGET_BYTES // (4 * n_rows)))
    )
    epochs_per_call = min(epochs_per_call, -(-epochs // PROGRESS_UPDATES))

    # Each member's class weights as a table over the labels present, so that a
    # batch's row weights are one gather instead of a K x n_rows array; the values
    # are `class_weights_per_row`'s, as train_fused uses them.
    labels = np.asarray(y)
    labels = labels[..., 0] if labels.ndim == 2 else labels
    present, label_index = np.unique(np.round(labels).astype(np.int64), return_inverse=True)
    val_labels = val_index = None
    if early_stopping is not None:
        # The validation rows' labels join the table's: their weights are a gather too.
        val_labels = _labels(early_stopping.y, len(early_stopping.x))
        classes = np.round(val_labels).astype(np.int64)
        present = np.union1d(present, classes)
        label_index = np.searchsorted(present, np.round(labels).astype(np.int64))
        val_index = np.searchsorted(present, classes)
    table = np.stack(
        [
            np.ones(len(present), np.float32) if cw is None else class_weights_per_row(present, cw)
            for cw in class_weights
        ]
    )
    if ignore is not None:
        # Ignored rows get labels of their own, which blind members weigh 0: the
        # compiled loop is unchanged (a gather of the table by label index).
        ignored = np.asarray(ignore, bool)
        if ignored.shape != (len(labels),):
            raise ValueError(f"ignore must hold one flag per row, got shape {ignored.shape}")
        sees = ~np.asarray(blind if blind is not None else [True] * n_members, bool)
        label_index = label_index + len(present) * ignored
        table = np.concatenate([table, table * sees[:, None].astype(np.float32)], axis=1)

    # Each member's weights flattened into one row, (n_calls * per_call, n_params):
    # rows past K are padding. A compiled call gets its chunk transposed, members
    # last (see _compile).
    padded = n_calls * per_call
    pick = np.minimum(np.arange(padded), n_members - 1)
    params = np.stack([flat(initial[k]) for k in pick])
    moments = np.stack([flat(resume.momentums[k]) for k in pick])
    velocities = np.stack([flat(resume.velocities[k]) for k in pick])
    table = table[pick]
    losses = np.zeros((padded, epochs), np.float32)

    loop = (programs or Programs()).get(
        shapes, n_rows, batch_size, epochs_per_call, per_call, tracked
    )
    x_all = tf.convert_to_tensor(np.asarray(x, dtype=np.float32))
    y_all = tf.convert_to_tensor(np.asarray(labels, dtype=np.float32))
    index_all = tf.convert_to_tensor(label_index.astype(np.int32))
    steps_per_epoch = -(-n_rows // batch_size)
    if tracked:
        track = Track.start(
            params, moments, velocities, limits[pick], epochs, early_stopping, val_labels, val_index
        )

    def orders_from(first: int) -> np.ndarray | None:
        """Return the row orders of epochs first..first+epochs_per_call (None: row order)."""
        if not shuffle:
            return None
        block = np.zeros((epochs_per_call, n_rows), dtype=np.int32)
        for i, epoch in enumerate(range(first, min(first + epochs_per_call, epochs))):
            block[i] = epoch_order(n_rows, seed, epoch)
        return block

    if on_epochs_done:
        on_epochs_done(0)
    firsts = list(range(0, epochs, epochs_per_call))
    # numpy's shuffle and the compiled call release the GIL: the next block's
    # orders are drawn while this one trains.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(orders_from, firsts[0])
        for i, first in enumerate(firsts):
            block = pending.result()
            if i + 1 < len(firsts):
                pending = pool.submit(orders_from, firsts[i + 1])
            orders = None if block is None else tf.convert_to_tensor(block)
            n_epochs = min(epochs_per_call, epochs - first)
            iterations = resume.iterations + first * steps_per_epoch
            for begin in range(0, padded, per_call):
                part = slice(begin, begin + per_call)
                if tracked and not track.active[part].any():
                    continue
                loop.load(params[part], moments[part], velocities[part], iterations, learning_rate)
                if not tracked:
                    block_losses = loop.run(
                        members_last(table[part]),
                        x_all,
                        y_all,
                        index_all,
                        orders,
                        tf.constant(n_epochs, tf.int32),
                    )
                else:
                    data = (members_last(table[part]), x_all, y_all, index_all, orders)
                    block_losses = track.run(loop, part, data, first, n_epochs)
                params[part], moments[part], velocities[part] = loop.state()
                losses[part, first : first + n_epochs] = block_losses.numpy()[:, :n_epochs]
            if tracked and not track.active.any():
                break  # every member has stopped: no epoch is left to train
            if on_epochs_done:
                on_epochs_done(first + n_epochs)
    if tracked and on_epochs_done and first + n_epochs < epochs:
        on_epochs_done(epochs)  # done, early

    def members(rows: np.ndarray) -> list[list[np.ndarray]]:
        return [unflat(rows[k], shapes) for k in range(n_members)]

    if tracked:
        run = track.epochs_run[:n_members].astype(int)
        track.blank_past(losses)  # what a stopped member's lane went on to
        return BatchResult(
            members(track.kept),
            members(track.kept_m),
            members(track.kept_v),
            losses[:n_members].copy(),
            resume.iterations + epochs * steps_per_epoch,
            [int(e) for e in run],
            [int(e) for e in track.best_epoch[:n_members]],
            track.val_losses[:n_members].copy() if early_stopping is not None else None,
            [resume.iterations + int(e) * steps_per_epoch for e in run],
        )
    return BatchResult(
        members(params),
        members(moments),
        members(velocities),
        losses[:n_members].copy(),
        resume.iterations + epochs * steps_per_epoch,
    )


def member_model(
    result: BatchResult, member: int, *, learning_rate: float, with_optimizer_state: bool = True
) -> keras.Model:
    """Return member `member` as the compiled Keras model `model.fit` would have left.

    Built by `network.build_model` (the one definition's network), its weights set,
    and with `with_optimizer_state` its Adam's slots and iteration count too, so it
    saves to `.keras` and resumes like any trained model.
    """
    from imbalance.model.network import build_model, set_adam_state

    weights = result.weights[member]
    model = build_model(weights[0].shape[-1], learning_rate, seed=0, n_features=weights[0].shape[0])
    model.set_weights(weights)
    if with_optimizer_state:
        momentums, velocities = result.momentums[member], result.velocities[member]
        set_adam_state(model, momentums, velocities, result.member_iterations[member])
    return model


def _labels(y: np.ndarray, n_rows: int) -> np.ndarray:
    """Return the labels `y` as a (rows,) array; refuse any but one label per row."""
    if len(y) != n_rows or not (np.ndim(y) == 1 or np.shape(y)[1:] == (1,)):
        raise ValueError(f"y must hold one label per row of x, got shape {np.shape(y)}")
    labels = np.asarray(y)
    return labels[..., 0] if labels.ndim == 2 else labels


def _check(
    initial: Sequence[Sequence[np.ndarray]],
    x: np.ndarray,
    y: np.ndarray,
    class_weights: Sequence[dict[int, float] | None],
) -> list[tuple[int, ...]]:
    """Return the members' weight shapes; refuse members or data that do not fit together."""
    if len(class_weights) != len(initial):
        raise ValueError(f"{len(initial)} members but {len(class_weights)} class weights")
    if np.ndim(x) != 2:
        raise ValueError(f"x must be 2-D (rows, features), got shape {np.shape(x)}")
    if len(y) != len(x) or not (np.ndim(y) == 1 or np.shape(y)[1:] == (1,)):
        raise ValueError(f"y must hold one label per row of x, got shape {np.shape(y)}")
    return definition.member_shapes(initial, x)

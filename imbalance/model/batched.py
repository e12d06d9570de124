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
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from imbalance.model import definition
from imbalance.model.loop import Programs
from imbalance.model.rows import class_weights_per_row, epoch_order
from imbalance.model.tf import load_keras

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

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
    order; `losses[k, e]` is member k's epoch-e loss as fit reports it; `iterations`
    is every member's Adam step count.
    """

    weights: list[list[np.ndarray]]
    momentums: list[list[np.ndarray]]
    velocities: list[list[np.ndarray]]
    losses: np.ndarray
    iterations: int


def member_bytes(shapes: Sequence[tuple[int, ...]], batch_size: int) -> int:
    """Return the estimated bytes one member adds to a compiled call (module docstring)."""
    kernels = shapes[0::2]
    units = sum(shape[1] for shape in kernels)
    products = sum(i * o for i, o in kernels if i * o <= definition.SMALL_LAYER)
    params = sum(int(np.prod(shape)) for shape in shapes)
    return 4 * (batch_size * (4 * units + products) + 8 * params)


def members_per_call(shapes: Sequence[tuple[int, ...]], batch_size: int) -> int:
    """Return how many members one compiled call may train within `MEMBER_BUDGET_BYTES`."""
    return max(1, MEMBER_BUDGET_BYTES // member_bytes(shapes, batch_size))


def train_batched(
    initial: Sequence[Sequence[np.ndarray]],
    x: np.ndarray,
    y: np.ndarray,
    class_weights: Sequence[dict[int, float] | None],
    *,
    epochs: int,
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
    """
    load_keras()
    import tensorflow as tf

    n_members = len(initial)
    shapes = _check(initial, x, y, class_weights)
    n_rows = len(x)
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
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
    per_call = members_per_call(shapes, batch_size)
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
    params = np.stack([_flat(initial[k]) for k in pick])
    moments = np.stack([_flat(resume.momentums[k]) for k in pick])
    velocities = np.stack([_flat(resume.velocities[k]) for k in pick])
    table = table[pick]
    losses = np.zeros((padded, epochs), np.float32)

    loop = (programs or Programs()).get(shapes, n_rows, batch_size, epochs_per_call, per_call)
    x_all = tf.convert_to_tensor(np.asarray(x, dtype=np.float32))
    y_all = tf.convert_to_tensor(np.asarray(labels, dtype=np.float32))
    index_all = tf.convert_to_tensor(label_index.astype(np.int32))
    steps_per_epoch = -(-n_rows // batch_size)

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
                loop.load(params[part], moments[part], velocities[part], iterations, learning_rate)
                block_losses = loop.run(
                    _members_last(table[part]),
                    x_all,
                    y_all,
                    index_all,
                    orders,
                    tf.constant(n_epochs, tf.int32),
                )
                params[part], moments[part], velocities[part] = loop.state()
                losses[part, first : first + n_epochs] = block_losses.numpy()[:, :n_epochs]
            if on_epochs_done:
                on_epochs_done(first + n_epochs)

    def members(flat: np.ndarray) -> list[list[np.ndarray]]:
        return [_unflat(flat[k], shapes) for k in range(n_members)]

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
        set_adam_state(
            model, result.momentums[member], result.velocities[member], result.iterations
        )
    return model


def _flat(weights: Sequence[np.ndarray]) -> np.ndarray:
    """Return one member's weights as one float32 row, in `get_weights()` order, C order."""
    return np.concatenate([np.asarray(w, np.float32).ravel() for w in weights])


def _unflat(row: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """Return `_flat`'s row as a `get_weights()` list of `shapes` (copies)."""
    sizes = [int(np.prod(shape)) for shape in shapes]
    parts = np.split(row, np.cumsum(sizes)[:-1])
    return [part.reshape(shape).copy() for part, shape in zip(parts, shapes, strict=True)]


def _members_last(rows: np.ndarray) -> tf.Tensor:
    """Return (members, n) rows as the compiled loop's (n, members) tensor."""
    import tensorflow as tf

    return tf.convert_to_tensor(np.ascontiguousarray(rows.T))


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

"""The batched trainer's compiled loop: all members' Adam steps over all epochs, in XLA.

Kept apart from the planning around it (chunks, class-weight tables, row orders,
progress: imbalance/model/batched.py) and from the tracked loop's state between calls
(imbalance/model/tracking.py). The network's arithmetic is
`imbalance.model.definition`'s; this module only runs it, step after step, and holds
the members' layout: a row each outside the loop (`flat`), the last axis inside.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from imbalance.model import definition
from imbalance.model.rows import batch_rows
from imbalance.model.tf import load_keras

if TYPE_CHECKING:
    import keras
    import tensorflow as tf


class Programs:
    """The compiled loops of one caller (a run's training task), by network and data shape.

    Owned by its caller, not the process: nothing is shared between runs or threads,
    so no lock is needed, and the loops are freed with the caller's object. Tracing
    and compiling a loop costs ~1.5 s, training one model ~0.4 s (default job), so
    models trained one after another (`train_fused`) share one. Use one from one
    thread at a time.
    """

    def __init__(self) -> None:
        self._loops: dict[tuple, Loop] = {}

    def get(
        self,
        shapes: Sequence[tuple[int, ...]],
        n_rows: int,
        batch_size: int,
        epochs_per_call: int,
        n_members: int,
        tracked: bool = False,
    ) -> Loop:
        """Return the compiled loop for members of these shapes and this data shape, made once.

        `tracked`: the loop that also keeps each member's best weights and stops it
        (`Loop.run_tracked`); untracked, the plain loop, unchanged by early stopping.
        """
        key = (tuple(shapes), n_rows, batch_size, epochs_per_call, n_members, tracked)
        if key not in self._loops:
            self._loops[key] = Loop(shapes, n_rows, batch_size, epochs_per_call, n_members, tracked)
        return self._loops[key]


class Loop:
    """A compiled loop around its own state: the members' weights and the network's Adam.

    The weights are one (n_params, K) variable (`flat`'s rows, members last), and
    `definition.optimizer()` is built on it: a momentum and a velocity of that shape
    and one iteration count, which all members share (they take the same steps).
    Adam is elementwise, so this is each member's own Adam. A call loads a chunk's
    state in, runs, and reads it back out (microseconds for this network).
    """

    def __init__(
        self,
        shapes,
        n_rows: int,
        batch_size: int,
        epochs_per_call: int,
        n_members: int,
        tracked: bool = False,
    ):
        keras = load_keras()
        n_params = sum(int(np.prod(shape)) for shape in shapes)
        self.params = keras.Variable(np.zeros((n_params, n_members), np.float32), name="members")
        self.adam = definition.optimizer(learning_rate=0.001)  # set per call (`load`)
        self.iterations, (self.m,), (self.v,) = definition.adam_slots(self.adam, [self.params])
        run = _compile(shapes, n_rows, batch_size, epochs_per_call, self.params, self.adam, tracked)
        if tracked:
            self.run_tracked = run
        else:
            self.run = run

    def load(self, params, moments, velocities, iterations: int, learning_rate: float) -> None:
        """Set the state to (members, n_params) rows, the step count and the learning rate."""
        for variable, rows in ((self.params, params), (self.m, moments), (self.v, velocities)):
            variable.assign(np.ascontiguousarray(rows.T))
        self.iterations.assign(iterations)
        self.adam.learning_rate = learning_rate

    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the weights, momentums and velocities as (members, n_params) rows."""
        return tuple(np.asarray(v.numpy()).T for v in (self.params, self.m, self.v))


def flat(weights: Sequence[np.ndarray]) -> np.ndarray:
    """Return one member's weights as one float32 row, in `get_weights()` order, C order."""
    return np.concatenate([np.asarray(w, np.float32).ravel() for w in weights])


def unflat(row: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """Return `flat`'s row as a `get_weights()` list of `shapes` (copies)."""
    sizes = [int(np.prod(shape)) for shape in shapes]
    parts = np.split(row, np.cumsum(sizes)[:-1])
    return [part.reshape(shape).copy() for part, shape in zip(parts, shapes, strict=True)]


def members_last(rows: np.ndarray) -> tf.Tensor:
    """Return (members, n) rows as the compiled loop's (n, members) tensor."""
    import tensorflow as tf

    return tf.convert_to_tensor(np.ascontiguousarray(rows.T))


def _compile(
    shapes: Sequence[tuple[int, ...]],
    n_rows: int,
    batch_size: int,
    epochs_per_call: int,
    params: keras.Variable,
    adam: keras.optimizers.Optimizer,
    tracked: bool = False,
) -> Callable:
    """Return the compiled loop training the members held in `params` with `adam`.

    Members are the last (minor) axis of every tensor in the loop: the state is one
    (n_params, K) variable each for the weights, Adam's m and v, a kernel is (in,
    out, K), a layer's values (units, batch, K). XLA emits a loop per fusion over
    its minor axis, so a step's ~40 fusions each run K lanes wide instead of 1-2
    (the units) wide; and Adam updates all parameters in three fusions (m, v, the
    weights) instead of three per weight. Measured on the default job, K = 100:
    ~135 µs a step against ~360 µs with members first and a list of weights.

    `tracked` compiles `_tracked`'s loop around the same epochs instead.
    """
    import tensorflow as tf

    sizes = [int(np.prod(shape)) for shape in shapes]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    full_steps, partial_size = divmod(n_rows, batch_size)

    def weights_of(flat: tf.Tensor) -> list[tf.Tensor]:
        """Return the (n_params, K) state's weights, each (*shape, K): static slices."""
        return [
            tf.reshape(flat[offsets[i] : offsets[i + 1]], [*shape, -1])
            for i, shape in enumerate(shapes)
        ]

    def train_step(take: Callable, data: tuple, rows: tuple | None = None) -> tf.Tensor:
        """Take one Adam step of every member; return each member's batch loss.

        `rows`: None when the whole slice is the batch, else (mask, size): a (batch,)
        0/1 mask of the slice's rows that are, and their count.
        """
        table, x_all, y_all, index_all = data
        xb, yb, wb = take(x_all), take(y_all), tf.gather(table, take(index_all))
        size = float(xb.shape[0])
        if rows is not None:
            mask, size = rows
            wb = wb * mask[:, None]
        with tf.GradientTape() as tape:
            logits = definition.logits(weights_of(params.value), xb)
            labels = tf.broadcast_to(yb[:, None], tf.shape(logits))
            losses = definition.batch_losses(definition.row_losses(labels, logits), wb, size)
            # Members do not interact: the gradient of the sum is each member's own.
            total = tf.reduce_sum(losses)
        grads = tape.gradient(total, [params])
        adam.apply(grads, [params])
        return losses

    def train_epoch(data: tuple, order: tf.Tensor | None) -> tf.Tensor:
        """Train every member one epoch over the rows in `order`; return its epoch losses."""
        n_members = data[0].shape[1]

        # fit's loss tracker: float32 total += loss * size, count += size.
        def step_body(step, total, count):
            start = step * batch_size
            if not partial_size:
                size = float(batch_size)
                loss = train_step(batch_rows(order, start, batch_size), data)
            else:
                # fit's short last batch, in the same code rather than a second copy
                # of the step (which doubled the compile time, ~1.5 s): its slice
                # ends at the last row, and the rows before `start` in it weigh 0.
                begin = tf.minimum(start, n_rows - batch_size)
                mask = tf.cast(tf.range(batch_size) + begin >= start, tf.float32)
                size = tf.where(step < full_steps, float(batch_size), float(partial_size))
                take = batch_rows(order, begin, batch_size)
                loss = train_step(take, data, (mask, size))
            return step + 1, total + loss * size, count + size

        zeros = tf.zeros([n_members], tf.float32)
        _, total, count = tf.while_loop(
            lambda step, *_: step < full_steps + (1 if partial_size else 0),
            step_body,
            (tf.constant(0, tf.int32), zeros, zeros),
        )
        return tf.math.divide_no_nan(total, count)

    if tracked:
        return _tracked(train_epoch, weights_of, params, adam, epochs_per_call)

    @tf.function(jit_compile=True, autograph=False)
    def run(table, x_all, y_all, index_all, orders, n_epochs):
        data = (table, x_all, y_all, index_all)

        def epoch_body(epoch, losses):
            order = None if orders is None else tf.gather(orders, epoch)
            return epoch + 1, losses.write(epoch, train_epoch(data, order))

        _, losses = tf.while_loop(
            lambda epoch, *_: epoch < n_epochs,
            epoch_body,
            (tf.constant(0, tf.int32), tf.TensorArray(tf.float32, size=epochs_per_call)),
        )
        return tf.transpose(losses.stack())

    return run


def _tracked(
    train_epoch: Callable,
    weights_of: Callable,
    params: keras.Variable,
    adam: keras.optimizers.Optimizer,
    epochs_per_call: int,
) -> Callable:
    """Return the compiled loop that keeps each member's best weights and stops it on its own.

    The epochs are `train_epoch`'s, all members' steps in lockstep as in the plain loop;
    after each, per member (the rule of imbalance/model/stopping.py, in float32):

    - with validation rows, its loss on them (`definition`'s forward pass and loss, the
      rows weighted by the member's class weights, summed over the rows); an epoch that
      improves on the best (or is the member's first) has its weights kept, `wait`
      counts the epochs since, and `patience` of them stop the member;
    - without, every epoch's weights are kept: the member stops after `limits[k]`.

    A stopped member's lane goes on computing (the members step together), but what it
    leaves is frozen at its stop: the weights kept, Adam's m and v of its last epoch,
    its epoch counts. So it comes out as if it had trained alone, and the loop ends
    once every member has stopped. The kept state `track` goes in and comes out, so a
    training split into calls goes on where the last call ended (tracking.Track).
    """
    import tensorflow as tf

    _, (m_slot,), (v_slot,) = definition.adam_slots(adam, [params])

    @tf.function(jit_compile=True, autograph=False)
    def run(table, x_all, y_all, index_all, orders, n_epochs, first, limits, rule, val, track):
        data = (table, x_all, y_all, index_all)
        patience, min_delta = rule

        def validation_losses(flat: tf.Tensor) -> tf.Tensor:
            x_val, y_val, index_val = val
            logits = definition.logits(weights_of(flat), x_val)
            labels = tf.broadcast_to(y_val[:, None], tf.shape(logits))
            row_weights = tf.gather(table, index_val)
            size = float(x_val.shape[0])
            return definition.batch_losses(definition.row_losses(labels, logits), row_weights, size)

        def epoch_body(epoch, losses, val_losses, track):
            kept, kept_m, kept_v, best, wait, epochs_run, best_epoch, active = track
            order = None if orders is None else tf.gather(orders, epoch)
            losses = losses.write(epoch, train_epoch(data, order))
            done = first + epoch + 1  # epochs of this training, 1-based
            flat = params.value
            if val is None:
                loss = tf.zeros_like(best)
                improved = active
                out_of_patience = tf.zeros_like(active)
            else:
                loss = validation_losses(flat)
                improved = active & ((best_epoch == 0) | (loss < best - min_delta))
                wait = tf.where(improved, 0, tf.where(active, wait + 1, wait))
                out_of_patience = wait >= patience
            kept = tf.where(improved[None, :], flat, kept)
            best = tf.where(improved, loss, best)
            best_epoch = tf.where(improved, done, best_epoch)
            kept_m = tf.where(active[None, :], m_slot.value, kept_m)
            kept_v = tf.where(active[None, :], v_slot.value, kept_v)
            epochs_run = tf.where(active, done, epochs_run)
            active = active & ~out_of_patience & (done < limits)
            track = (kept, kept_m, kept_v, best, wait, epochs_run, best_epoch, active)
            return epoch + 1, losses, val_losses.write(epoch, loss), track

        _, losses, val_losses, track = tf.while_loop(
            lambda epoch, *rest: (epoch < n_epochs) & tf.reduce_any(rest[-1][-1]),
            epoch_body,
            (
                tf.constant(0, tf.int32),
                tf.TensorArray(tf.float32, size=epochs_per_call),
                tf.TensorArray(tf.float32, size=epochs_per_call),
                tuple(track),
            ),
        )
        return tf.transpose(losses.stack()), tf.transpose(val_losses.stack()), track

    return run

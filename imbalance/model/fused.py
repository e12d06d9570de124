"""Train a compiled Keras model with one XLA-compiled loop instead of `model.fit`.

`model.fit` spends ~0.5-1.2 ms of Python and executor dispatch per step on a
network whose arithmetic takes a few µs. `train_fused` runs all epochs and steps
inside one `tf.function(jit_compile=True)` holding a `tf.while_loop`, with the
model's own compiled loss and optimizer settings, so it leaves behind the model that
`fit` would have (weights, Adam slots, `optimizer.iterations`), just sooner. The
loop is compiled once for every model of one network and data shape that a caller
trains through one `Programs` (the run's, not the process's), so models trained
one after another pay for one compile.

Measured on the 2-core dev box (shared, load ~3), default job (80,000 rows, batch
100, 50 epochs = 40,000 steps, hidden 2, class weights), one run each:
  - model.fit (steps_per_execution = one epoch):   500-660 µs/step, 20-27 s
  - this loop, jit_compile=False (graph executor): ~290 µs/step
  - this loop, jit_compile=True (XLA):             13-30 µs/step + ~1.5-2.5 s
    trace and compile per call; 2.3-3.1 s in all (57-76 µs/step)
XLA wins except on a few hundred steps, where its fixed compile time dominates.

Keras turns XLA off for `fit` on CPU-only machines, so fit runs TF's own kernels
and this loop XLA's: they differ by float32 rounding (~1e-7 after 800 steps) that
Adam compounds over long runs (~3e-5 after 12,000 steps, ~2e-4 after 40,000).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from imbalance.model.tf import load_keras

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

# Host memory allowed for the precomputed row orders of one compiled call. The
# default job's 50 orders (16 MB) fit in one call; at 10M rows each call gets one
# epoch's order (40 MB) while a thread shuffles the next.
ORDER_BUDGET_BYTES = 64 * 2**20
# Compiled calls per training at most, so that progress can be reported between them;
# the calls share one compilation, so ten cost ~nothing more than one.
PROGRESS_UPDATES = 10


def class_weights_per_row(y: np.ndarray, class_weight: dict[int, float]) -> np.ndarray:
    """Return one float32 weight per row, picked from `class_weight` by the row's label.

    A vectorised copy of Keras 3's `class_weight_to_sample_weights` (which loops in
    Python): one-hot labels are argmax-ed, others rounded; unlisted classes weigh 1.
    """
    labels = np.asarray(y)
    if labels.ndim > 1:
        labels = np.argmax(labels, axis=-1) if labels.shape[-1] != 1 else labels[..., 0]
    labels = np.round(labels).astype(np.int64)
    weights = np.ones(len(labels), dtype=np.float32)
    for cls, weight in class_weight.items():
        weights[labels == cls] = weight
    return weights


def epoch_order(n_rows: int, seed: int, epoch: int) -> np.ndarray:
    """Return the int32 row order of `epoch`, a permutation fixed by (`seed`, `epoch`) alone.

    Drawn on the host: numpy shuffles 10M rows in ~1 s where an in-graph XLA argsort
    of random keys took ~5 s (and 30 ms, i.e. ~40 µs/step, at 80,000 rows).
    """
    order = np.arange(n_rows, dtype=np.int32)
    np.random.default_rng([seed, epoch]).shuffle(order)
    return order


def train_fused(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    class_weight: dict[int, float] | None,
    shuffle: bool = True,
    seed: int = 0,
    on_epochs_done: Callable[[int], None] | None = None,
    programs: Programs | None = None,
    ignore: np.ndarray | None = None,
) -> list[float]:
    """Return each epoch's loss as `model.fit` reports it, after training `model` in place.

    `programs` keeps the compiled loop for the caller's next model of the same kind
    (default: compiled for this call only). Rows where `ignore` is true weigh 0: the
    model never learns from them (a validation part), whose batches are otherwise
    those of the whole `x`.

    With `shuffle=False` this computes what `model.fit(x, y, epochs=epochs,
    batch_size=batch_size, class_weight=class_weight, shuffle=False)` computes: the
    same batches (a final partial one included), the model's compiled loss with the
    class weights as per-row sample weights, the model's compiled optimizer, and
    fit's epoch loss (the batch-size-weighted mean of the batch losses). Results
    agree with fit to float32 rounding (XLA fuses differently), not bit for bit.
    With `shuffle=True` each epoch visits the rows in `epoch_order(len(x), seed,
    epoch)`, so a seed gives bit-identical weights in any process.
    """
    load_keras()
    import tensorflow as tf

    n_rows = len(x)
    if n_rows == 0 or epochs <= 0:
        return []
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    batch_size = min(int(batch_size), n_rows)
    # Epochs per compiled call: all of them unless the shuffled orders outgrow the
    # budget. Every call gets the same shapes, so XLA compiles once.
    chunk = epochs if not shuffle else max(1, min(epochs, ORDER_BUDGET_BYTES // (4 * n_rows)))
    chunk = min(chunk, -(-epochs // PROGRESS_UPDATES))

    # fit's layers cast float64 inputs to float32 on entry; casting once here gives
    # the same values without a float64 copy of a 10M-row table inside the loop.
    x_all = tf.convert_to_tensor(np.asarray(x, dtype=np.float32))
    y_all = tf.convert_to_tensor(np.asarray(y, dtype=np.float32))
    # Unweighted rows weigh exactly 1: the loss is the same (x * 1.0 == x), and every
    # variant can share one compiled program.
    weights = (
        np.ones(n_rows, dtype=np.float32)
        if class_weight is None
        else class_weights_per_row(y, class_weight)
    )
    if ignore is not None:
        weights = np.where(np.asarray(ignore, bool), np.float32(0), weights)
    w_all = tf.convert_to_tensor(weights)
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)

    program = (programs or Programs()).get(model, n_rows, batch_size, chunk, shuffle)
    program.load(model)
    if on_epochs_done:
        on_epochs_done(0)  # its turn has come: training time counts from here
    if not shuffle:
        epoch_losses = []
        for first in range(0, epochs, chunk):
            n_epochs = min(chunk, epochs - first)
            losses = program.run(x_all, y_all, w_all, None, tf.constant(n_epochs, tf.int32))
            epoch_losses += [float(v) for v in losses.numpy()[:n_epochs]]
            if on_epochs_done:
                on_epochs_done(first + n_epochs)
        program.store(model)
        return epoch_losses

    def orders_from(first: int) -> np.ndarray:
        """Return the orders of epochs first..first+chunk (rows past the last epoch unused)."""
        block = np.zeros((chunk, n_rows), dtype=np.int32)
        for i, epoch in enumerate(range(first, min(first + chunk, epochs))):
            block[i] = epoch_order(n_rows, seed, epoch)
        return block

    epoch_losses: list[float] = []
    firsts = list(range(0, epochs, chunk))
    # numpy's shuffle and the compiled call both release the GIL, so the next
    # chunk's orders are drawn while this one trains.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(orders_from, firsts[0])
        for i, first in enumerate(firsts):
            orders = pending.result()
            if i + 1 < len(firsts):
                pending = pool.submit(orders_from, firsts[i + 1])
            n_epochs = min(chunk, epochs - first)
            losses = program.run(
                x_all, y_all, w_all, tf.convert_to_tensor(orders), tf.constant(n_epochs)
            )
            epoch_losses += [float(v) for v in losses.numpy()[:n_epochs]]
            if on_epochs_done:
                on_epochs_done(first + n_epochs)
    program.store(model)
    return epoch_losses


def batch_rows(order: tf.Tensor | None, start: tf.Tensor, size: int) -> Callable:
    """Return a function taking rows start..start+size of `order` (None: row order).

    For use inside a compiled loop (both trainers): a dynamic start with a static
    size is XLA's cheap DynamicSlice, and no copy of the order is made.
    """
    import tensorflow as tf

    if order is None:

        def take(t: tf.Tensor) -> tf.Tensor:
            rest = t.shape.rank - 1
            return tf.slice(t, tf.stack([start] + [0] * rest), [size] + [-1] * rest)

        return take
    idx = tf.slice(order, tf.reshape(start, [1]), [size])
    return lambda t: tf.gather(t, idx)


@dataclass
class _Program:
    """A compiled training loop over the variables of `model`, a private clone.

    Tracing and compiling the loop costs ~1.5 s, training one variant ~0.4 s
    (measured, default job). Each variant's model has variables of its own, and a
    loop compiled around them could train nothing else; so the loop is compiled
    once around a clone, and each training copies its model's weights and optimizer
    state in, runs, and copies them back out (microseconds for this network).
    """

    model: keras.Model
    run: Callable

    def _pairs(self, other: keras.Model) -> list:
        own = [*self.model.weights, *self.model.optimizer.variables]
        theirs = [*other.weights, *other.optimizer.variables]
        return list(zip(own, theirs, strict=True))

    def load(self, other: keras.Model) -> None:
        for own, theirs in self._pairs(other):
            own.assign(theirs)

    def store(self, other: keras.Model) -> None:
        for own, theirs in self._pairs(other):
            theirs.assign(own)


class Programs:
    """The compiled loops of one caller (a run's training task), by network and data shape.

    Owned by its caller, not the process: nothing is shared between runs or threads,
    so no lock is needed, and the loops are freed with the caller's object. Use one
    from one thread at a time.
    """

    def __init__(self) -> None:
        self._programs: dict[tuple, _Program] = {}

    def get(
        self, model: keras.Model, n_rows: int, batch_size: int, chunk: int, shuffle: bool
    ) -> _Program:
        """Return the compiled loop for models like `model` and this data shape, made once."""
        key = (_structure(model), n_rows, batch_size, chunk, shuffle)
        if key not in self._programs:
            self._programs[key] = _compile(model, n_rows, batch_size, chunk)
        return self._programs[key]


def _structure(model: keras.Model) -> str:
    """Return everything of `model` that its compiled loop depends on.

    Layer and optimizer classes, their settings, the loss, input shape and dtypes:
    two models that differ in any of these get loops of their own. Instance names
    (`dense_7`, `adam`) and initializers (their seeds) are left out: they differ
    from model to model and do not change the program; the classes are kept.
    """
    left_out = {"name", "kernel_initializer", "bias_initializer"}

    def unnamed(value):
        if isinstance(value, dict):
            return {k: unnamed(v) for k, v in value.items() if k not in left_out}
        if isinstance(value, list):
            return [unnamed(v) for v in value]
        return value

    config = {
        "model": json.loads(model.to_json()),
        "optimizer": [type(model.optimizer).__module__, type(model.optimizer).__qualname__],
        "optimizer_config": model.optimizer.get_config(),
        "loss": repr(model.loss),
        "dtypes": [v.dtype for v in model.weights],
    }
    return json.dumps(unnamed(config), sort_keys=True, default=str)


def _compile(model: keras.Model, n_rows: int, batch_size: int, chunk: int) -> _Program:
    keras = load_keras()
    import tensorflow as tf

    clone = keras.models.clone_model(model)  # its own variables (overwritten by `load`)
    clone.compile(
        optimizer=type(model.optimizer).from_config(model.optimizer.get_config()),
        loss=model.loss,
    )
    optimizer = clone.optimizer
    variables = clone.trainable_variables
    # Its slot variables cannot be created while the loop is being traced.
    optimizer.build(variables)
    full_steps, partial_size = divmod(n_rows, batch_size)

    def train_step(
        take: Callable[[tf.Tensor], tf.Tensor], x_all: tf.Tensor, y_all: tf.Tensor, w_all: tf.Tensor
    ) -> tf.Tensor:
        """Return the batch loss after one optimizer step on the rows `take` selects."""
        xb, yb, wb = take(x_all), take(y_all), take(w_all)
        with tf.GradientTape() as tape:
            y_pred = clone(xb, training=True)
            # The model's compiled loss, as fit's train_step calls it: for the sigmoid
            # output Keras uses the cached logits (sigmoid_cross_entropy_with_logits,
            # no epsilon clipping), sums weight * loss and divides by the batch size.
            loss = clone.compute_loss(x=xb, y=yb, y_pred=y_pred, sample_weight=wb, training=True)
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        return loss

    @tf.function(jit_compile=True, autograph=False)
    def run(
        x_all: tf.Tensor,
        y_all: tf.Tensor,
        w_all: tf.Tensor,
        orders: tf.Tensor | None,
        n_epochs: tf.Tensor,
    ) -> tf.Tensor:
        def epoch_body(epoch: tf.Tensor, losses: tf.TensorArray) -> tuple:
            order = None if orders is None else tf.gather(orders, epoch)

            # fit's loss tracker is a Mean metric fed (batch loss, batch size) each
            # step: float32 total += loss * size, count += size, in the same order.
            def step_body(step: tf.Tensor, total: tf.Tensor, count: tf.Tensor) -> tuple:
                take = batch_rows(order, step * batch_size, batch_size)
                loss = train_step(take, x_all, y_all, w_all)
                return step + 1, total + loss * float(batch_size), count + float(batch_size)

            zero = tf.constant(0.0, tf.float32)
            _, total, count = tf.while_loop(
                lambda step, *_: step < full_steps,
                step_body,
                (tf.constant(0, tf.int32), zero, zero),
            )
            if partial_size:
                # fit's short last batch: a second, statically shaped copy of the step.
                take = batch_rows(order, tf.constant(full_steps * batch_size), partial_size)
                loss = train_step(take, x_all, y_all, w_all)
                total += loss * float(partial_size)
                count += float(partial_size)
            return epoch + 1, losses.write(epoch, tf.math.divide_no_nan(total, count))

        _, losses = tf.while_loop(
            lambda epoch, _: epoch < n_epochs,
            epoch_body,
            (tf.constant(0, tf.int32), tf.TensorArray(tf.float32, size=chunk)),
        )
        return losses.stack()

    return _Program(clone, run)

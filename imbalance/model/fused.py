"""Train one Keras model in one XLA-compiled loop instead of `model.fit`: the batched loop.

`model.fit` spends ~0.5-1.2 ms of Python and executor dispatch per step on a
network whose arithmetic takes a few µs. `train_fused` runs all epochs and steps
inside the batched trainer's compiled loop (`train_batched` with one member), from
the model's weights and Adam state, and writes the result back, so it leaves behind
the model that `fit` would have (weights, Adam slots, `optimizer.iterations`), just
sooner. The loop is compiled once for every model of one network and data shape that
a caller trains through one `Programs` (the run's, not the process's).

Measured on the 2-core dev box (shared, load ~3), default job (80,000 rows, batch
100, 50 epochs = 40,000 steps, hidden 2, class weights), one run each:
  - model.fit (steps_per_execution = one epoch):   500-660 µs/step, 20-27 s
  - a compiled loop, jit_compile=False (graph executor): ~290 µs/step
  - a compiled loop, jit_compile=True (XLA):       13-30 µs/step + ~1.5-2.5 s
    trace and compile per call; 2.3-3.1 s in all (57-76 µs/step)
XLA wins except on a few hundred steps, where its fixed compile time dominates.

Keras turns XLA off for `fit` on CPU-only machines, so fit runs TF's own kernels
and this loop XLA's: they differ by float32 rounding (~1e-7 after 800 steps) that
Adam compounds over long runs (~3e-5 after 12,000 steps, ~2e-4 after 40,000).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from imbalance.model import definition
from imbalance.model.batched import BatchResult, train_batched
from imbalance.model.loop import Programs
from imbalance.model.stopping import EarlyStopping, History

if TYPE_CHECKING:
    import keras


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
    early_stopping: EarlyStopping | None = None,
) -> History:
    """Return each epoch's loss as `model.fit` reports it, after training `model` in place.

    `model` is the one definition's network (`network.build_model`), compiled with
    its optimizer; anything else is refused (ValueError), since the loop computes
    that network and no other. `programs` keeps the compiled loop for the caller's
    next model of the same kind (default: compiled for this call only). Rows where
    `ignore` is true weigh 0: the model never learns from them (a validation part),
    whose batches are otherwise those of the whole `x`.

    With `shuffle=False` this computes what `model.fit(x, y, epochs=epochs,
    batch_size=batch_size, class_weight=class_weight, shuffle=False)` computes, to
    float32 rounding (XLA fuses differently), not bit for bit. With `shuffle=True`
    each epoch visits the rows in `epoch_order(len(x), seed, epoch)`, so a seed gives
    bit-identical weights in any process.

    With `early_stopping` the model stops on its validation loss, `epochs` at the most,
    and is left with its best epoch's weights (and its last epoch's Adam state), as
    `train_with_fit` with the same `early_stopping` (imbalance/model/stopping.py).
    """
    from imbalance.model.network import adam_state, set_adam_state

    _check_network(model)
    variables = model.trainable_variables
    momentums, velocities, iterations = adam_state(model)
    weights = [np.asarray(v.numpy()) for v in variables]
    result = train_batched(
        [weights],
        x,
        y,
        [class_weight],
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=float(np.asarray(model.optimizer.learning_rate)),
        seed=seed,
        shuffle=shuffle,
        on_epochs_done=on_epochs_done,
        ignore=ignore,
        blind=None if ignore is None else [True],
        resume=BatchResult([weights], [momentums], [velocities], np.zeros((1, 0)), iterations),
        programs=programs,
        early_stopping=early_stopping,
    )
    for variable, trained in zip(variables, result.weights[0], strict=True):
        variable.assign(trained)
    set_adam_state(model, result.momentums[0], result.velocities[0], result.member_iterations[0])
    run = result.epochs_run[0]
    return History(
        [float(v) for v in result.losses[0][:run]],
        [float(v) for v in result.val_losses[0][:run]],
        result.best_epoch[0],
    )


def _check_network(model: keras.Model) -> None:
    """Refuse a model the loop would not compute faithfully: not the one definition's."""
    layer = definition.network_layer()
    trained = [sub for sub in model.layers if sub.trainable_weights]
    if len(trained) != 1 or not isinstance(trained[0], layer):
        raise ValueError("train_fused trains the network of network.build_model, not this model")
    if not definition.is_optimizer(model.optimizer):
        raise ValueError(
            f"train_fused steps with {definition.optimizer(0.001).__class__.__name__} and its "
            f"defaults; this model is compiled with {type(model.optimizer).__name__} "
            f"{model.optimizer.get_config()}"
        )

"""The network as Keras models (saved, preprocessing in front) and the plain `model.fit` trainer.

The network itself is `imbalance.model.definition`'s; TensorFlow is imported lazily.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from imbalance.model import definition
from imbalance.model.tf import KERAS_RANDOM_STATE, load_keras

if TYPE_CHECKING:
    import keras

    from imbalance.data.preprocess import Preprocessing
    from imbalance.model.stopping import EarlyStopping, History


def build_model(
    hidden_units: int, learning_rate: float, seed: int, n_features: int = 2, compiled: bool = True
) -> keras.Model:
    """Return the network (`definition.build_network`), its initial weights fixed by `seed` alone.

    Input(n_features) -> relu(h) -> relu(h) -> sigmoid(1), binary cross-entropy, Adam:
    the tutorial's, its kernels initialised as Keras's Dense layers would be after
    `keras.utils.set_random_seed(seed)`, bit for bit (tested), without global state.
    """
    return definition.build_network(hidden_units, learning_rate, seed, n_features, compiled)


def with_preprocessing(dense: keras.Model, prep: Preprocessing, learning_rate: float):
    """Return the saved model: raw columns in, `prep`'s preprocessing, then `dense`, compiled.

    `dense` comes uncompiled (`build_model(..., compiled=False)`): the saved model's
    one optimizer is its own, so Keras saves and restores Adam's state with it.

    One input per feature, in the spec's order, each of shape (1,): float32 for a
    numeric column, string for a categorical one. Numeric ones are concatenated and
    standardised (`Normalization` with the training part's statistics, if
    `prep.spec.scale`), categorical ones one-hot encoded (`StringLookup`, slot 0 for a
    value never seen in training); then `dense`, whose weights are the model's only
    trainable ones. The layers compute what `imbalance.data.preprocess.transform` does.
    """
    keras = load_keras()
    spec = prep.spec
    inputs = {
        f.name: keras.Input(
            shape=(1,),
            dtype="float32" if f.kind == "numeric" else "string",
            name=_input_name(i, f.name),
        )
        for i, f in enumerate(spec.features)
    }
    blocks = []
    if spec.numeric:
        numeric = [inputs[name] for name in spec.numeric]
        x = numeric[0] if len(numeric) == 1 else keras.layers.Concatenate(name="numeric")(numeric)
        if spec.scale:
            x = keras.layers.Normalization(
                mean=list(prep.mean), variance=list(prep.variance), name="standardise"
            )(x)
        blocks.append(x)
    for k, (name, vocab) in enumerate(zip(spec.categorical, prep.vocabularies, strict=True)):
        lookup = keras.layers.StringLookup(
            vocabulary=list(vocab), num_oov_indices=1, output_mode="one_hot", name=f"onehot_{k}"
        )
        blocks.append(lookup(inputs[name]))
    x = blocks[0] if len(blocks) == 1 else keras.layers.Concatenate(name="features")(blocks)
    model = keras.Model(inputs=[inputs[f.name] for f in spec.features], outputs=dense(x))
    definition.compile_network(model, learning_rate)
    return model


def _input_name(index: int, column: str) -> str:
    # Keras names must be simple; the column's own name is in the manifest's spec.
    return f"in{index}_" + re.sub(r"[^0-9A-Za-z_]", "_", column)[:48]


def train_with_fit(
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
    ignore: np.ndarray | None = None,
    early_stopping: EarlyStopping | None = None,
) -> History:
    """Train `model` in place with `model.fit`; return the loss of each epoch.

    One whole epoch per `steps_per_execution` call: the same updates as the
    tutorial's plain fit, with far fewer Python round trips (FACTS.md: 4x faster).
    fit's shuffles follow the global seed, so fits in threads take turns. Rows where
    `ignore` is true weigh 0 (as sample weights, the class weights folded in).

    With `early_stopping`: Keras's `EarlyStopping(restore_best_weights=True)` on
    `val_loss`, the validation rows weighted by `class_weight` (fit weighs them by
    sample weights only) and evaluated in one batch; Keras 3 restores the best
    epoch's weights whether it stopped or not, the rule of imbalance/model/stopping.py.
    """
    from imbalance.model.rows import class_weights_per_row
    from imbalance.model.stopping import History

    sample_weight, member_weight = None, class_weight
    if ignore is not None:
        weights = np.ones(len(x), np.float32)
        if class_weight is not None:
            weights = class_weights_per_row(y, class_weight)
        sample_weight = np.where(np.asarray(ignore, bool), np.float32(0), weights)
        class_weight = None
    keras = load_keras()
    steps_per_epoch = max(1, -(-len(x) // batch_size))
    model.compile(
        optimizer=model.optimizer,
        loss=model.loss,
        steps_per_execution=steps_per_epoch,
    )
    callbacks, validation = [], {}
    if early_stopping is not None:
        val_x, val_y = early_stopping.x, early_stopping.y
        val_weights = class_weights_per_row(val_y, member_weight or {})
        validation = {
            "validation_data": (val_x, val_y, val_weights),
            "validation_batch_size": len(val_x),
        }
        stopping = keras.callbacks.EarlyStopping(
            monitor="val_loss",
            mode="min",
            patience=early_stopping.patience,
            min_delta=early_stopping.min_delta,
            restore_best_weights=True,
        )
        callbacks.append(stopping)
    if on_epochs_done:
        callbacks.append(
            keras.callbacks.LambdaCallback(
                on_train_begin=lambda _: on_epochs_done(0),
                on_epoch_end=lambda epoch, _: on_epochs_done(epoch + 1),
            )
        )
    with KERAS_RANDOM_STATE:
        keras.utils.set_random_seed(seed)
        history = model.fit(
            x,
            y,
            epochs=epochs,
            batch_size=batch_size,
            class_weight=class_weight,
            sample_weight=sample_weight,
            shuffle=shuffle,
            callbacks=callbacks,
            verbose=0,
            **validation,
        )
    losses = [float(v) for v in history.history["loss"]]
    if early_stopping is None:
        return History(losses, [], len(losses))
    return History(losses, [float(v) for v in history.history["val_loss"]], stopping.best_epoch + 1)


def adam_state(model: keras.Model) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    """Return (momentums, velocities, iterations) of the model's Adam, in weight order."""
    iterations, momentums, velocities = definition.adam_slots(
        model.optimizer, model.trainable_variables
    )
    return (
        [np.asarray(m.numpy()) for m in momentums],
        [np.asarray(v.numpy()) for v in velocities],
        int(iterations.numpy()),
    )


def set_adam_state(
    model: keras.Model,
    momentums: list[np.ndarray],
    velocities: list[np.ndarray],
    iterations: int,
) -> None:
    """Give the model's Adam these slots and step count, through its public `variables`."""
    count, own_momentums, own_velocities = definition.adam_slots(
        model.optimizer, model.trainable_variables
    )
    pairs = [
        *zip(own_momentums, momentums, strict=True),
        *zip(own_velocities, velocities, strict=True),
    ]
    for variable, value in pairs:
        variable.assign(value)
    count.assign(iterations)

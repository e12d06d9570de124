"""The tutorial's network and the plain `model.fit` trainer (TensorFlow imported lazily)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from imbalance.model.tf import KERAS_RANDOM_STATE, load_keras

if TYPE_CHECKING:
    import keras

    from imbalance.data.preprocess import Preprocessing


def build_model(
    hidden_units: int, learning_rate: float, seed: int, n_features: int = 2, compiled: bool = True
) -> keras.Model:
    """Return the tutorial's compiled network, its initial weights fixed by `seed` alone.

    Input(n_features) -> Dense(h, relu) -> Dense(h, relu) -> Dense(1, sigmoid),
    binary cross-entropy, Adam.

    Each kernel's initializer gets its own seed, drawn from a private
    `random.Random(seed)`: the very seeds Keras would draw from Python's global
    `random` after `keras.utils.set_random_seed(seed)` (so the weights are the
    tutorial's, bit for bit: tested), without that global state, which any other
    thread (Prefect's among them) may draw from meanwhile.
    """
    keras = load_keras()
    draw = random.Random(seed)
    # Keras's make_default_seed: random.randint(1, int(1e9)), one per kernel initializer.
    seeds = [draw.randint(1, int(1e9)) for _ in range(3)]

    def dense(units: int, activation: str, kernel_seed: int):
        initializer = keras.initializers.GlorotUniform(seed=kernel_seed)
        return keras.layers.Dense(units, activation=activation, kernel_initializer=initializer)

    model = keras.Sequential(
        [
            keras.Input(shape=(n_features,)),
            dense(hidden_units, "relu", seeds[0]),
            dense(hidden_units, "relu", seeds[1]),
            dense(1, "sigmoid", seeds[2]),
        ]
    )
    if compiled:
        _compile(model, learning_rate)
    return model


def _compile(model: keras.Model, learning_rate: float) -> None:
    keras = load_keras()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="binary_crossentropy",
    )


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
    _compile(model, learning_rate)
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
) -> list[float]:
    """Train `model` in place with `model.fit`; return the loss of each epoch.

    One whole epoch per `steps_per_execution` call: the same updates as the
    tutorial's plain fit, with far fewer Python round trips (FACTS.md: 4x faster).
    fit's shuffles follow the global seed, so fits in threads take turns. Rows where
    `ignore` is true weigh 0 (as sample weights, the class weights folded in).
    """
    sample_weight = None
    if ignore is not None:
        from imbalance.model.fused import class_weights_per_row

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
    callbacks = []
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
        )
    return [float(v) for v in history.history["loss"]]


def adam_state(model: keras.Model) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    """Return (momentums, velocities, iterations) of the model's Adam, in weight order."""
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    slots = [optimizer._get_variable_index(v) for v in model.trainable_variables]
    return (
        [optimizer._momentums[i].numpy() for i in slots],
        [optimizer._velocities[i].numpy() for i in slots],
        int(optimizer.iterations.numpy()),
    )


def set_adam_state(
    model: keras.Model,
    momentums: list[np.ndarray],
    velocities: list[np.ndarray],
    iterations: int,
) -> None:
    """Give the model's Adam these slots and step count (Keras has no public setter)."""
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    for variable, m, v in zip(model.trainable_variables, momentums, velocities, strict=True):
        index = optimizer._get_variable_index(variable)
        optimizer._momentums[index].assign(m)
        optimizer._velocities[index].assign(v)
    optimizer.iterations.assign(iterations)

"""The network, written once: its layers, activation, loss and optimizer (TensorFlow lazily).

Every trainer and every scorer computes the network through this module, so a change
of architecture (a dropout, another activation, calibration) is one change here:

- `logits` is the forward pass, in `keras.ops`, of K members at once: each weight has
  a trailing member axis. The batched trainer calls it with a chunk of members (the
  fused trainer is that trainer with one), `score_members` with the members to score,
  and the saved model's `Network` layer with one (`fit` trains through that layer).
- `row_losses` is the loss of each row: binary cross-entropy on the logits. `fit`
  compiles `compiled_loss()`, Keras's BinaryCrossentropy, which on `scores`' sigmoid
  output reads the same logits back: the same values (tested against `row_losses`).
  `batch_losses` reduces rows as fit's "sum_over_batch_size" does.
- `optimizer` is the optimizer (Keras's Adam) of every trainer; `adam_slots` reads
  its state through its public `variables`.

The member axis is last because XLA emits a loop per fusion over the minor axis: a
step's fusions then run K lanes wide (see imbalance/model/batched.py).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from imbalance.model.tf import load_keras, on_import

if TYPE_CHECKING:
    import keras

# Hidden layers of `hidden_units` each, then one sigmoid unit: the tutorial's 2-2-1.
HIDDEN_LAYERS = 2
# Layers with at most this many kernel entries (in x out) are broadcast products summed
# over the input axis, larger ones einsums: a batched dot of (batch, 2) x (2, 2)
# matrices per member cost ~2.5x more per step (measured, K = 100), and a dot
# contracting the shared rows with all members' kernels at once rounded differently
# from K ~ 17 on.
SMALL_LAYER = 64


def widths(hidden_units: int) -> list[int]:
    """Return each layer's width: the hidden layers', then the one output unit."""
    return [hidden_units] * HIDDEN_LAYERS + [1]


def weight_shapes(n_features: int, hidden_units: int) -> list[tuple[int, ...]]:
    """Return the shapes of the weights in `get_weights()` order: kernel, bias per layer."""
    shapes, fan_in = [], n_features
    for units in widths(hidden_units):
        shapes += [(fan_in, units), (units,)]
        fan_in = units
    return shapes


def logits(weights: Sequence, x) -> keras.KerasTensor:
    """Return the (batch, K) logits of K members on the rows `x` (batch, features), shared.

    `weights`: per layer a kernel (in, out, K) and a bias (out, K), `get_weights()`
    order with the member axis last. Each layer is x @ kernel + bias, relu between
    layers, none after the last (`scores` applies the sigmoid).
    """
    ops = load_keras().ops
    n_layers = len(weights) // 2
    h = ops.transpose(x)[:, :, None]  # (in, batch, 1): the rows, shared by all members
    for layer in range(n_layers):
        kernel, bias = weights[2 * layer], weights[2 * layer + 1]
        if kernel.shape[0] * kernel.shape[1] <= SMALL_LAYER:
            # (in, 1, batch, K or 1) * (in, out, 1, K), summed over `in`: one fused loop.
            z = ops.sum(h[:, None] * kernel[:, :, None, :], axis=0)
        else:
            spec = "ibk,iok->obk" if layer else "ib,iok->obk"
            z = ops.einsum(spec, h if layer else h[..., 0], kernel)
        z = z + bias[:, None, :]
        h = ops.relu(z) if layer < n_layers - 1 else z
    return z[0]


def scores(weights: Sequence, x) -> keras.KerasTensor:
    """Return the (batch, K) class-1 scores of K members: the sigmoid of `logits`."""
    # Keras's sigmoid keeps its logits with its output, so the compiled loss of a model
    # ending here takes them, not the rounded probabilities (no clipping at 0 or 1).
    return load_keras().ops.sigmoid(logits(weights, x))


def row_losses(labels, member_logits) -> keras.KerasTensor:
    """Return each row's and member's loss: binary cross-entropy on the logits."""
    return load_keras().ops.binary_crossentropy(labels, member_logits, from_logits=True)


def batch_losses(losses, row_weights, size) -> keras.KerasTensor:
    """Return each member's batch loss: the weighted row losses summed, over the batch size.

    fit's "sum_over_batch_size" with sample weights; `size` is the rows that count
    (a masked short batch counts fewer than its slice holds).
    """
    ops = load_keras().ops
    return ops.divide_no_nan(ops.sum(losses * row_weights, axis=0), size)


def compiled_loss() -> keras.losses.Loss:
    """Return the loss `fit` is compiled with: `row_losses` as a Keras loss.

    Keras's BinaryCrossentropy is the mean of `ops.binary_crossentropy` over the last
    axis, here the one output unit; on the output of `scores` it uses the logits.
    """
    return load_keras().losses.BinaryCrossentropy()


def optimizer(learning_rate: float) -> keras.optimizers.Optimizer:
    """Return the optimizer every trainer steps with: Keras's Adam, its defaults."""
    return load_keras().optimizers.Adam(learning_rate=learning_rate)


def is_optimizer(candidate: keras.optimizers.Optimizer) -> bool:
    """Return whether `candidate` is `optimizer()`'s kind: Adam itself, the same settings."""
    keras = load_keras()
    if type(candidate) is not keras.optimizers.Adam:
        return False
    theirs = candidate.get_config()
    ours = optimizer(float(theirs["learning_rate"])).get_config()
    return {**theirs, "name": None} == {**ours, "name": None}


def adam_slots(adam: keras.optimizers.Optimizer, trainable: Sequence) -> tuple:
    """Return (iterations, momentums, velocities) of `adam`, built on `trainable`.

    Read through the public `variables`, laid out by Keras 3 (base_optimizer.py,
    adam.py): the iteration count, the learning rate, then per trainable variable in
    build order its momentum and its velocity (`add_optimizer_variables` interleaves
    them). The layout is checked, so that another Keras fails here, not silently.
    """
    if not adam.built:
        adam.build(list(trainable))
    variables = adam.variables
    slots = variables[2:]
    shapes = [tuple(v.shape) for v in trainable]
    if (
        len(slots) != 2 * len(shapes)
        or variables[0].path != adam.iterations.path
        or [tuple(s.shape) for s in slots[0::2]] != shapes
        or [tuple(s.shape) for s in slots[1::2]] != shapes
    ):
        raise RuntimeError(
            "the optimizer's variables are not laid out as Keras 3's Adam's (iterations, "
            f"learning rate, then momentum and velocity per weight): {[v.path for v in variables]}"
        )
    return variables[0], slots[0::2], slots[1::2]


def kernel_seeds(seed: int) -> list[int]:
    """Return the seed of each kernel's initializer, drawn from a private `random.Random(seed)`.

    The very seeds Keras would draw from Python's global `random` after
    `keras.utils.set_random_seed(seed)` (its make_default_seed: randint(1, 1e9), one
    per kernel initializer), so the initial weights are the tutorial's bit for bit
    (tested), without that global state, which other threads may draw from meanwhile.
    """
    draw = random.Random(seed)
    return [draw.randint(1, int(1e9)) for _ in range(HIDDEN_LAYERS + 1)]


def network_layer() -> type:
    """Return the `Network` Keras layer class (defined and registered when Keras loads)."""
    return _network_layer(load_keras())


@functools.cache
def _network_layer(keras) -> type:
    """Return the layer class, defined once per process (registering it twice would warn)."""

    @keras.saving.register_keras_serializable(package="imbalance")
    class Network(keras.layers.Layer):
        """The network's weights as a Keras layer: rows in, the class-1 score out, (batch, 1).

        Kernels Glorot-uniform from `kernel_seeds`, biases 0, as Keras's Dense layers
        would start; `get_weights()` order is theirs (kernel, bias per layer).
        """

        def __init__(self, widths: Sequence[int], kernel_seeds: Sequence[int], **kwargs):
            super().__init__(**kwargs)
            if len(widths) != len(kernel_seeds) or widths[-1] != 1:
                raise ValueError("one seed per layer, and the last layer must have 1 unit")
            self.widths = [int(w) for w in widths]
            self.kernel_seeds = [int(s) for s in kernel_seeds]

        def build(self, input_shape):
            fan_in = input_shape[-1]
            for i, (units, seed) in enumerate(zip(self.widths, self.kernel_seeds, strict=True)):
                initializer = keras.initializers.GlorotUniform(seed=seed)
                self.add_weight(shape=(fan_in, units), initializer=initializer, name=f"kernel_{i}")
                self.add_weight(shape=(units,), initializer="zeros", name=f"bias_{i}")
                fan_in = units

        def call(self, x):
            # One member: the member axis of size 1 stands in for the output unit's.
            one = [keras.ops.expand_dims(w, -1) for w in self.weights]
            return scores(one, x)

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], 1)

        def get_config(self):
            return {
                **super().get_config(),
                "widths": self.widths,
                "kernel_seeds": self.kernel_seeds,
            }

    return Network


def build_network(
    hidden_units: int, learning_rate: float, seed: int, n_features: int = 2, compiled: bool = True
) -> keras.Model:
    """Return the network as a Keras model, its initial weights fixed by `seed` alone.

    Input(n_features) -> `Network`; compiled with `compiled_loss()` and `optimizer()`.
    """
    keras = load_keras()
    inputs = keras.Input(shape=(n_features,))
    layer = network_layer()(widths(hidden_units), kernel_seeds(seed), name="network")
    model = keras.Model(inputs, layer(inputs))
    if compiled:
        compile_network(model, learning_rate)
    return model


def compile_network(model: keras.Model, learning_rate: float, **options) -> None:
    """Compile `model` with the network's loss and optimizer (`options`: compile's others)."""
    model.compile(optimizer=optimizer(learning_rate), loss=compiled_loss(), **options)


# Registered as soon as Keras is loaded, so `keras.saving.load_model` finds the layer.
on_import(_network_layer)


def member_shapes(weights: Sequence[Sequence[np.ndarray]], x: np.ndarray) -> list[tuple[int, ...]]:
    """Return the members' weight shapes; refuse members or rows that do not fit together."""
    if np.ndim(x) != 2:
        raise ValueError(f"x must be 2-D (rows, features), got shape {np.shape(x)}")
    if not weights:
        return []
    shapes = [tuple(np.shape(w)) for w in weights[0]]
    pairs = list(zip(shapes[0::2], shapes[1::2], strict=False))
    if (
        len(shapes) < 2
        or len(shapes) % 2
        or shapes[-1] != (1,)
        or any(len(k) != 2 or b != k[1:] for k, b in pairs)
    ):
        raise ValueError("a member's weights must be [W1, b1, ..., Wk, bk] ending in 1 unit")
    for k, member in enumerate(weights):
        if [tuple(np.shape(w)) for w in member] != shapes:
            raise ValueError(f"member {k}'s weight shapes differ from member 0's")
    if shapes[0][0] != np.shape(x)[1]:
        raise ValueError(f"the network takes {shapes[0][0]} features, x has {np.shape(x)[1]}")
    return shapes

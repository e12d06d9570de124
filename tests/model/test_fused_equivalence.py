"""`train_fused` must leave the model `model.fit` would, only faster."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from imbalance import store
from imbalance.model import batched
from imbalance.model.fused import train_fused
from imbalance.model.network import build_model, train_with_fit
from imbalance.model.tf import load_keras

if TYPE_CHECKING:
    import keras

pytestmark = pytest.mark.slow

EPOCHS = 3
N_ROWS = 3000
SHUFFLED_WEIGHTS = {0: 1.0, 1: 50.0}


def fresh_model() -> keras.Model:
    """Return the tutorial's network with the initial weights every test starts from."""
    return build_model(2, 0.001, seed=7)


def max_abs_weight_diff(a: keras.Model, b: keras.Model) -> float:
    """Return the largest absolute difference between the two models' weights."""
    pairs = zip(a.get_weights(), b.get_weights(), strict=True)
    return max(float(np.abs(u - v).max()) for u, v in pairs)


# 3000 rows: batch 100 gives 30 full batches, batch 128 gives 23 and a 56-row last
# one. Each case compiles an XLA loop (~2 s), so not every pairing is run.
@pytest.mark.parametrize(
    ("class_weight", "batch_size"),
    [
        pytest.param(None, 100, id="unweighted-full-batches"),
        pytest.param({0: 1.0, 1: 200.0}, 128, id="weighted-200-partial-last-batch"),
        pytest.param({0: 0.505, 1: 48.96}, 128, id="balanced-partial-last-batch"),
    ],
)
def test_unshuffled_fused_training_matches_model_fit(data, batch_size, class_weight):
    x, y = data
    by_fit, by_fused = fresh_model(), fresh_model()
    fit_losses = train_with_fit(
        by_fit, x, y, epochs=EPOCHS, batch_size=batch_size, class_weight=class_weight, shuffle=False
    ).losses
    fused_losses = train_fused(
        by_fused,
        x,
        y,
        epochs=EPOCHS,
        batch_size=batch_size,
        class_weight=class_weight,
        shuffle=False,
    ).losses

    assert max_abs_weight_diff(by_fit, by_fused) < 1e-5
    np.testing.assert_allclose(fused_losses, fit_losses, rtol=1e-5)
    assert int(by_fused.optimizer.iterations) == int(by_fit.optimizer.iterations)


@pytest.fixture(scope="module")
def shuffled_model(data) -> keras.Model:
    """Return a model trained by `train_fused` with shuffling and seed 1."""
    x, y = data
    model = fresh_model()
    train_fused(model, x, y, epochs=EPOCHS, batch_size=128, class_weight=SHUFFLED_WEIGHTS, seed=1)
    return model


def test_same_seed_gives_bit_identical_weights(data, shuffled_model):
    x, y = data
    again = fresh_model()
    train_fused(again, x, y, epochs=EPOCHS, batch_size=128, class_weight=SHUFFLED_WEIGHTS, seed=1)

    for got, want in zip(again.get_weights(), shuffled_model.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)


def test_same_seed_gives_same_weights_however_epochs_are_split_into_calls(
    data, shuffled_model, monkeypatch
):
    x, y = data
    # Room for one epoch's order per compiled call instead of all of them in one.
    monkeypatch.setattr(batched, "ORDER_BUDGET_BYTES", 4 * N_ROWS)
    split = fresh_model()
    train_fused(split, x, y, epochs=EPOCHS, batch_size=128, class_weight=SHUFFLED_WEIGHTS, seed=1)

    for got, want in zip(split.get_weights(), shuffled_model.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)


def test_different_seed_gives_different_weights(data, shuffled_model):
    x, y = data
    other = fresh_model()
    train_fused(other, x, y, epochs=EPOCHS, batch_size=128, class_weight=SHUFFLED_WEIGHTS, seed=2)

    assert max_abs_weight_diff(other, shuffled_model) > 0.0


def test_fused_model_reloads_safely_with_identical_predictions(
    data, shuffled_model, tmp_path: Path
):
    keras = load_keras()
    x, _ = data
    path = tmp_path / "fused.keras"
    # As runs save models: with the run's metadata (the threshold) inside the archive.
    store.save_model(path, shuffled_model, {"variant": "manual", "threshold": 0.7})
    reloaded = keras.saving.load_model(path, safe_mode=True)
    assert store.model_metadata(path) == {"variant": "manual", "threshold": 0.7}

    np.testing.assert_array_equal(
        reloaded.predict(x, verbose=0), shuffled_model.predict(x, verbose=0)
    )
    steps = EPOCHS * -(-N_ROWS // 128)
    assert int(reloaded.optimizer.iterations) == steps


def test_a_model_not_of_the_one_definition_is_refused(data):
    # The loop computes definition.py's network and Adam: another model or optimizer
    # would be trained as if it were that one, so it is refused rather than mistrained.
    keras = load_keras()
    x, y = data

    def fused_once(model):
        train_fused(model, x, y, epochs=1, batch_size=100, class_weight=None)

    class OtherAdam(keras.optimizers.Adam):  # the same settings, another class
        pass

    other = build_model(2, 0.001, seed=7, compiled=False)
    other.compile(optimizer=OtherAdam(learning_rate=0.001), loss="binary_crossentropy")
    settings = [{**m.optimizer.get_config(), "name": None} for m in (other, fresh_model())]
    assert settings[0] == settings[1]  # only the class differs
    amsgrad = build_model(2, 0.001, seed=7, compiled=False)
    amsgrad.compile(optimizer=keras.optimizers.Adam(amsgrad=True), loss="binary_crossentropy")
    dense = keras.Sequential(
        [keras.Input(shape=(2,)), keras.layers.Dense(2), keras.layers.Dense(1, "sigmoid")]
    )
    dense.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy")
    for refused in (other, amsgrad, dense):
        with pytest.raises(ValueError, match="train_fused"):
            fused_once(refused)
    # Its own learning rate is used: a tenfold one moves the weights further.
    slow, fast = fresh_model(), build_model(2, 0.01, seed=7)
    fused_once(slow)
    fused_once(fast)
    start = fresh_model().get_weights()
    moved = [max(float(np.abs(u - v).max()) for u, v in zip(m.get_weights(), start, strict=True))
             for m in (slow, fast)]  # fmt: skip
    assert moved[1] > 3 * moved[0]

"""The members' scorer is the network's own arithmetic: float32, no overflow, Keras's scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imbalance import store
from imbalance.model.network import build_model
from imbalance.model.predict import score_members
from imbalance.model.tf import load_keras

pytestmark = pytest.mark.slow


def _perturbed(rng, hidden: int, n_features: int, seed: int) -> list[np.ndarray]:
    """Return a network's weights with non-zero biases too (a fresh model's are 0)."""
    weights = build_model(hidden, 1e-3, seed=seed, n_features=n_features).get_weights()
    return [w + rng.normal(size=w.shape).astype(np.float32) for w in weights]


def test_scores_are_float32_in_range_and_never_overflow():
    # Logits of +-1e4 (a kernel of 1e4 after relu's identity on x >= 0): exactly 1 and
    # 0, and 0.5 at 0, where a naive exp(-z) would overflow float32.
    huge = [
        np.ones((1, 1), np.float32),
        np.zeros(1, np.float32),
        np.full((1, 1), 1e4, np.float32),
        np.zeros(1, np.float32),
    ]
    flipped = [huge[0], huge[1], -huge[2], huge[3]]
    x = np.array([[1.0], [0.0], [3.0]])  # float64 in: scored in float32
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = score_members([huge, flipped], x)
    assert got.dtype == np.float32 and got.shape == (2, 3)
    assert got.tolist() == [[1.0, 0.5, 1.0], [0.0, 0.5, 0.0]]


def test_scores_equal_the_saved_models_and_plain_keras_dense_layers(tmp_path: Path):
    keras = load_keras()
    rng = np.random.default_rng(10)
    members = [_perturbed(rng, 2, 5, seed) for seed in (3, 4, 5)]
    x = (3 * rng.normal(size=(2000, 5))).astype(np.float32)
    got = score_members(members, x)
    for k, weights in enumerate(members):
        # The saved model (the one definition's Network layer), reloaded as runs are.
        model = build_model(2, 1e-3, seed=0, n_features=5)
        model.set_weights(weights)
        model.optimizer.build(model.trainable_variables)  # saved with its slots, as runs save
        path = store.save_model(tmp_path / f"m{k}.keras", model)
        saved = store.load_model(path).predict(x, verbose=0)[:, 0]
        np.testing.assert_allclose(got[k], saved, rtol=0, atol=1e-6)
        # Keras's own Dense layers, an implementation the definition shares nothing with.
        dense = keras.Sequential(
            [
                keras.Input(shape=(5,)),
                keras.layers.Dense(2, activation="relu"),
                keras.layers.Dense(2, activation="relu"),
                keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
        dense.set_weights(weights)
        np.testing.assert_allclose(got[k], dense.predict(x, verbose=0)[:, 0], rtol=0, atol=1e-6)
    # A member scores the same alone as among others, and in blocks as in one.
    np.testing.assert_array_equal(score_members([members[1]], x)[0], got[1])


def test_wide_members_and_blocks_of_rows(monkeypatch):
    from imbalance.model import predict

    rng = np.random.default_rng(11)
    members = [_perturbed(rng, 40, 3, seed) for seed in (1, 2)]  # einsum layers
    x = rng.normal(size=(1001, 3)).astype(np.float32)
    whole = score_members(members, x)
    monkeypatch.setattr(predict, "SCORE_BUDGET_BYTES", 200_000)  # blocks of a few hundred
    np.testing.assert_allclose(score_members(members, x), whole, rtol=0, atol=1e-7)
    assert score_members(members, x[:0]).shape == (2, 0)


def test_members_that_do_not_fit_are_refused():
    rng = np.random.default_rng(12)
    weights = _perturbed(rng, 2, 4, seed=1)
    x = rng.normal(size=(5, 4))
    with pytest.raises(ValueError, match="ending in 1 unit"):
        score_members([weights[:-1]], x)
    with pytest.raises(ValueError, match="takes 4 features"):
        score_members([weights], x[:, :3])
    with pytest.raises(ValueError, match="differ"):
        score_members([weights, _perturbed(rng, 3, 4, seed=1)], x)

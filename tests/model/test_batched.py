"""`train_batched` must leave each member where `train_fused` leaves that model alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imbalance.model.batched import BatchResult, member_model, train_batched
from imbalance.model.definition import SMALL_LAYER
from imbalance.model.fused import train_fused
from imbalance.model.loop import Programs
from imbalance.model.network import adam_state, build_model, train_with_fit
from imbalance.model.tf import load_keras

pytestmark = pytest.mark.slow

EPOCHS = 3
N_ROWS = 3000
LEARNING_RATE = 0.001
SEED = 1
# Three members as the tutorial's three variants, each from different initial weights.
CLASS_WEIGHTS = [None, {0: 0.505, 1: 48.96}, {0: 1.0, 1: 200.0}]
INIT_SEEDS = [7, 8, 9]


@pytest.fixture(scope="module")
def initial() -> list[list[np.ndarray]]:
    return [build_model(2, LEARNING_RATE, seed=s).get_weights() for s in INIT_SEEDS]


def max_abs_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """Return the largest absolute difference between two weight lists."""
    return max(float(np.abs(u - v).max()) for u, v in zip(a, b, strict=True))


def batched(data, initial, batch_size: int, **kwargs) -> BatchResult:
    x, y = data
    members = kwargs.pop("members", range(len(initial)))
    return train_batched(
        [initial[k] for k in members],
        x,
        y,
        [CLASS_WEIGHTS[k] for k in members],
        epochs=EPOCHS,
        batch_size=batch_size,
        learning_rate=LEARNING_RATE,
        seed=SEED,
        **kwargs,
    )


@pytest.fixture(scope="module")
def batched_128(data, initial) -> BatchResult:
    """K = 3, batch 128: 23 full batches and a 56-row last one per epoch."""
    return batched(data, initial, 128)


# Batch 100 gives 30 full batches of the 3,000 rows, batch 128 a partial last one.
@pytest.mark.parametrize("batch_size", [100, 128], ids=["full-batches", "partial-last-batch"])
def test_each_member_matches_train_fused(data, initial, batched_128, batch_size):
    x, y = data
    result = batched_128 if batch_size == 128 else batched(data, initial, batch_size)

    programs = Programs()  # one compile for the three models, as a run's trainer does
    for k in range(len(initial)):
        model = build_model(2, LEARNING_RATE, seed=INIT_SEEDS[k])
        losses = train_fused(
            model,
            x,
            y,
            epochs=EPOCHS,
            batch_size=batch_size,
            class_weight=CLASS_WEIGHTS[k],
            seed=SEED,
            programs=programs,
        ).losses
        assert max_abs_diff(result.weights[k], model.get_weights()) < 1e-5, k
        np.testing.assert_allclose(result.losses[k], losses, rtol=1e-5)
        momentums, velocities, iterations = adam_state(model)
        for got, want in zip(result.momentums[k], momentums, strict=True):
            np.testing.assert_allclose(got, want, atol=1e-6)
        for got, want in zip(result.velocities[k], velocities, strict=True):
            np.testing.assert_allclose(got, want, atol=1e-6)
        assert result.iterations == iterations == int(model.optimizer.iterations)
    # The class weights matter: members trained alike would make the test vacuous.
    assert max_abs_diff(result.weights[0], result.weights[2]) > 1e-3


def test_each_member_matches_model_fit(data, initial):
    # train_fused is this loop with one member, so the test above compares the loop
    # with itself; Keras's own fit (its training step, loss reduction and Adam, no
    # XLA) is the independent reference. Unshuffled: fit's batches are then known.
    x, y = data
    result = batched(data, initial, 128, shuffle=False)
    for k in range(len(initial)):
        model = build_model(2, LEARNING_RATE, seed=INIT_SEEDS[k])
        losses = train_with_fit(
            model, x, y, epochs=EPOCHS, batch_size=128, class_weight=CLASS_WEIGHTS[k], shuffle=False
        ).losses
        assert max_abs_diff(result.weights[k], model.get_weights()) < 1e-5, k
        np.testing.assert_allclose(result.losses[k], losses, rtol=1e-5)
        momentums, velocities, iterations = adam_state(model)
        assert max_abs_diff(result.momentums[k], momentums) < 1e-6
        assert max_abs_diff(result.velocities[k], velocities) < 1e-6
        assert result.iterations == iterations
    assert max_abs_diff(result.weights[0], result.weights[2]) > 1e-3


def test_a_member_is_the_same_whatever_k_and_chunking(data, initial, batched_128):
    # Alone (K = 1, padded to 2): bit for bit what it is among the three.
    seen: list[int] = []
    alone = batched(data, initial, 128, members=[2], on_epochs_done=seen.append)
    for got, want in zip(alone.weights[0], batched_128.weights[2], strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(alone.losses[0], batched_128.losses[2])
    # Progress comes between compiled calls: one epoch each (3 epochs, 10 updates at most).
    assert seen == [0, 1, 2, 3]

    # Among 301 members in chunks of at most 160 (two calls of 151, the last padded).
    # With ~150 members or more XLA compiles the bias gradients' sums differently:
    # measured, some members' biases move by up to ~1e-8 (an ulp or two); kernels do not.
    many = [k % 3 for k in range(301)]
    chunked = batched(data, initial, 128, members=many, max_members=160)
    for member, k in enumerate(many):
        assert max_abs_diff(chunked.weights[member], batched_128.weights[k]) < 1e-7
        np.testing.assert_allclose(chunked.losses[member], batched_128.losses[k], rtol=1e-6)
        for got, want in zip(
            chunked.weights[member][::2], batched_128.weights[k][::2], strict=True
        ):
            np.testing.assert_array_equal(got, want)


def test_wide_layers_go_through_einsum_and_still_match_train_fused(data):
    # Hidden 40: the first layer (2 x 40 kernel entries) and the second (40 x 40) are
    # einsums past SMALL_LAYER, the shared rows' and the members' own; the last (40 x 1)
    # stays elementwise. Batch 128 leaves a short last batch.
    x, y = data[0][:1000], data[1][:1000]
    hidden, seeds = 40, [3, 4]
    assert 2 * hidden > SMALL_LAYER >= hidden
    weights = [None, {0: 1.0, 1: 50.0}]
    result = train_batched(
        [build_model(hidden, LEARNING_RATE, seed=s).get_weights() for s in seeds],
        x,
        y,
        weights,
        epochs=2,
        batch_size=128,
        learning_rate=LEARNING_RATE,
        seed=SEED,
    )
    programs = Programs()  # one compile for both
    for k, s in enumerate(seeds):
        model = build_model(hidden, LEARNING_RATE, seed=s)
        losses = train_fused(
            model,
            x,
            y,
            epochs=2,
            batch_size=128,
            class_weight=weights[k],
            seed=SEED,
            programs=programs,
        ).losses
        assert max_abs_diff(result.weights[k], model.get_weights()) < 1e-5, k
        np.testing.assert_allclose(result.losses[k], losses, rtol=1e-5)


def test_member_model_saves_and_reloads_with_identical_predictions(
    data, batched_128, tmp_path: Path
):
    keras = load_keras()
    x, _ = data
    model = member_model(batched_128, 1, learning_rate=LEARNING_RATE)
    for got, want in zip(model.get_weights(), batched_128.weights[1], strict=True):
        np.testing.assert_array_equal(got, want)
    path = tmp_path / "member.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)

    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert int(reloaded.optimizer.iterations) == EPOCHS * -(-N_ROWS // 128)


def test_mismatched_members_are_refused(data, initial):
    x, y = data
    with pytest.raises(ValueError, match="class weights"):
        train_batched(initial, x, y, [None], epochs=1, batch_size=100, learning_rate=0.001)
    wider = build_model(3, LEARNING_RATE, seed=0).get_weights()
    with pytest.raises(ValueError, match="shapes differ"):
        train_batched(
            [initial[0], wider], x, y, [None, None], epochs=1, batch_size=100, learning_rate=0.001
        )

"""Early stopping: one rule (Keras's, best weights restored) in every trainer, member by member."""

from __future__ import annotations

import numpy as np
import pytest

from imbalance.config import RetrainConfig
from imbalance.model.batched import train_batched
from imbalance.model.fused import train_fused
from imbalance.model.loop import Programs
from imbalance.model.network import adam_state, build_model, train_with_fit
from imbalance.model.stopping import EarlyStopping, best_epoch
from imbalance.model.training import Member, train_members

pytestmark = pytest.mark.slow

# A tiny training set, a high learning rate and noisy labels: the validation loss turns
# within a few epochs, at different epochs for different members.
HIDDEN, LEARNING_RATE, BATCH, MAX_EPOCHS, PATIENCE = 8, 0.05, 16, 60, 3
CLASS_WEIGHTS = [None, {0: 1.0, 1: 3.0}, {0: 1.0, 1: 8.0}]
SEEDS = [1, 2, 3]


def _rows(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(n, 2)).astype(np.float32)
    return x, (x[:, 0] + rng.normal(size=n) > 0.5).astype(np.float32)


@pytest.fixture(scope="module")
def rows():
    """Return (x, y) to train on (200 rows: 12 batches and a short one) and the stopping."""
    rng = np.random.default_rng(0)
    x, y = _rows(200, rng)
    return x, y, EarlyStopping(*_rows(300, rng), patience=PATIENCE)


def _initial(seeds=SEEDS) -> list[list[np.ndarray]]:
    return [build_model(HIDDEN, LEARNING_RATE, seed=s).get_weights() for s in seeds]


# One compile of each loop shape for the module (a compile costs ~1.5 s, a training less).
PROGRAMS = Programs()


def _batched(x, y, members, epochs, **kwargs):
    kwargs.setdefault("programs", PROGRAMS)
    return train_batched(
        _initial([SEEDS[k] for k in members]),
        x,
        y,
        [CLASS_WEIGHTS[k] for k in members],
        epochs=epochs,
        batch_size=BATCH,
        learning_rate=LEARNING_RATE,
        seed=1,
        **kwargs,
    )


def _max_diff(a, b) -> float:
    return max(float(np.abs(u - v).max()) for u, v in zip(a, b, strict=True))


def _assert_same(a, b) -> None:
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


def test_the_rule_is_keras_early_stopping_with_best_weights_restored():
    # Keras's own callback, on a stand-in model whose "weights" are the epoch number.
    from imbalance.model.tf import load_keras

    keras = load_keras()
    rng = np.random.default_rng(3)
    for trial in range(200):
        patience, min_delta = int(rng.integers(1, 4)), float(rng.choice([0.0, 0.01, 0.05]))
        losses = list(np.round(1 - np.cumsum(rng.normal(0.01, 0.03, size=15)), 3))
        callback = keras.callbacks.EarlyStopping(
            monitor="val_loss", mode="min", patience=patience, min_delta=min_delta,
            restore_best_weights=True,
        )  # fmt: skip

        class Model:
            stop_training, weights, metrics = False, None, []

            def get_weights(self):
                return self.epoch

            def set_weights(self, weights):
                self.weights = weights

        model = Model()
        callback.set_model(model)
        callback.on_train_begin()
        for epoch, loss in enumerate(losses):
            model.epoch = epoch + 1
            callback.on_epoch_end(epoch, {"val_loss": loss})
            if model.stop_training:
                break
        callback.on_train_end()
        assert best_epoch(losses, patience, min_delta) == (model.epoch, model.weights), trial


@pytest.fixture(scope="module")
def unshuffled(rows):
    """Return two members early-stopped together, unshuffled (fit's batches are then known)."""
    x, y, stopping = rows
    batched = _batched(x, y, [0, 1], MAX_EPOCHS, shuffle=False, early_stopping=stopping)
    for k in range(2):
        run, best = batched.epochs_run[k], batched.best_epoch[k]
        assert best < run < MAX_EPOCHS  # it stopped early, and not at its best epoch
        assert (run, best) == best_epoch(batched.val_losses[k][:run], PATIENCE)
        assert np.isnan(batched.losses[k][run:]).all()
    assert batched.best_epoch[0] != batched.best_epoch[1]
    return batched


# fit for the weighted member only: a fit costs seconds of tracing.
@pytest.mark.parametrize(
    ("trainer", "member"),
    [(train_fused, 0), (train_fused, 1), (train_with_fit, 1)],
    ids=["fused-unweighted", "fused-weighted", "fit-weighted"],
)
def test_each_trainer_stops_at_the_same_epoch_with_the_same_weights(
    rows, unshuffled, trainer, member
):
    x, y, stopping = rows
    k, batched = member, unshuffled
    run, best = batched.epochs_run[k], batched.best_epoch[k]
    options = {"programs": PROGRAMS} if trainer is train_fused else {}
    model = build_model(HIDDEN, LEARNING_RATE, seed=SEEDS[k])
    history = trainer(
        model,
        x,
        y,
        epochs=MAX_EPOCHS,
        batch_size=BATCH,
        class_weight=CLASS_WEIGHTS[k],
        shuffle=False,
        early_stopping=stopping,
        **options,
    )
    assert (history.epochs_run, history.best_epoch) == (run, best)
    assert _max_diff(model.get_weights(), batched.weights[k]) < 1e-5
    np.testing.assert_allclose(history.val_losses, batched.val_losses[k][:run], rtol=1e-5)
    np.testing.assert_allclose(history.losses, batched.losses[k][:run], rtol=1e-5)
    # Adam's state is the last epoch's (Keras restores the weights only).
    momentums, _, iterations = adam_state(model)
    assert iterations == batched.member_iterations[k] == run * -(-len(x) // BATCH)
    assert _max_diff(momentums, batched.momentums[k]) < 1e-6
    # The weights kept are those of the best epoch: the trainer's for exactly that long.
    again = build_model(HIDDEN, LEARNING_RATE, seed=SEEDS[k])
    trainer(
        again,
        x,
        y,
        epochs=best,
        batch_size=BATCH,
        class_weight=CLASS_WEIGHTS[k],
        shuffle=False,
        **options,
    )
    _assert_same(again.get_weights(), model.get_weights())


def test_a_stopped_member_keeps_its_best_epoch_whatever_trains_beside_it(rows):
    x, y, stopping = rows
    together = _batched(x, y, [0, 1, 2], MAX_EPOCHS, early_stopping=stopping)
    assert len(set(together.epochs_run)) > 1  # they stop at different epochs
    for k in range(3):
        alone = _batched(x, y, [k], MAX_EPOCHS, early_stopping=stopping)
        assert (alone.epochs_run[0], alone.best_epoch[0]) == (
            together.epochs_run[k],
            together.best_epoch[k],
        )
        _assert_same(alone.weights[0], together.weights[k])
        _assert_same(alone.momentums[0], together.momentums[k])
        np.testing.assert_array_equal(alone.val_losses[0], together.val_losses[k])
        # Shuffled too: the best epoch's weights are those of training exactly that long.
        exactly = _batched(x, y, [k], together.best_epoch[k])
        _assert_same(exactly.weights[0], together.weights[k])


def test_per_member_epoch_counts_train_each_member_as_long_as_alone(rows):
    x, y, _ = rows
    counts = [3, 7, 5]
    together = _batched(x, y, [0, 1, 2], counts)
    assert together.epochs_run == together.best_epoch == counts
    steps = -(-len(x) // BATCH)
    for k, count in enumerate(counts):
        alone = _batched(x, y, [k], count)
        _assert_same(alone.weights[0], together.weights[k])
        _assert_same(alone.momentums[0], together.momentums[k])
        _assert_same(alone.velocities[0], together.velocities[k])
        np.testing.assert_array_equal(alone.losses[0], together.losses[k][:count])
        assert together.member_iterations[k] == alone.iterations == count * steps
        assert np.isnan(together.losses[k][count:]).all()


CFG = RetrainConfig(
    network={"hidden_units": HIDDEN, "learning_rate": LEARNING_RATE},
    training={"epochs": MAX_EPOCHS, "batch_size": BATCH, "seed": 1, "patience": PATIENCE},
)
MEMBERS = [Member(f"m{k}", CLASS_WEIGHTS[k], SEEDS[k]) for k in range(2)]


def test_train_members_stops_alike_in_batched_and_fused(rows):
    x, y, stopping = rows
    validation = (stopping.x, stopping.y)
    batched = train_members(CFG, x, y, MEMBERS, validation=validation)
    fused_cfg = CFG.updated(training={"trainer": "fused"})
    fused = train_members(fused_cfg, x, y, MEMBERS, validation=validation)
    for b, f in zip(batched, fused, strict=True):
        assert b.best_epoch < b.epochs_run < MAX_EPOCHS
        assert (b.epochs_run, b.best_epoch) == (f.epochs_run, f.best_epoch)
        assert len(b.losses) == len(b.val_losses) == b.epochs_run
        assert b.iterations == f.iterations == b.epochs_run * -(-len(x) // BATCH)
        assert _max_diff(b.weights, f.weights) < 1e-5

    # A final model for its twin's epochs: per member, in one call, no validation rows.
    epochs = [b.best_epoch for b in batched]
    finals = train_members(CFG, x, y, MEMBERS, epochs=epochs)
    for final, twin in zip(finals, batched, strict=True):
        assert final.epochs_run == final.best_epoch == twin.best_epoch
        _assert_same(final.weights, twin.weights)  # the same rows: the twin's best weights


def test_patience_0_is_no_early_stopping_and_the_rows_go_unused(rows):
    x, y, stopping = rows
    off = CFG.updated(training={"patience": 0, "epochs": 4})
    with_rows = train_members(off, x, y, MEMBERS, validation=(stopping.x, stopping.y))
    without = train_members(off, x, y, MEMBERS)
    for a, b in zip(with_rows, without, strict=True):
        assert a.epochs_run == a.best_epoch == 4 and a.val_losses == []
        _assert_same(a.weights, b.weights)
        assert a.losses == b.losses


def test_bad_epoch_counts_and_stopping_are_refused(rows):
    x, y, stopping = rows
    with pytest.raises(ValueError, match="epoch counts"):
        _batched(x, y, [0, 1], [3])
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(stopping.x, stopping.y, patience=0)
    with pytest.raises(ValueError, match="features"):
        _batched(x, y, [0], 2, early_stopping=EarlyStopping(x[:, :1], y, patience=1))
    with pytest.raises(ValueError, match="one epoch count"):
        train_members(RetrainConfig(), x, y, [Member("m", None, 1)], epochs=[0])

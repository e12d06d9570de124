"""The one definition: fit's compiled loss is its loss, and Adam's state round-trips publicly."""

from __future__ import annotations

import numpy as np
import pytest

from imbalance.model import definition
from imbalance.model.network import adam_state, build_model, set_adam_state, train_with_fit
from imbalance.model.tf import load_keras

pytestmark = pytest.mark.slow


def test_fits_compiled_loss_is_row_losses_on_the_logits_even_where_probabilities_round():
    keras = load_keras()
    model = build_model(2, 1e-3, seed=3)
    # Large weights: logits of tens, whose sigmoid rounds to 0 or 1 in float32, where a
    # loss of clipped probabilities would read ~16 instead of the logit itself.
    model.set_weights([w * 0 + 20.0 * np.sign(np.arange(w.size).reshape(w.shape) % 3 - 1)
                       for w in model.get_weights()])  # fmt: skip
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2)).astype(np.float32)
    y = (rng.random(64) < 0.5).astype(np.float32)
    weights = rng.random(64).astype(np.float32)
    layer = next(sub for sub in model.layers if isinstance(sub, definition.network_layer()))
    logits = definition.logits([keras.ops.expand_dims(w, -1) for w in layer.weights], x)
    assert float(keras.ops.max(keras.ops.abs(logits))) > 30
    rows = definition.row_losses(y[:, None], logits)
    want = definition.batch_losses(rows, weights[:, None], 64.0)
    got = model.compute_loss(x=x, y=y[:, None], y_pred=model(x), sample_weight=weights)
    np.testing.assert_allclose(float(got), float(want[0]), rtol=1e-6)


def test_adams_state_written_through_its_variables_resumes_training_exactly(data):
    x, y = data
    x, y = x[:500], y[:500]
    trained = build_model(2, 1e-3, seed=5)
    train_with_fit(trained, x, y, epochs=2, batch_size=100, class_weight=None, shuffle=False)
    momentums, velocities, iterations = adam_state(trained)
    assert iterations == 10 and all(np.abs(m).max() > 0 for m in momentums)
    assert not any(np.array_equal(m, v) for m, v in zip(momentums, velocities, strict=True))

    copy = build_model(2, 1e-3, seed=6)
    copy.set_weights(trained.get_weights())
    set_adam_state(copy, momentums, velocities, iterations)
    for model in (trained, copy):
        train_with_fit(model, x, y, epochs=1, batch_size=100, class_weight=None, shuffle=False)
    # Swapped slots, or a step count left at 0, would move the copy elsewhere.
    for got, want in zip(copy.get_weights(), trained.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)

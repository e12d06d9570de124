"""The calibration map: fitted on held-out scores, it beats the constant predictor."""

import json

import numpy as np
import pytest

from imbalance.selection.calibration import (
    METHODS,
    Calibration,
    CalibrationError,
    brier,
    calibration_metrics,
    fit_calibration,
    log_loss,
)


def weight_500_like(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return 3%-positive labels and informative scores squashed into [0.5, 1]: a weight-500
    model's, which says "likely positive" of almost every row."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.03).astype(int)
    signal = rng.normal(size=n) + 2.0 * y
    scores = 0.5 + 0.5 / (1.0 + np.exp(-(signal + 2.0)))
    return scores.astype(np.float32), y


@pytest.mark.parametrize("method", METHODS)
def test_calibration_lowers_the_brier_score_of_weight_500_scores(method):
    held_scores, held_y = weight_500_like(4_000, seed=1)
    test_scores, test_y = weight_500_like(20_000, seed=2)
    calibration = fit_calibration(held_scores, held_y, method)
    measured = calibration_metrics(test_y, test_scores, calibration, prevalence=held_y.mean())
    assert measured["brier_uncalibrated"] > 0.3  # the raw scores are no probabilities
    assert measured["brier"] < measured["brier_prevalence"] < measured["brier_uncalibrated"]
    assert measured["log_loss"] == pytest.approx(log_loss(test_y, calibration.apply(test_scores)))
    p = calibration.apply(test_scores)
    assert ((p >= 0) & (p <= 1)).all()
    assert np.all(np.diff(calibration.apply(np.linspace(0, 1, 101))) >= -1e-12)  # monotone


@pytest.mark.parametrize("method", METHODS)
def test_the_map_round_trips_json(method):
    scores, y = weight_500_like(2_000, seed=3)
    calibration = fit_calibration(scores, y, method)
    again = Calibration.from_json(json.loads(json.dumps(calibration.to_json())))
    assert again == calibration
    np.testing.assert_array_equal(again.apply(scores), calibration.apply(scores))


def test_scores_at_0_and_1_stay_finite():
    scores = np.array([0.0, 0.0, 1.0, 1.0, 0.5, 1.0], dtype=np.float32)
    y = np.array([0, 0, 1, 0, 0, 1])
    for method in METHODS:
        p = fit_calibration(scores, y, method).apply(np.array([0.0, 1.0, 0.3]))
        assert np.isfinite(p).all()


def test_one_class_only_gives_the_constant():
    calibration = fit_calibration(np.array([0.2, 0.9, 0.7]), np.array([0, 0, 0]))
    assert calibration.apply(np.array([0.1, 0.99])) == pytest.approx([0.0, 0.0], abs=1e-5)


def test_a_damaged_map_is_refused_in_one_line():
    with pytest.raises(CalibrationError, match="unreadable calibration map"):
        Calibration.from_json({"method": "isotonic", "parameters": {"x": [0.1], "y": []}})
    with pytest.raises(CalibrationError):
        Calibration.from_json({"method": "beta", "parameters": {}, "rows": 1, "positives": 0})


def test_brier_of_the_constant():
    assert brier(np.array([0, 1, 0, 0]), np.full(4, 0.25)) == pytest.approx(0.1875)

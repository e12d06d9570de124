"""Calibrated probabilities: a map from a model's score to P(label 1), fitted on held-out rows.

A class-weighted network's score is not a probability: at weight 500 most scores sit
near 1 although the positive rate is a few percent. Each configuration's map is fitted,
as its threshold is (`imbalance.selection.choices.choose`), on its `training.seed` blind
twin's scores of the validation rows, which the twin never trained on, and their labels;
the final model (the twin's configuration, trained on the whole training part) takes it,
as scikit-learn's refit does. The test part fits nothing.

Two maps, both plain numbers so they serialise to JSON and live in the model file:

- ``platt``: P = sigmoid(a * logit(s) + b), a logistic regression on the clipped logit
  of the score (two numbers; smooth, monotone);
- ``isotonic``: a non-decreasing step function (scikit-learn's IsotonicRegression, with
  scores beyond the fitted range clipped to it), kept as its x/y thresholds and applied
  by linear interpolation, as scikit-learn applies it.

The default is ``platt`` (`DEFAULT_METHOD`): measured on the tutorial's data and on a
10,000-row table at 3% positives (`benchmarks/measure_calibration.py`, README), both
maps beat the constant predictor's Brier score on the test part, and Platt is better
in 5 of 7 variants and within 0.0001 in a sixth (isotonic wins clearly only for the
unweighted model of the small table); two parameters cannot over-fit a validation
part's few positives. Numpy and scikit-learn; no Prefect; TensorFlow only inside
`twin_validation_scores` (the network's own scoring).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

METHODS = ("platt", "isotonic")
DEFAULT_METHOD = "platt"
EPSILON = 1e-6  # scores are clipped into [EPSILON, 1 - EPSILON] before their logit


class CalibrationError(ValueError):
    """A calibration map that cannot be read; one line says why."""


def _logit(scores: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(scores, dtype=np.float64), EPSILON, 1 - EPSILON)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class Calibration:
    """One configuration's map from score to probability, and the rows it was fitted on."""

    method: str
    parameters: dict[str, Any]  # platt: a, b; isotonic: x, y (lists of floats)
    rows: int
    positives: int

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Return the calibrated probability of each score (float64, within [0, 1])."""
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        if self.method == "platt":
            z = self.parameters["a"] * _logit(s) + self.parameters["b"]
            return 1.0 / (1.0 + np.exp(-z))
        x, y = np.asarray(self.parameters["x"]), np.asarray(self.parameters["y"])
        return np.clip(np.interp(s, x, y), 0.0, 1.0)  # np.interp clips beyond x's range

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "parameters": self.parameters,
            "rows": self.rows,
            "positives": self.positives,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        try:
            method, parameters = data["method"], data["parameters"]
            if method == "platt":
                parameters = {"a": float(parameters["a"]), "b": float(parameters["b"])}
            elif method == "isotonic":
                x = [float(v) for v in parameters["x"]]
                y = [float(v) for v in parameters["y"]]
                if not x or len(x) != len(y):
                    raise ValueError("x and y differ in length")
                parameters = {"x": x, "y": y}
            else:
                raise ValueError(f"unknown method {method!r}")
            return cls(method, parameters, int(data["rows"]), int(data["positives"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"unreadable calibration map: {exc}") from None


def fit_calibration(scores: np.ndarray, y: np.ndarray, method: str = DEFAULT_METHOD) -> Calibration:
    """Return the `method` map fitted on held-out `scores` and their 0/1 labels `y`.

    With one class only (no positive among the rows) there is nothing to fit: the map
    is the constant at the rows' positive rate (Platt: a = 0), which is honest.
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(y).astype(int).reshape(-1)
    rows, positives = int(len(labels)), int(labels.sum())
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r} (use {', '.join(METHODS)})")
    if positives in (0, rows):
        rate = positives / max(rows, 1)
        if method == "platt":
            return Calibration(
                "platt", {"a": 0.0, "b": float(_logit(np.array([rate]))[0])}, rows, positives
            )
        return Calibration("isotonic", {"x": [0.0, 1.0], "y": [rate, rate]}, rows, positives)
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        # A large C: Platt's two parameters, (almost) unpenalised.
        fitted = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(s)[:, None], labels)
        parameters = {"a": float(fitted.coef_[0, 0]), "b": float(fitted.intercept_[0])}
        return Calibration("platt", parameters, rows, positives)
    from sklearn.isotonic import IsotonicRegression

    fitted = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(s, labels)
    parameters = {
        "x": [float(v) for v in fitted.X_thresholds_],
        "y": [float(v) for v in fitted.y_thresholds_],
    }
    return Calibration("isotonic", parameters, rows, positives)


def brier(y: np.ndarray, probabilities: np.ndarray) -> float:
    """Return the Brier score: the mean squared difference of probability and 0/1 label."""
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    return float(np.mean((p - np.asarray(y, dtype=np.float64).reshape(-1)) ** 2))


def log_loss(y: np.ndarray, probabilities: np.ndarray) -> float:
    """Return the mean log loss of the probabilities (clipped away from 0 and 1)."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64).reshape(-1), EPSILON, 1 - EPSILON)
    t = np.asarray(y, dtype=np.float64).reshape(-1)
    return float(-np.mean(t * np.log(p) + (1 - t) * np.log1p(-p)))


def calibration_metrics(
    y: np.ndarray, scores: np.ndarray, calibration: Calibration | None, prevalence: float
) -> dict[str, float | None]:
    """Return the test part's Brier score and log loss of the calibrated probabilities,
    beside the raw score's Brier (`brier_uncalibrated`) and the constant predictor's at
    `prevalence`, the training part's positive rate (`brier_prevalence`)."""
    probabilities = None if calibration is None else calibration.apply(scores)
    return {
        "brier": None if probabilities is None else brier(y, probabilities),
        "log_loss": None if probabilities is None else log_loss(y, probabilities),
        "brier_uncalibrated": brier(y, scores),
        "brier_prevalence": brier(y, np.full(len(np.asarray(y)), prevalence)),
    }


def twin_validation_scores(
    cfg, trained: Sequence, x_validation: np.ndarray
) -> dict[str, np.ndarray]:
    """Return each configuration's `training.seed` blind twin's scores of the validation rows."""
    from imbalance.model.predict import score_members

    # All blind members, as `choose` scores them: the same shapes reuse its compiled call.
    blind = [t for t in trained if t.member is not None and t.member.blind]
    scores = score_members([t.weights for t in blind], x_validation)
    return {
        t.member.measures: np.asarray(s)
        for t, s in zip(blind, scores, strict=True)
        if t.member.seed == cfg.training.seed
    }


def calibrations(
    cfg,
    trained: Sequence,
    x_validation: np.ndarray,
    y_validation: np.ndarray,
    tuned: str | None = None,
    method: str = DEFAULT_METHOD,
) -> dict[str, Calibration]:
    """Return each configuration's map, fitted on its twin's validation scores and labels.

    A twin whose scores are not finite (a diverged model) gets no map. `tuned`: the
    swept configuration chosen as the `tuned` variant, whose map it takes too.
    """
    maps = {
        name: fit_calibration(scores, y_validation, method)
        for name, scores in twin_validation_scores(cfg, trained, x_validation).items()
        if np.isfinite(scores).all()
    }
    if tuned is not None and tuned in maps:
        maps["tuned"] = maps[tuned]
    return maps


def maps_to_json(maps: dict[str, Calibration]) -> dict[str, Any]:
    return {name: c.to_json() for name, c in maps.items()}


def maps_from_json(data: dict[str, Any]) -> dict[str, Calibration]:
    return {name: Calibration.from_json(c) for name, c in data.items()}

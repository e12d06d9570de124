"""Reference models a network must beat: fitted on the same rows, scored on the same rows.

Two kinds: scikit-learn's LogisticRegression with each variant's class weights (what a
practitioner tries first) and a HistGradientBoostingClassifier with balanced class
weights (the strong default for tabular data). Each is fitted as the networks are:

- a *blind* fit on the training part without the validation rows is scored on the
  validation rows, where the run's threshold policy chooses its threshold (a threshold
  is never chosen on rows the model trained on);
- the *final* fit on the whole training part (the very rows the final networks train
  on) takes that threshold and is scored on the test part.

The test part only reports: `compare_with_chosen` gives the paired bootstrap of the
chosen network against each reference there, and nothing is chosen by it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from imbalance.config import RetrainConfig
from imbalance.selection.bootstrap import paired_bootstrap
from imbalance.selection.metrics import METRICS, variant_metrics
from imbalance.selection.thresholds import choose_threshold
from imbalance.selection.variants import VARIANTS, class_weight_for

Scorer = Callable[[np.ndarray], np.ndarray]
Rows = tuple[np.ndarray, np.ndarray]  # (features, 0/1 labels)

GRADIENT_BOOSTING = "hist_gradient_boosting"
LOGISTIC = "logistic_regression"
# Resamples of the test rows in each reference comparison (as many as the champion gate's).
BOOTSTRAP_RESAMPLES = 1000

# --- reference scorers ----------------------------------------------------------------------


def logistic_reference(
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    class_weight: dict[int, float] | None,
    seed: int = 0,
) -> Scorer:
    """Return a scorer (rows -> class-1 probabilities, float32) of a fitted logistic regression.

    The model a practitioner tries first, with the same class weights as the network: if
    the network does not beat it, it has not earned its place. lbfgs on inputs already
    standardised; `seed` is passed as `random_state` (lbfgs itself draws nothing).
    """
    model = LogisticRegression(
        solver="lbfgs", max_iter=5000, class_weight=class_weight, random_state=seed
    )
    model.fit(np.asarray(x_fit), np.asarray(y_fit).ravel())

    def score(x: np.ndarray) -> np.ndarray:
        return model.predict_proba(np.asarray(x))[:, 1].astype(np.float32)

    return score


def gradient_boosting_reference(x_fit: np.ndarray, y_fit: np.ndarray, seed: int = 0) -> Scorer:
    """Return a scorer of a fitted HistGradientBoostingClassifier (balanced class weights).

    scikit-learn's defaults otherwise; early stopping on (it holds out 10% of the fit
    rows, drawn with `seed`, to stop adding trees), so it adapts to the data's size.
    """
    model = HistGradientBoostingClassifier(
        class_weight="balanced", early_stopping=True, random_state=seed
    )
    model.fit(np.asarray(x_fit), np.asarray(y_fit).ravel())

    def score(x: np.ndarray) -> np.ndarray:
        return model.predict_proba(np.asarray(x))[:, 1].astype(np.float32)

    return score


# --- the references of a run ----------------------------------------------------------------


@dataclass(frozen=True)
class References:
    """The references' test metrics (for metrics.json) and test scores (for the bootstrap)."""

    metrics: dict[str, dict[str, Any]]
    scores: dict[str, np.ndarray]


def fit_references(
    cfg: RetrainConfig,
    weights: dict[str, dict[int, float]],
    blind: Rows,
    validation: Rows,
    full: Rows,
    test: Rows,
) -> References:
    """Fit every reference (blind for its threshold, then on `full`) and score it on `test`.

    `blind`: the training part without the validation rows; `validation`: those rows;
    `full`: the whole training part (what the final networks train on). Keys: the
    variants' names (logistic regressions with their class weights) and
    `hist_gradient_boosting`.
    """
    seed = cfg.training.seed
    makers: dict[str, tuple[str, Any, Callable[[np.ndarray, np.ndarray], Scorer]]] = {}
    for name in cfg.selection.variants:
        class_weight = class_weight_for(VARIANTS[name], weights)
        makers[name] = (
            LOGISTIC,
            class_weight,
            lambda x, y, w=class_weight: logistic_reference(x, y, w, seed=seed),
        )
    makers[GRADIENT_BOOSTING] = (
        GRADIENT_BOOSTING,
        "balanced",
        lambda x, y: gradient_boosting_reference(x, y, seed=seed),
    )
    metrics, scores = {}, {}
    for name, (model, class_weight, make) in makers.items():
        measured, scores[name] = _fit_one(cfg, make, blind, validation, full, test)
        metrics[name] = {"model": model, "class_weight": class_weight} | measured
    return References(metrics, scores)


def _fit_one(
    cfg: RetrainConfig,
    make: Callable[[np.ndarray, np.ndarray], Scorer],
    blind: Rows,
    validation: Rows,
    full: Rows,
    test: Rows,
) -> tuple[dict[str, Any], np.ndarray]:
    """Return one reference's threshold, validation and test metrics, and its test scores."""
    y_val = np.asarray(validation[1]).astype(int)
    validation_scores = make(*blind)(validation[0])
    choice = choose_threshold(
        y_val,
        validation_scores,
        cfg.selection.threshold_policy,
        cfg.selection.threshold_target,
        cfg.selection.threshold,
    )
    on_validation = variant_metrics(y_val, validation_scores, choice.threshold)
    start = time.perf_counter()
    final = make(*full)
    train_seconds = time.perf_counter() - start
    test_scores = final(test[0])
    measured = variant_metrics(np.asarray(test[1]).astype(int), test_scores, choice.threshold)
    measured.pop("classification_report")
    return {
        "threshold": choice.threshold,
        "threshold_why": choice.why,
        "validation": {m: on_validation[m] for m in METRICS},
        "train_seconds": train_seconds,
        "fit_rows": len(full[1]),
    } | measured, test_scores


def compare_with_chosen(
    cfg: RetrainConfig,
    y_test: np.ndarray,
    chosen_scores: np.ndarray,
    chosen_threshold: float,
    references: References,
) -> dict[str, dict[str, Any] | None]:
    """Return, per reference, the paired bootstrap of the chosen network minus it on the test rows.

    `selection.metric`, each model at its own threshold. Reported only: a difference
    whose interval lies below 0 means the chosen network is significantly worse. None
    for a reference the bootstrap cannot compare with (one class only, scores not finite).
    """
    comparisons: dict[str, dict[str, Any] | None] = {}
    for name, scores in references.scores.items():
        try:
            comparison = paired_bootstrap(
                y_test,
                chosen_scores,
                scores,
                cfg.selection.metric,
                thresholds=(chosen_threshold, references.metrics[name]["threshold"]),
                resamples=BOOTSTRAP_RESAMPLES,
                seed=cfg.training.seed,
            )
        except ValueError:  # one class in the test part, scores not finite: no comparison
            comparisons[name] = None
        else:
            comparisons[name] = asdict(comparison)
    return comparisons

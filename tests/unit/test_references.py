"""The reference models: fitted on the final networks' rows, thresholds from a blind fit."""

import numpy as np
import pytest
from sklearn.datasets import make_classification

from imbalance.config import RetrainConfig
from imbalance.report.render import comparison_table, reference_text
from imbalance.selection import references
from imbalance.selection.metrics import METRICS, variant_metrics
from imbalance.selection.references import (
    GRADIENT_BOOSTING,
    References,
    compare_with_chosen,
    fit_references,
    logistic_reference,
)
from imbalance.selection.thresholds import choose_threshold

WEIGHTS = {"balanced": {0: 0.55, 1: 5.0}, "manual": {0: 1.0, 1: 20.0}}


@pytest.fixture(scope="module")
def parts():
    x, y = make_classification(
        n_samples=800, n_features=4, weights=[0.85], class_sep=1.0, random_state=3
    )
    x = x.astype(np.float32)
    blind, validation = (x[:400], y[:400]), (x[400:600], y[400:600])
    full, test = (x[:600], y[:600]), (x[600:], y[600:])
    return blind, validation, full, test


@pytest.fixture(scope="module")
def cfg():
    return RetrainConfig(selection={"variants": ["balanced"]})


def test_the_logistic_reference_is_fit_on_all_rows_its_threshold_from_the_blind_fit(
    monkeypatch, parts, cfg
):
    blind, validation, full, test = parts
    fitted = []

    def spy(x, y, class_weight, seed=0):
        fitted.append(len(y))
        return logistic_reference(x, y, class_weight, seed)

    monkeypatch.setattr(references, "logistic_reference", spy)
    refs = fit_references(cfg, WEIGHTS, blind, validation, full, test)
    assert fitted == [400, 600]  # blind (threshold), then the whole training part
    m = refs.metrics["balanced"]
    expected = choose_threshold(
        validation[1],
        logistic_reference(*blind, WEIGHTS["balanced"], seed=cfg.training.seed)(validation[0]),
        cfg.selection.threshold_policy,
        cfg.selection.threshold_target,
        cfg.selection.threshold,
    ).threshold
    assert m["threshold"] == expected
    final = logistic_reference(*full, WEIGHTS["balanced"], seed=cfg.training.seed)(test[0])
    np.testing.assert_array_equal(refs.scores["balanced"], final)
    on_test = variant_metrics(test[1], final, expected)
    assert m["f1"] == on_test["f1"] and m["pr_auc"] == on_test["pr_auc"]
    assert m["fit_rows"] == 600 and m["model"] == "logistic_regression"
    assert m["class_weight"] == WEIGHTS["balanced"]


def test_hist_gradient_boosting_is_a_reference_with_its_metrics(parts, cfg):
    refs = fit_references(cfg, WEIGHTS, *parts)
    assert set(refs.metrics) == {"balanced", GRADIENT_BOOSTING}
    m = refs.metrics[GRADIENT_BOOSTING]
    assert m["class_weight"] == "balanced" and m["fit_rows"] == 600
    assert all(isinstance(m[k], float) for k in METRICS)
    assert all(isinstance(m["validation"][k], float) for k in METRICS)
    assert m["pr_auc"] > 0.5  # separable enough: far above the positive share
    assert refs.scores[GRADIENT_BOOSTING].shape == (200,)
    table = comparison_table({"variants": {}, "reference": refs.metrics})
    assert "| reference: hist_gradient_boosting | balanced |" in table
    assert "| reference: logistic (balanced) | 0: 0.55, 1: 5 |" in table


def _report(network: np.ndarray, reference: np.ndarray, y: np.ndarray) -> str:
    cfg = RetrainConfig()
    refs = References(
        metrics={GRADIENT_BOOSTING: {"model": GRADIENT_BOOSTING, "threshold": 0.5}},
        scores={GRADIENT_BOOSTING: reference},
    )
    comparisons = compare_with_chosen(cfg, y, network, 0.5, refs)
    reference_metrics = {GRADIENT_BOOSTING: {"model": GRADIENT_BOOSTING}}
    reference_metrics[GRADIENT_BOOSTING]["against_chosen"] = comparisons[GRADIENT_BOOSTING]
    return " ".join(reference_text({"chosen": "balanced", "reference": reference_metrics}))


def test_the_report_says_when_the_network_is_significantly_worse_and_not_otherwise():
    rng = np.random.default_rng(0)
    y = (rng.random(600) < 0.15).astype(int)
    good = np.clip(y * 0.6 + rng.random(600) * 0.5, 0, 1).astype(np.float32)
    poor = rng.random(600).astype(np.float32)
    sentence = "The chosen network (balanced) is significantly worse than hist_gradient_boosting"
    worse = _report(poor, good, y)
    assert sentence in worse and "reported only, not used to choose" in worse
    assert "pr_auc" in worse and "95% interval" in worse
    assert "significantly worse" not in _report(good, poor, y)
    assert "significantly worse" not in _report(good, good, y)  # equal: interval holds 0

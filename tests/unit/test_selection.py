"""Model selection on validation rows: threshold policies, the paired bootstrap, seeds, sweeps."""

import math

import numpy as np
import pytest
from scipy.special import expit
from scipy.stats import norm
from sklearn.metrics import average_precision_score, roc_auc_score

from imbalance.selection.bootstrap import (
    Comparison,
    _prepare,
    _resample_counts,
    _weighted_metric,
    paired_bootstrap,
    spread,
)
from imbalance.selection.metrics import METRICS, variant_metrics
from imbalance.selection.references import logistic_reference
from imbalance.selection.thresholds import choose_threshold
from imbalance.selection.weights import minority_weights

# --- thresholds ---------------------------------------------------------------------------

# Ten rows, four positive, worked by hand (a row is flagged when score >= t):
#   t    0.9   0.8   0.7   0.6   0.5   0.4   0.3   0.2   0.1   (0.0 is never a threshold)
#   TP   1     2     2     3     3     3     4     4     4
#   P    1     1     2/3   3/4   3/5   1/2   4/7   1/2   4/9
#   R    1/4   1/2   1/2   3/4   3/4   3/4   1     1     1
#   F1   .4    .667  .571  .75   .667  .6    .727  .667  .615
HAND_SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
HAND_LABELS = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0])


@pytest.mark.parametrize(
    ("policy", "target", "threshold", "precision", "recall"),
    [
        ("fixed", None, 0.5, 3 / 5, 3 / 4),
        ("max_f1", None, 0.6, 3 / 4, 3 / 4),
        ("target_recall", 1.0, 0.3, 4 / 7, 1.0),
        ("target_recall", 0.6, 0.6, 3 / 4, 3 / 4),
        ("target_recall", 0.5, 0.8, 1.0, 1 / 2),
        ("target_precision", 1.0, 0.8, 1.0, 1 / 2),
        ("target_precision", 0.7, 0.6, 3 / 4, 3 / 4),
        ("target_precision", 0.55, 0.3, 4 / 7, 1.0),
        # Recall 3/4 at both 0.6 and 0.5: the tie goes to the higher threshold.
        ("target_precision", 0.6, 0.6, 3 / 4, 3 / 4),
    ],
)
def test_each_policy_picks_the_threshold_worked_out_by_hand(
    policy, target, threshold, precision, recall
):
    choice = choose_threshold(HAND_LABELS, HAND_SCORES, policy, target)
    assert choice.threshold == threshold
    assert type(choice.threshold) is float
    assert choice.met is True
    assert (choice.policy, choice.target) == (policy, target)
    assert choice.precision == pytest.approx(precision)
    assert choice.recall == pytest.approx(recall)
    assert choice.f1 == pytest.approx(2 * precision * recall / (precision + recall))
    assert "on 10 validation rows (4 positive)" in choice.why


def test_ties_go_to_the_highest_threshold():
    # t: 0.9 0.7 0.5 0.3 -> P 0, 1/2, 1/3, 1/2; R 0, 1/2, 1/2, 1; F1 0, .5, .4, .667
    y, s = np.array([0, 1, 0, 1]), np.array([0.9, 0.7, 0.5, 0.3])
    assert choose_threshold(y, s, "target_recall", 0.5).threshold == 0.7  # precision 1/2 twice
    # F1 2/3 at 0.9 and at 0.3.
    y, s = np.array([1, 0, 0, 1]), np.array([0.9, 0.7, 0.5, 0.3])
    assert choose_threshold(y, s, "max_f1").threshold == 0.9


def test_an_unreachable_target_falls_back_to_max_f1_and_says_so():
    choice = choose_threshold(HAND_LABELS, HAND_SCORES, "target_precision", 0.5)
    assert choice.met is True
    y, s = np.array([0, 1, 0, 1]), np.array([0.9, 0.7, 0.5, 0.3])
    choice = choose_threshold(y, s, "target_precision", 0.99)
    assert (choice.threshold, choice.met, choice.target) == (0.3, False, 0.99)
    assert "no threshold reaches precision >= 0.99 (at most 0.500)" in choice.why
    assert "fell back to the highest F1" in choice.why
    # A positive scored exactly 0 cannot be reached by a threshold in (0, 1].
    y, s = np.array([1, 0, 1]), np.array([0.8, 0.5, 0.0])
    choice = choose_threshold(y, s, "target_recall", 1.0)
    assert (choice.threshold, choice.met, choice.recall) == (0.8, False, 0.5)


def test_zero_is_never_a_threshold_and_constant_scores_still_get_one():
    # Flagging every row (t = 0) would give F1 0.8; of the thresholds in (0, 1], 0.8 gives 2/3.
    choice = choose_threshold(np.array([1, 0, 1]), np.array([0.8, 0.5, 0.0]), "max_f1")
    assert (choice.threshold, choice.f1) == (0.8, pytest.approx(2 / 3))
    choice = choose_threshold(np.array([0, 1, 0]), np.zeros(3), "max_f1")
    assert (choice.threshold, choice.met, choice.recall) == (0.5, False, 0.0)
    assert "every score is 0" in choice.why
    choice = choose_threshold(np.array([0, 1, 0, 0]), np.full(4, 0.3), "max_f1")
    assert (choice.threshold, choice.recall, choice.precision) == (0.3, 1.0, 0.25)
    choice = choose_threshold(np.array([0, 1, 0, 0]), np.full(4, 0.3), "target_precision", 0.5)
    assert (choice.threshold, choice.met) == (0.3, False)


def test_the_choice_reproduces_with_the_evaluation_on_float32_scores():
    rng = np.random.default_rng(4)
    y = (rng.random(3000) < 0.05).astype(int)
    scores = expit(rng.normal(size=3000) + 1.5 * y).astype(np.float32)
    for policy, target in [("max_f1", None), ("target_recall", 0.8), ("target_precision", 0.3)]:
        choice = choose_threshold(y, scores, policy, target)
        assert choice.threshold in set(scores.tolist())
        m = variant_metrics(y, scores, choice.threshold)
        assert (choice.precision, choice.recall, choice.f1) == pytest.approx(
            (m["precision"], m["recall"], m["f1"]), abs=1e-12
        )


@pytest.mark.parametrize(
    ("y", "s", "kwargs", "message"),
    [
        ([0, 0, 0], [0.1, 0.2, 0.3], {}, "one class only .no positive rows"),
        ([1, 1], [0.1, 0.2], {}, "one class only .no negative rows"),
        ([], [], {}, "no rows"),
        ([0, 2], [0.1, 0.2], {}, "labels must be 0 or 1"),
        ([0, 1], [0.1], {}, "1 scores for 2 labels"),
        ([0, 1], [0.1, np.nan], {}, "finite"),
        ([0, 1], [0.1, 1.2], {}, "probabilities"),
        ([0, 1], [0.1, 0.2], {"policy": "best"}, "unknown threshold policy"),
        ([0, 1], [0.1, 0.2], {"policy": "target_recall"}, "needs a target"),
        ([0, 1], [0.1, 0.2], {"policy": "target_precision", "target": 1.5}, "needs a target"),
        ([0, 1], [0.1, 0.2], {"policy": "fixed", "fixed": 0.0}, "fixed threshold"),
    ],
)
def test_what_cannot_be_chosen_on_is_refused(y, s, kwargs, message):
    kwargs = {"policy": "max_f1"} | kwargs
    with pytest.raises(ValueError, match=message):
        choose_threshold(np.array(y), np.array(s), **kwargs)


# --- the paired bootstrap -----------------------------------------------------------------


def _pair(rng, positives, negatives, shift_candidate, shift_incumbent, rho=0.7):
    """Return labels and two correlated models' scores: N(0, 1) negatives, N(shift, 1) positives.

    Each model's population ROC AUC is Phi(shift / sqrt(2)).
    """
    n = positives + negatives
    y = np.r_[np.ones(positives, int), np.zeros(negatives, int)]
    shared = rng.normal(size=n)
    own = rng.normal(size=(2, n))
    base = math.sqrt(rho) * shared + math.sqrt(1 - rho) * own
    candidate = expit(base[0] + shift_candidate * y)
    incumbent = expit(base[1] + shift_incumbent * y)
    return y, candidate, incumbent


def test_the_interval_covers_the_true_difference_in_most_repetitions():
    rng = np.random.default_rng(11)
    truth = norm.cdf(1.0 / math.sqrt(2)) - norm.cdf(0.7 / math.sqrt(2))
    covered = 0
    for rep in range(40):
        y, cand, inc = _pair(rng, 150, 1500, 1.0, 0.7)
        c = paired_bootstrap(y, cand, inc, "roc_auc", resamples=200, confidence=0.9, seed=rep)
        assert c.low <= c.difference <= c.high
        covered += c.low <= truth <= c.high
    assert 0.75 <= covered / 40 <= 1.0


def test_the_interval_shrinks_with_more_rows_and_needs_no_more_than_it_has():
    rng = np.random.default_rng(2)
    widths = []
    for rows in (2_000, 20_000):
        y, cand, inc = _pair(rng, rows // 50, rows - rows // 50, 1.2, 1.0)
        c = paired_bootstrap(y, cand, inc, "pr_auc", resamples=200)
        assert (c.rows, c.positives, c.resamples, c.confidence) == (rows, rows // 50, 200, 0.95)
        widths.append(c.high - c.low)
    assert widths[1] < widths[0] / 2  # ~ 1 / sqrt(10)


def test_the_bootstrap_is_deterministic_for_a_seed():
    rng = np.random.default_rng(3)
    y, cand, inc = _pair(rng, 60, 940, 1.0, 0.9)
    first = paired_bootstrap(y, cand, inc, "pr_auc", resamples=300, seed=7)
    assert paired_bootstrap(y, cand, inc, "pr_auc", resamples=300, seed=7) == first
    assert paired_bootstrap(y, cand, inc, "pr_auc", resamples=300, seed=8).low != first.low


@pytest.mark.parametrize("metric", METRICS)
def test_identical_models_differ_by_exactly_zero(metric):
    rng = np.random.default_rng(5)
    y, cand, _ = _pair(rng, 40, 960, 1.0, 1.0)
    c = paired_bootstrap(y, cand, cand.copy(), metric, thresholds=(0.6, 0.6), resamples=100)
    assert (c.difference, c.low, c.high) == (0.0, 0.0, 0.0)
    assert c.candidate == c.incumbent


@pytest.mark.parametrize("metric", METRICS)
def test_the_point_values_are_the_evaluations_and_a_clear_winner_wins(metric):
    rng = np.random.default_rng(6)
    y, cand, inc = _pair(rng, 300, 2700, 2.5, 0.5)
    c = paired_bootstrap(y, cand, inc, metric, thresholds=(0.55, 0.45), resamples=200)
    assert isinstance(c, Comparison)
    assert c.candidate == variant_metrics(y, cand, 0.55)[metric]
    assert c.incumbent == variant_metrics(y, inc, 0.45)[metric]
    assert c.difference == c.candidate - c.incumbent
    if metric != "recall":  # the incumbent's lower threshold flags more rows
        assert c.low > 0


def test_the_vectorised_rank_metrics_equal_sklearns_on_resamples_with_ties():
    rng = np.random.default_rng(8)
    for _ in range(12):
        n = int(rng.integers(4, 300))
        y = (rng.random(n) < rng.uniform(0.05, 0.6)).astype(np.int8)
        y[:2] = (0, 1)
        scores = np.round(rng.random(n), int(rng.integers(1, 3)))  # many ties
        pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        weights = np.empty((5, n), dtype=np.int32)
        weights[:, pos] = _resample_counts(rng, 5, len(pos))
        weights[:, neg] = _resample_counts(rng, 5, len(neg))
        assert (weights[:, pos].sum(axis=1) == len(pos)).all()  # stratified: same counts
        assert (weights[:, neg].sum(axis=1) == len(neg)).all()
        for metric, sklearn_metric in [
            ("pr_auc", average_precision_score),
            ("roc_auc", roc_auc_score),
        ]:
            got = _weighted_metric(weights, _prepare(y, scores, metric, 0.5), metric)
            rows = [np.repeat(np.arange(n), w) for w in weights]  # the resamples themselves
            want = [sklearn_metric(y[r], scores[r]) for r in rows]
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("y", "kwargs", "message"),
    [
        ([0] * 10, {}, "one class only"),
        ([0, 1] * 5, {"metric": "accuracy"}, "unknown metric"),
        ([0, 1] * 5, {"resamples": 0}, "resamples"),
        ([0, 1] * 5, {"confidence": 1.0}, "confidence"),
    ],
)
def test_what_cannot_be_compared_is_refused(y, kwargs, message):
    kwargs = {"metric": "pr_auc"} | kwargs
    s = np.linspace(0, 1, 10)
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(np.array(y), s, s[::-1], **kwargs)


# --- seeds, the weight grid ---------------------------------------------------------------


def test_spread_is_the_mean_and_sample_deviation():
    assert spread([0.2, 0.4, 0.6]) == pytest.approx((0.4, 0.2))
    assert spread([0.3]) == (0.3, 0.0)
    assert all(type(v) is float for v in spread(np.array([1, 2])))
    with pytest.raises(ValueError):
        spread([])


def test_the_weight_grid_is_log_spaced_with_its_endpoints_and_extras():
    assert minority_weights(3, 1.0, 100.0) == [1.0, 10.0, 100.0]
    grid = minority_weights(8, extra=[25.123456, 1.0, 500.0])
    assert grid[0] == 1.0 and grid[-1] == 500.0
    assert 25.12 in grid
    assert grid == sorted(set(grid)) and len(grid) == 9  # 1.0 and 500.0 only once
    assert all(float(f"{w:.4g}") == w for w in grid)
    ratios = np.diff(np.log(minority_weights(8)))
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-3)
    for bad in [{"points": 1}, {"points": 4, "low": 0.0}, {"points": 4, "extra": [-1.0]}]:
        with pytest.raises(ValueError):
            minority_weights(**bad)


# --- reference scorers --------------------------------------------------------------------


def test_the_logistic_reference_beats_chance_on_separable_data():
    rng = np.random.default_rng(12)
    y = (rng.random(2000) < 0.1).astype(int)
    x = rng.normal(size=(2000, 3)) + np.outer(y, [2.0, 0.0, -1.0])
    score = logistic_reference(x[:1000], y[:1000], {0: 0.55, 1: 5.0})
    held_out = score(x[1000:])
    assert held_out.dtype == np.float32 and held_out.shape == (1000,)
    assert roc_auc_score(y[1000:], held_out) > 0.9
    unweighted = logistic_reference(x[:1000], y[:1000], None)(x[1000:])
    assert held_out.mean() > unweighted.mean()  # the class weight moves the scores up

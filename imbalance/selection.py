"""Model selection on validation rows: thresholds, paired bootstraps, seeds, the weight grid.

Pure functions on numpy arrays (numpy, scikit-learn): no Prefect, no TensorFlow, no I/O.
A row is labelled positive when its score >= the threshold, as in `imbalance.evaluation`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import get_args

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

from imbalance.config.model import ThresholdPolicy  # one list of policies, the config's

POLICIES: tuple[str, ...] = get_args(ThresholdPolicy)
METRICS: tuple[str, ...] = ("pr_auc", "roc_auc", "recall", "f1", "precision")
THRESHOLD_METRICS = ("recall", "f1", "precision")

# Resample counts `paired_bootstrap` holds at once (int32 entries): 2e6 is 8 MB per copy,
# and a block needs a few copies: far below a small worker's memory, yet large enough
# that numpy's per-call overhead vanishes.
BLOCK_ENTRIES = 2_000_000


# --- thresholds ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ThresholdChoice:
    """A threshold, the policy that chose it, and what it gives on the rows it was chosen on."""

    threshold: float
    policy: str
    target: float | None
    precision: float
    recall: float
    f1: float
    met: bool  # False when the target could not be reached: `why` names the fallback
    why: str  # one sentence for the report


def choose_threshold(
    y_true: np.ndarray,
    scores: np.ndarray,
    policy: ThresholdPolicy,
    target: float | None = None,
    fixed: float = 0.5,
    *,
    split: str = "validation",
) -> ThresholdChoice:
    """Return the threshold `policy` picks on these rows (validation ones: never the test part).

    - `fixed`: `fixed` itself (today's 0.5).
    - `max_f1`: the threshold of highest F1.
    - `target_recall`: of the thresholds with recall >= `target`, the highest precision.
    - `target_precision`: of the thresholds with precision >= `target`, the highest recall.
    Ties go to the highest threshold (fewest rows flagged for the same result). An
    unreachable target falls back to `max_f1`, with `met=False` and the reason in `why`.
    `target` is ignored by `fixed` and `max_f1`; `split` only names the rows in `why`.

    Candidates are the distinct scores (`precision_recall_curve`'s thresholds) in (0, 1]:
    a threshold of 0 would flag every row whatever the model says, in every later batch
    too, so it is never chosen. The lowest candidate is the lowest positive score, which
    flags every row scored above 0 (a float32 sigmoid can underflow to exactly 0: those
    rows stay negative). If every score is 0, no candidate flags anything: `fixed` is
    kept, with `met=False`. Thresholds are exact score values, returned as Python floats
    (a float32 score converts exactly), so `scores >= threshold` reproduces the choice.
    """
    y, s = _check_labels_scores(y_true, scores)
    if float(s.min()) < 0.0 or float(s.max()) > 1.0:
        raise ValueError("scores must be probabilities in [0, 1]")
    if policy not in POLICIES:
        raise ValueError(f"unknown threshold policy {policy!r}; expected one of {POLICIES}")
    if not 0.0 < fixed <= 1.0:
        raise ValueError(f"the fixed threshold must lie in (0, 1], got {fixed}")
    if policy in ("target_recall", "target_precision"):
        if target is None or not 0.0 < target <= 1.0:
            raise ValueError(f"{policy} needs a target in (0, 1], got {target}")
        target = float(target)
    else:
        target = None

    positives = int(y.sum())
    on = f"on {len(y):,} {split} rows ({positives:,} positive)"

    def at(threshold: float, met: bool, why: str) -> ThresholdChoice:
        tp, flagged = _counts_at(y, s, np.array([threshold]))
        precision, recall, f1 = _rates(tp, flagged, positives)
        return ThresholdChoice(
            threshold=float(threshold),
            policy=policy,
            target=target,
            precision=float(precision[0]),
            recall=float(recall[0]),
            f1=float(f1[0]),
            met=met,
            why=why,
        )

    if policy == "fixed":
        kept = at(fixed, True, "")
        return replace(
            kept,
            why=f"fixed threshold {fixed:g} (precision {kept.precision:.3f}, recall "
            f"{kept.recall:.3f}, F1 {kept.f1:.3f}) {on}",
        )

    _, _, thresholds = precision_recall_curve(y, s)
    thresholds = thresholds[thresholds > 0]  # increasing, distinct
    if thresholds.size == 0:
        return at(
            fixed,
            False,
            f"every score is 0, so no threshold in (0, 1] flags any row; kept {fixed:g} {on}",
        )
    tp, flagged = _counts_at(y, s, thresholds)
    precision, recall, f1 = _rates(tp, flagged, positives)

    def best(value: np.ndarray, allowed: np.ndarray) -> int:
        # The highest `value` among `allowed`; ties go to the highest threshold.
        top = value[allowed].max()
        return int(np.flatnonzero(allowed & (value == top))[-1])

    everything = np.ones(thresholds.size, dtype=bool)
    i = best(f1, everything)
    at_max_f1 = f"F1 {f1[i]:.3f} at threshold {thresholds[i]:.4g} (precision {precision[i]:.3f}"
    at_max_f1 += f", recall {recall[i]:.3f}) {on}"
    if policy == "max_f1":
        return at(thresholds[i], True, f"highest {at_max_f1}")

    if policy == "target_recall":
        allowed = recall >= target
        if allowed.any():
            j = best(precision, allowed)
            return at(
                thresholds[j],
                True,
                f"highest precision ({precision[j]:.3f}) with recall >= {target:g} "
                f"({recall[j]:.3f}) at threshold {thresholds[j]:.4g} {on}",
            )
        reached = f"recall >= {target:g} (at most {recall.max():.3f})"
    else:
        allowed = precision >= target
        if allowed.any():
            j = best(recall, allowed)
            return at(
                thresholds[j],
                True,
                f"highest recall ({recall[j]:.3f}) with precision >= {target:g} "
                f"({precision[j]:.3f}) at threshold {thresholds[j]:.4g} {on}",
            )
        reached = f"precision >= {target:g} (at most {precision.max():.3f})"
    return at(
        thresholds[i],
        False,
        f"no threshold reaches {reached}; fell back to the highest {at_max_f1}",
    )


def _counts_at(
    y: np.ndarray, s: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return (true positives, rows flagged) at each threshold, a row flagged when score >= it."""
    # Exact integer counts (not sklearn's float rates), so equal rates compare equal.
    ordered = np.sort(s)
    positive = np.sort(s[y == 1])
    flagged = len(ordered) - np.searchsorted(ordered, thresholds, side="left")
    tp = len(positive) - np.searchsorted(positive, thresholds, side="left")
    return tp, flagged


def _rates(
    tp: np.ndarray, flagged: np.ndarray, positives: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return precision, recall and F1 (0 where undefined, as sklearn's zero_division=0)."""
    tp = tp.astype(np.float64)
    precision = np.divide(tp, flagged, out=np.zeros_like(tp), where=flagged > 0)
    recall = tp / positives
    f1 = 2 * tp / (flagged + positives)  # 2TP / (2TP + FP + FN)
    return precision, recall, f1


def _check_labels_scores(y_true: np.ndarray, *scores: np.ndarray) -> tuple[np.ndarray, ...]:
    """Return labels as int8 0/1 and scores as 1-D arrays; refuse what cannot be scored."""
    y = np.asarray(y_true).ravel()
    if y.size == 0:
        raise ValueError("no rows to choose on")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    y = y.astype(np.int8)
    positives = int(y.sum())
    if positives == 0 or positives == y.size:
        kind = "positive" if positives == 0 else "negative"
        raise ValueError(
            f"the rows have one class only (no {kind} rows among {y.size:,}): "
            "a threshold or a comparison needs both classes"
        )
    checked = []
    for score in scores:
        s = np.asarray(score).ravel()
        if s.shape != y.shape:
            raise ValueError(f"{s.size} scores for {y.size} labels")
        if not np.isfinite(s).all():
            raise ValueError("scores must be finite (no NaN or infinity)")
        checked.append(s)
    return (y, *checked)


# --- the paired bootstrap -----------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """A candidate's and an incumbent's metric on the same rows, and their difference's interval.

    `candidate`, `incumbent`, `difference` are on all rows; `low`, `high` the percentile
    bootstrap interval of the difference (candidate - incumbent) at `confidence`.
    """

    metric: str
    candidate: float
    incumbent: float
    difference: float
    low: float
    high: float
    confidence: float
    resamples: int
    positives: int
    rows: int


def paired_bootstrap(
    y_true: np.ndarray,
    candidate_scores: np.ndarray,
    incumbent_scores: np.ndarray,
    metric: str,
    *,
    thresholds: tuple[float, float] = (0.5, 0.5),
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Comparison:
    """Return the metric's difference between two models scored on the same rows, with its CI.

    Why paired and stratified: both models see the very same resampled rows (their
    shared noise cancels, which a comparison of two separate intervals would not do),
    and positives and negatives are resampled separately, so every resample has both
    classes and the split's own class counts (no resample without an AUC).

    `metric`: pr_auc (average precision), roc_auc, or recall / f1 / precision at each
    model's own threshold (`thresholds` = (candidate's, incumbent's)). Deterministic
    given `seed`.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    y, cand, inc = _check_labels_scores(y_true, candidate_scores, incumbent_scores)
    models = ((cand, float(thresholds[0])), (inc, float(thresholds[1])))

    candidate, incumbent = (_metric(y, s, metric, t) for s, t in models)
    positive_rows, negative_rows = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    rng = np.random.default_rng(seed)
    block = max(1, min(resamples, BLOCK_ENTRIES // len(y)))
    prepared = [_prepare(y, s, metric, t) for s, t in models]
    differences = []
    for start in range(0, resamples, block):
        b = min(block, resamples - start)
        weights = np.empty((b, len(y)), dtype=np.int32)
        weights[:, positive_rows] = _resample_counts(rng, b, len(positive_rows))
        weights[:, negative_rows] = _resample_counts(rng, b, len(negative_rows))
        cand_b, inc_b = (_weighted_metric(weights, p, metric) for p in prepared)
        differences.append(cand_b - inc_b)
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(np.concatenate(differences), [tail, 1.0 - tail])
    return Comparison(
        metric=metric,
        candidate=candidate,
        incumbent=incumbent,
        difference=candidate - incumbent,
        low=float(low),
        high=float(high),
        confidence=float(confidence),
        resamples=int(resamples),
        positives=len(positive_rows),
        rows=len(y),
    )


def _metric(y: np.ndarray, scores: np.ndarray, metric: str, threshold: float) -> float:
    """Return the metric on all rows, computed as `imbalance.evaluation` does (scikit-learn)."""
    if metric == "pr_auc":
        return float(average_precision_score(y, scores))
    if metric == "roc_auc":
        return float(roc_auc_score(y, scores))
    y_pred = (scores >= threshold).astype(int)
    score = {"recall": recall_score, "f1": f1_score, "precision": precision_score}[metric]
    return float(score(y, y_pred, zero_division=0))


def _resample_counts(rng: np.random.Generator, b: int, n: int) -> np.ndarray:
    """Return (b, n) int32 counts: how often each of n rows is drawn in each of b resamples of n."""
    draws = rng.integers(0, n, size=(b, n), dtype=np.int32)
    draws += (np.arange(b, dtype=np.int32) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=b * n).reshape(b, n).astype(np.int32)


def _prepare(y: np.ndarray, scores: np.ndarray, metric: str, threshold: float) -> dict:
    """Return what `_weighted_metric` needs of one model, computed once for all resamples."""
    if metric in THRESHOLD_METRICS:
        flagged = scores >= threshold
        # Columns: true positive, flagged, positive; int32 sums of counts are exact.
        return {"columns": np.stack([flagged & (y == 1), flagged, y == 1], axis=1).astype(np.int32)}
    order = np.argsort(-scores.astype(np.float64), kind="stable")
    ordered = scores[order]
    # Rows of equal score form one group: one point of the curves per distinct score.
    new = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    group = np.zeros(len(ordered), dtype=np.intp)
    group[new] = 1
    group = np.cumsum(group)
    starts = np.append(0, new)
    ends = np.append(new - 1, len(ordered) - 1)
    # Only groups holding positive rows move recall: the curves need nothing else.
    at = np.flatnonzero(y[order] == 1)  # sorted positions of the positive rows
    last = np.flatnonzero(np.append(group[at][1:] != group[at][:-1], True))
    held = group[at][last]
    return {"order": order, "at": at, "last": last, "starts": starts[held], "ends": ends[held]}


def _weighted_metric(weights: np.ndarray, prepared: dict, metric: str) -> np.ndarray:
    """Return the metric of each resample, a row of `weights` being each row's count in it.

    A row drawn k times weighs k: the metric on the resample, without materialising it.
    Why not sklearn: its ~10 ms per call makes 2 x 1,000 resamples of 20,000 rows take
    ~20 s; this computes a block of resamples in a few array operations (integer
    cumulative counts in each model's score order). The rank metrics equal sklearn's
    (tested to 1e-12, ties included), summed over the groups of equal score that hold
    positives, with TP, FP the counts at scores >= the group's and TP0, FP0 at scores
    above it, P, N the class counts:
      pr_auc  = sum (TP - TP0) / P * TP / (TP + FP)   (average_precision_score's steps)
      roc_auc = sum (TP - TP0) * (N - (FP + FP0) / 2) / (P * N)   (the ROC trapezoids)
    """
    if metric in THRESHOLD_METRICS:
        tp, flagged, positives = (weights @ prepared["columns"]).astype(np.float64).T
        if metric == "recall":
            return tp / positives
        if metric == "precision":
            return np.divide(tp, flagged, out=np.zeros_like(tp), where=flagged > 0)
        return 2 * tp / (flagged + positives)  # 2TP / (2TP + FP + FN)
    ordered = np.take(weights, prepared["order"], axis=1)
    counted = np.cumsum(ordered, axis=1, dtype=np.int32)
    starts, ends = prepared["starts"], prepared["ends"]
    flagged = counted[:, ends].astype(np.float64)
    flagged_before = (counted[:, starts] - ordered[:, starts]).astype(np.float64)
    tp = np.cumsum(ordered[:, prepared["at"]], axis=1, dtype=np.int32)
    positives = tp[:, -1].astype(np.float64)
    tp = tp[:, prepared["last"]].astype(np.float64)
    tp_before = np.concatenate([np.zeros((len(tp), 1)), tp[:, :-1]], axis=1)
    gained = tp - tp_before
    if metric == "pr_auc":
        precision = np.divide(tp, flagged, out=np.zeros_like(tp), where=flagged > 0)
        return (gained * precision).sum(axis=1) / positives
    fp, fp_before = flagged - tp, flagged_before - tp_before
    negatives = counted[:, -1] - positives
    below = negatives[:, None] - (fp + fp_before) / 2
    return (gained * below).sum(axis=1) / (positives * negatives)


# --- seeds, the weight grid -----------------------------------------------------------------


def spread(values: Sequence[float]) -> tuple[float, float]:
    """Return the mean and sample standard deviation (ddof=1) of per-seed results.

    One value has no spread to estimate: its deviation is reported as 0.0.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("no values to summarise")
    deviation = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return float(v.mean()), deviation


def minority_weights(
    points: int, low: float = 1.0, high: float = 500.0, extra: Sequence[float] = ()
) -> list[float]:
    """Return the minority-class weights to sweep: log-spaced from `low` to `high`, plus `extra`.

    Log-spaced because the weight acts by ratio (1 -> 2 matters as much as 100 -> 200);
    `extra` adds named points such as sklearn's balanced weight. Rounded to 4 significant
    digits (readable in a report, and a config can name them exactly), sorted, unique.
    """
    if points < 2:
        raise ValueError(f"a sweep from {low} to {high} needs at least 2 points, got {points}")
    if not 0.0 < low < high:
        raise ValueError(f"weights must satisfy 0 < low < high, got {low} and {high}")
    values = [*np.geomspace(low, high, points), *extra]
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"weights must be positive and finite, got {list(extra)}")
    return sorted({float(f"{v:.4g}") for v in values})


# --- reference scorers ----------------------------------------------------------------------


def logistic_reference(
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    class_weight: dict[int, float] | None,
    seed: int = 0,
) -> Callable[[np.ndarray], np.ndarray]:
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

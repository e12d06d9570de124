"""Thresholds chosen on validation rows: the policies, and the checks of labels and scores.

Pure functions on numpy arrays (numpy, scikit-learn): no Prefect, no TensorFlow, no I/O.
A row is labelled positive when its score >= the threshold, as in `imbalance.selection.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import get_args

import numpy as np
from sklearn.metrics import (
    precision_recall_curve,
)

from imbalance.config.model import ThresholdPolicy  # one list of policies, the config's

POLICIES: tuple[str, ...] = get_args(ThresholdPolicy)
THRESHOLD_METRICS = ("recall", "f1", "precision")


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
    y, s = check_labels_scores(y_true, scores)
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


def check_labels_scores(y_true: np.ndarray, *scores: np.ndarray) -> tuple[np.ndarray, ...]:
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

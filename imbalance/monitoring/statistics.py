"""The statistics of drift: PSI of numeric and categorical values, the positive-rate test.

Pure functions on arrays; `imbalance.monitoring.drift` applies them per feature and
explains the thresholds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

PSI_FLAG = 0.2  # above: a significant shift, flagged
PSI_MODERATE = 0.1  # above (up to PSI_FLAG): a moderate shift, reported, not flagged
EPSILON = 1e-4  # floor for the share of an empty bin, so that ln(c / r) stays finite
BINS = 10  # numeric features: deciles of the reference
# The positive rate is flagged when the larger rate is at least this many times the
# smaller one and the change is not noise (two-proportion z-test below RATE_PVALUE).
RATE_RATIO = 1.5
RATE_PVALUE = 0.01
KINDS = ("numeric", "categorical")


def level(psi: float) -> str:
    """Return "stable" (PSI <= 0.1), "moderate" (up to 0.2) or "drifted" (above 0.2)."""
    if psi > PSI_FLAG:
        return "drifted"
    if psi > PSI_MODERATE:
        return "moderate"
    return "stable"


# PSI is written out here: neither scipy nor scikit-learn has a maintained PSI
# function, and it is a few lines of numpy whose binning we want to control
# (reference quantiles, open outer bins, an epsilon floor for empty bins).
def _psi(reference_shares: np.ndarray, current_shares: np.ndarray) -> float:
    r = np.maximum(reference_shares, EPSILON)
    c = np.maximum(current_shares, EPSILON)
    return float(np.sum((c - r) * np.log(c / r)))


def _numbers(values: Any) -> np.ndarray:
    """Return the finite numbers among `values` as float64 (NaN, None, text, inf dropped)."""
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, object))
    if series.dtype == bool:
        series = series.astype(np.int8)
    array = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return array[np.isfinite(array)]


def _numeric_psi(reference: np.ndarray, current: np.ndarray, bins: int) -> float:
    """PSI of two non-empty arrays of finite floats, binned at the reference's quantiles."""
    # Interior edges only; bins are [e_i, e_i+1) with the outer ones open to -inf/+inf.
    # Repeated quantiles (a discrete or constant column) collapse into one edge: a
    # constant reference gives one edge, all its rows in one bin, and current values
    # below it in the other.
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    n_bins = len(edges) + 1
    r = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=n_bins)
    c = np.bincount(np.searchsorted(edges, current, side="right"), minlength=n_bins)
    return _psi(r / len(reference), c / len(current))


def population_stability_index(reference: Any, current: Any, bins: int = BINS) -> float:
    """Return the PSI of numeric `current` against `reference`, binned at the reference's quantiles.

    Bin edges are the reference's `bins`-quantiles, deduplicated, with the outer bins
    open (-inf/+inf). Empty bins count as a share of `EPSILON`. NaN and None (and
    infinities, and text that is no number) are dropped from both sides first.
    Raises ValueError if either side has no values left, or `bins` < 1.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, not {bins}")
    ref, cur = _numbers(reference), _numbers(current)
    if not len(ref) or not len(cur):
        raise ValueError("population_stability_index needs values on both sides")
    return _numeric_psi(ref, cur, bins)


def _text(values: Any) -> pd.Series:
    """Return `values` as text, missing values as None.

    Whole floats read as integers, so that a column of ints that picked up a NaN on
    one side (and became float) still matches: 1.0 and 1 are both "1".
    """
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    missing = series.isna()
    present = series[~missing]
    if pd.api.types.is_float_dtype(present.dtype):
        floats = present.to_numpy(dtype=float)
        if bool(np.all(np.mod(floats, 1) == 0)):
            present = present.astype("int64")
        text = present.astype(str)
    elif present.dtype == object and pd.api.types.infer_dtype(present) != "string":
        text = present.map(_whole_float_as_int)
    else:
        text = present.astype(str)
    return text.reindex(series.index).where(~missing, None)


def _whole_float_as_int(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _category_counts(values: Any) -> tuple[dict[str | None, int], int]:
    """Return (count per category as text, None for missing; number of values)."""
    text = _text(values)
    counts = text.value_counts(dropna=False)
    result = {(None if pd.isna(k) else str(k)): int(v) for k, v in counts.items()}
    return result, len(text)


def categorical_psi(reference: Any, current: Any) -> float:
    """Return the PSI of `current` against `reference` over the union of their categories.

    Values are compared as text; missing values are a category of their own; a
    category on one side only counts as a share of `EPSILON` on the other.
    Raises ValueError if either side is empty.
    """
    ref, n_ref = _category_counts(reference)
    cur, n_cur = _category_counts(current)
    if not n_ref or not n_cur:
        raise ValueError("categorical_psi needs values on both sides")
    return _categorical_psi(ref, n_ref, cur, n_cur)


def _categorical_psi(ref: dict, n_ref: int, cur: dict, n_cur: int) -> float:
    keys = list(ref.keys() | cur.keys())
    r = np.array([ref.get(k, 0) for k in keys], dtype=float) / n_ref
    c = np.array([cur.get(k, 0) for k in keys], dtype=float) / n_cur
    return _psi(r, c)


def positive_rate_changed(
    reference_positives: int, reference_rows: int, current_positives: int, current_rows: int
) -> tuple[bool, float | None]:
    """Return (flagged, two-sided p-value) for the change of the positive rate.

    Flagged when both hold:
    - the larger rate is at least `RATE_RATIO` (1.5) times the smaller (a rate that
      appears from zero counts as infinitely many times): class weights scale with
      1 / rate, so the champion's weights would be off by that factor;
    - the change is not noise: a pooled two-proportion z-test gives p < `RATE_PVALUE`
      (0.01). With few positives a ratio of 1.5 is easily chance.
    The p-value is None when a side has no rows.
    """
    if not reference_rows or not current_rows:
        return False, None
    r, c = reference_positives / reference_rows, current_positives / current_rows
    pooled = (reference_positives + current_positives) / (reference_rows + current_rows)
    se = math.sqrt(pooled * (1 - pooled) * (1 / reference_rows + 1 / current_rows))
    if se == 0:  # both rates 0, or both 1
        return False, 1.0
    pvalue = float(2 * stats.norm.sf(abs(c - r) / se))
    low, high = min(r, c), max(r, c)
    big = high > 0 and (low == 0 or high / low >= RATE_RATIO)
    return bool(big and pvalue < RATE_PVALUE), pvalue

"""Drift between two training sets: PSI, KS, the positive rate, the report (monitoring/)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from imbalance.monitoring import drift
from imbalance.monitoring.drift import DriftReport, compare
from imbalance.monitoring.statistics import (
    EPSILON,
    PSI_FLAG,
    categorical_psi,
    level,
    population_stability_index,
    positive_rate_changed,
)

N = 50_000


def _normal(seed: int, mean: float = 0.0, n: int = N) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, 1.0, n)


def _frame(x: np.ndarray, **columns) -> pd.DataFrame:
    return pd.DataFrame({"x": x, "label": np.zeros(len(x), dtype=int), **columns})


def _feature(report: DriftReport, name: str) -> drift.FeatureDrift:
    return next(f for f in report.features if f.name == name)


def test_same_distribution_is_stable():
    report = compare(_frame(_normal(1)), _frame(_normal(2)), [("x", "numeric")], "label", 1)
    x = _feature(report, "x")
    assert x.psi < 0.01
    assert x.ks < 0.02
    assert not x.flagged and x.level == "stable"
    assert report.flagged == [] and not report.drifted


def test_one_sd_shift_is_flagged_and_ks_matches_theory():
    report = compare(_frame(_normal(1)), _frame(_normal(2, 1.0)), [("x", "numeric")], "label", 1)
    x = _feature(report, "x")
    assert x.psi > PSI_FLAG
    assert x.flagged and x.level == "drifted"
    assert report.flagged == ["x"]
    # Two unit normals a mean of d apart: sup |F - G| = 2 * Phi(d / 2) - 1.
    assert x.ks == pytest.approx(2 * stats.norm.cdf(0.5) - 1, abs=0.02)  # 0.383
    assert x.ks_pvalue < 1e-10


def test_half_sd_shift_ks():
    result = stats.ks_2samp(_normal(3), _normal(4, 0.5))
    report = compare(_frame(_normal(3)), _frame(_normal(4, 0.5)), [("x", "numeric")], "label", 1)
    ks = _feature(report, "x").ks
    assert ks == pytest.approx(2 * stats.norm.cdf(0.25) - 1, abs=0.02)  # 0.197
    assert ks == pytest.approx(result.statistic, abs=1e-4)


def test_psi_by_hand():
    reference = np.arange(1, 11)  # median 5.5: bins (-inf, 5.5) and [5.5, inf), 5 rows each
    current = [1, 1, 1, 1, 1, 1, 1, 1, 10, 10]  # 8 below, 2 above
    expected = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    assert population_stability_index(reference, current, bins=2) == pytest.approx(expected)
    assert expected == pytest.approx(0.415888, abs=1e-6)
    # An empty bin counts as EPSILON, so the value stays finite.
    below = [0, 1, 2, 3]
    expected = (1 - 0.5) * math.log(1 / 0.5) + (EPSILON - 0.5) * math.log(EPSILON / 0.5)
    assert population_stability_index(reference, below, bins=2) == pytest.approx(expected)
    # Quartiles 3.25, 5.5, 7.75; a value on an edge goes to the bin above it.
    current = [1, 2, 3, 4, 5, 6, 7, 8, 9, 5.5]
    shares_ref, shares_cur = [0.3, 0.2, 0.2, 0.3], [0.3, 0.2, 0.3, 0.2]
    expected = sum((c - r) * math.log(c / r) for r, c in zip(shares_ref, shares_cur, strict=True))
    assert population_stability_index(reference, current, bins=4) == pytest.approx(expected)


def test_psi_is_symmetric_in_the_formula_and_zero_for_identical_data():
    a = _normal(5, n=1000)
    assert population_stability_index(a, a) == pytest.approx(0.0, abs=1e-12)
    assert population_stability_index(a, a + 3) > PSI_FLAG


def test_psi_drops_missing_values():
    reference = [1.0, 2.0, np.nan, 3.0, None, 4.0]
    current = [1.0, 2.0, 3.0, 4.0, np.nan, np.nan, np.nan]
    assert population_stability_index(reference, current, bins=4) == pytest.approx(0.0)


def test_psi_needs_values_on_both_sides():
    with pytest.raises(ValueError):
        population_stability_index([np.nan, None], [1.0, 2.0])
    with pytest.raises(ValueError):
        population_stability_index([1.0], [1.0], bins=0)


def test_constant_reference_gives_finite_numbers():
    reference = np.full(1000, 3.0)
    same = compare(_frame(reference), _frame(np.full(500, 3.0)), [("x", "numeric")], "label", 1)
    x = _feature(same, "x")
    assert x.psi == 0.0 and not x.flagged
    moved = compare(_frame(reference), _frame(np.full(500, 2.0)), [("x", "numeric")], "label", 1)
    x = _feature(moved, "x")
    assert math.isfinite(x.psi) and x.flagged
    assert x.ks == 1.0
    json.dumps(moved.to_json(), allow_nan=False)


def test_categorical_same_mix_is_stable():
    rng = np.random.default_rng(6)
    reference = rng.choice(["a", "b", "c"], size=N, p=[0.6, 0.3, 0.1])
    current = rng.choice(["a", "b", "c"], size=N, p=[0.6, 0.3, 0.1])
    assert categorical_psi(reference, current) < 0.01
    report = compare(
        _frame(_normal(1), c=reference),
        _frame(_normal(2), c=current),
        [("c", "categorical")],
        "label",
        1,
    )
    c = _feature(report, "c")
    assert c.ks is None and c.ks_pvalue is None and not c.flagged


def test_categorical_new_dominant_category_is_flagged():
    rng = np.random.default_rng(7)
    reference = rng.choice(["a", "b", "c"], size=10_000, p=[0.6, 0.3, 0.1])
    current = rng.choice(["a", "b", "c", "new"], size=10_000, p=[0.2, 0.1, 0.1, 0.6])
    report = compare(
        _frame(np.zeros(10_000), c=reference),
        _frame(np.zeros(10_000), c=current),
        [("c", "categorical")],
        "label",
        1,
    )
    c = _feature(report, "c")
    assert c.psi > PSI_FLAG and c.flagged and report.flagged == ["c"]


def test_categorical_by_hand_and_missing_is_a_category():
    reference = ["a", "a", "b", None]  # a .5, b .25, missing .25
    current = ["a", "b", "b", np.nan]  # a .25, b .5, missing .25
    expected = (0.25 - 0.5) * math.log(0.5) + (0.5 - 0.25) * math.log(2)
    assert categorical_psi(reference, current) == pytest.approx(expected)
    # Values are text: 1 and "1" are one category, and so are 1 and 1.0 (an int
    # column that became float because of a NaN).
    assert categorical_psi([1, 2, 2], ["1", "2", "2"]) == pytest.approx(0.0)
    assert categorical_psi(pd.Series([1, 2, 2]), pd.Series([1.0, 2.0, 2.0])) == pytest.approx(0.0)
    ints = pd.Series([1, 2, None], dtype="Int64")
    assert categorical_psi(ints, [1.0, 2.0, np.nan]) == pytest.approx(0.0)
    assert categorical_psi([1, "a", None], [1.0, "a", np.nan]) == pytest.approx(0.0)
    # Missing values are counted, and their share reported.
    report = compare(
        pd.DataFrame({"c": ["a", "b", "a", "b"], "label": 0}),
        pd.DataFrame({"c": ["a", None, None, None], "label": 0}),
        [("c", "categorical")],
        "label",
        1,
    )
    c = _feature(report, "c")
    assert c.flagged
    assert (c.reference_missing, c.current_missing) == (0.0, 0.75)


def test_feature_on_one_side_is_listed():
    reference = _frame(_normal(1, n=100), old=1.0)
    current = _frame(_normal(2, n=100), new="x")
    features = [("x", "numeric"), ("old", "numeric"), ("new", "categorical"), ("gone", "numeric")]
    report = compare(reference, current, features, "label", 1)
    assert [f.name for f in report.features] == ["x"]
    assert report.only_reference == ("old",)
    assert report.only_current == ("new",)
    assert "only in reference: old" in report.summary()
    assert report.rows()[-1] == ["new", "", "n/a", "n/a", "n/a", "only in current"]


def test_numeric_nans_are_ignored_and_reported():
    x = _normal(1, n=1000)
    with_gaps = x.copy()
    with_gaps[::4] = np.nan
    report = compare(_frame(x), _frame(with_gaps), [("x", "numeric")], "label", 1)
    f = _feature(report, "x")
    assert f.psi < 0.05 and not f.flagged
    assert (f.reference_missing, f.current_missing) == (0.0, 0.25)


def test_all_missing_on_one_side_is_flagged_without_numbers():
    report = compare(
        _frame(_normal(1, n=100)), _frame(np.full(50, np.nan)), [("x", "numeric")], "label", 1
    )
    f = _feature(report, "x")
    assert f.psi is None and f.ks is None and f.flagged and f.level == "drifted"
    json.dumps(report.to_json(), allow_nan=False)


def test_positive_rates():
    reference = pd.DataFrame({"x": np.zeros(1000), "y": ["fraud"] * 10 + ["ok"] * 990})
    current = pd.DataFrame({"x": np.zeros(2000), "y": ["fraud"] * 62 + ["ok"] * 1938})
    report = compare(reference, current, [("x", "numeric")], "y", "fraud")
    assert (report.reference_rows, report.current_rows) == (1000, 2000)
    assert (report.reference_positives, report.current_positives) == (10, 62)
    assert report.reference_positive_rate == pytest.approx(0.01)
    assert report.current_positive_rate == pytest.approx(0.031)
    assert report.positive_rate_flagged and report.drifted
    assert report.summary() == (
        "0 of 1 features drifted (PSI > 0.2); positive rate 1.0% → 3.1% (flagged)"
    )


def test_positive_rate_rule():
    # Tripled, on many rows: flagged. Tripled, on few: noise. Slightly up on many: not big.
    assert positive_rate_changed(100, 10_000, 300, 10_000)[0]
    assert not positive_rate_changed(1, 100, 3, 100)[0]
    assert not positive_rate_changed(10_000, 1_000_000, 11_000, 1_000_000)[0]
    assert positive_rate_changed(0, 10_000, 50, 10_000)[0]
    assert positive_rate_changed(0, 100, 0, 100) == (False, 1.0)
    assert positive_rate_changed(0, 0, 5, 100) == (False, None)


def test_label_as_ints_and_empty_frame():
    empty = pd.DataFrame({"x": pd.Series([], dtype=float), "label": pd.Series([], dtype=int)})
    report = compare(_frame(_normal(1, n=10)), empty, [("x", "numeric")], "label", 1)
    assert report.current_positive_rate is None and report.reference_positive_rate == 0.0
    assert "→ n/a" in report.summary()
    json.dumps(report.to_json(), allow_nan=False)


def test_bad_input_is_refused():
    frame = _frame(_normal(1, n=10))
    with pytest.raises(ValueError, match="kind"):
        compare(frame, frame, [("x", "ordinal")], "label", 1)
    with pytest.raises(ValueError, match="label"):
        compare(frame, frame.drop(columns="label"), [("x", "numeric")], "label", 1)


def _mixed_report() -> DriftReport:
    rng = np.random.default_rng(8)
    n = 5000
    reference = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 1, n),
            "age": rng.normal(40, 10, n),
            "country": rng.choice(["de", "fr", "it"], n),
            "label": (rng.random(n) < 0.01).astype(int),
        }
    )
    current = pd.DataFrame(
        {
            "amount": rng.lognormal(4, 1, n),
            "age": rng.normal(40, 10, n),
            "country": rng.choice(["de", "fr", "it", "es"], n, p=[0.1, 0.1, 0.1, 0.7]),
            "label": (rng.random(n) < 0.03).astype(int),
        }
    )
    features = [("amount", "numeric"), ("age", "numeric"), ("country", "categorical")]
    return compare(reference, current, features, "label", 1)


def test_summary_and_rows():
    report = _mixed_report()
    assert report.flagged == ["amount", "country"]
    assert report.summary().startswith(
        "2 of 3 features drifted (PSI > 0.2): amount, country; positive rate "
    )
    rows = report.rows()
    assert [r[0] for r in rows] == ["amount", "age", "country"]
    assert all(len(r) == len(drift.ROW_HEADER) for r in rows)
    assert rows[1][5] == "stable" and rows[2][3:5] == ["n/a", "n/a"]
    assert all(isinstance(cell, str) for r in rows for cell in r)


def test_a_p_value_below_float_range_is_shown_as_a_bound():
    # Two clearly different samples of 50,000: scipy's KS p-value underflows to 0.0.
    report = compare(_frame(_normal(1)), _frame(_normal(2, 1.0)), [("x", "numeric")], "label", 1)
    assert _feature(report, "x").ks_pvalue == 0.0
    assert report.rows()[0][4] == "< 1e-300"


def test_json_round_trip():
    report = _mixed_report()
    data = report.to_json()
    text = json.dumps(data, allow_nan=False)
    assert DriftReport.from_json(json.loads(text)) == report
    assert DriftReport.from_json(data).to_json() == data


def test_level():
    assert [level(p) for p in (0.0, 0.1, 0.15, 0.2, 0.25)] == [
        "stable",
        "stable",
        "moderate",
        "moderate",
        "drifted",
    ]

"""Data drift between two training sets: per-feature PSI and KS, and the positive rate.

Each nightly run compares the training part of its own split ("current") with the
training part of the current champion's run ("reference"): the data the champion
learnt from against the data the new run learns from. Pure functions of two frames;
no I/O, no Prefect, no TensorFlow.

Per feature:
- PSI, the population stability index, sum over bins of (c - r) * ln(c / r), where r
  and c are the reference's and the current's share of rows in the bin. Numeric
  features are binned at the reference's deciles (outer edges -inf/+inf, so every
  current value lands in a bin); categorical ones by category, as text, with missing
  values a category of their own. Numeric missing values (and text that is no number,
  and infinities) are left out of PSI and KS; their share is reported on its own.
- KS, the two-sample Kolmogorov-Smirnov statistic and p-value (`scipy.stats.ks_2samp`),
  numeric features only. Informative, never a flag: with tens of thousands of rows
  its p-value is tiny for shifts nobody would act on.

Thresholds, the credit-scoring convention (Siddiqi, "Credit Risk Scorecards", Wiley
2006; also Yurdakul 2018, "Statistical properties of the population stability
index"): PSI <= 0.1 stable, 0.1-0.2 moderate shift, > 0.2 significant shift. A
feature is flagged when its PSI is above `PSI_FLAG`, or when it has values on one
side only (it went all-missing, or came back). The positive rate is flagged as
`positive_rate_changed` describes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from scipy import stats

from imbalance.monitoring.statistics import (
    BINS,
    KINDS,
    PSI_FLAG,
    PSI_MODERATE,
    _categorical_psi,
    _category_counts,
    _numbers,
    _numeric_psi,
    level,
    positive_rate_changed,
)

ROW_HEADER = ("feature", "kind", "PSI", "KS", "KS p-value", "level")


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's drift. `psi` is None when a side has no values (then `ks` too).

    `ks`/`ks_pvalue`: numeric features only. `*_missing`: share of rows without a
    value (numeric: also text that is no number, and infinities).
    """

    name: str
    kind: str
    psi: float | None
    ks: float | None
    ks_pvalue: float | None
    flagged: bool
    reference_missing: float = 0.0
    current_missing: float = 0.0

    @property
    def level(self) -> str:
        """`level(psi)`; "drifted" or "no data" when a side has no values."""
        if self.psi is None:
            return "drifted" if self.flagged else "no data"
        return level(self.psi)


@dataclass(frozen=True)
class DriftReport:
    """The drift of a run's training data against the champion's (see the module docstring).

    Positive rates are shares of the rows whose label is the positive value (None
    for a frame without rows). Numbers are rounded as `to_json` writes them, so a
    report round-trips through JSON unchanged.
    """

    reference_rows: int
    current_rows: int
    reference_positives: int
    current_positives: int
    reference_positive_rate: float | None
    current_positive_rate: float | None
    positive_rate_flagged: bool
    positive_rate_pvalue: float | None
    features: tuple[FeatureDrift, ...]
    only_reference: tuple[str, ...] = ()
    only_current: tuple[str, ...] = ()

    @property
    def flagged(self) -> list[str]:
        """Names of the flagged features, in the order given."""
        return [f.name for f in self.features if f.flagged]

    @property
    def drifted(self) -> bool:
        """Whether any feature or the positive rate is flagged."""
        return bool(self.flagged) or self.positive_rate_flagged

    def rows(self) -> list[list[str]]:
        """Return table rows under `ROW_HEADER`, as text; then one row per one-sided feature."""
        rows = [
            [
                f.name,
                f.kind,
                _fmt(f.psi, ".4f"),
                _fmt(f.ks, ".4f"),
                _pvalue_text(f.ks_pvalue),
                f.level,
            ]
            for f in self.features
        ]
        for side, names in (("reference", self.only_reference), ("current", self.only_current)):
            rows += [[name, "", "n/a", "n/a", "n/a", f"only in {side}"] for name in names]
        return rows

    def summary(self) -> str:
        """Return one line of text about the drift.

        E.g. "2 of 5 features drifted (PSI > 0.2): amount, country; positive rate 1.0% → 3.1%",
        then "(flagged)" if the rate is, and the features found on one side only.
        """
        flagged = self.flagged
        text = f"{len(flagged)} of {len(self.features)} features drifted (PSI > {PSI_FLAG:g})"
        if flagged:
            text += ": " + ", ".join(flagged)
        text += (
            f"; positive rate {_percent(self.reference_positive_rate)} → "
            f"{_percent(self.current_positive_rate)}"
        )
        if self.positive_rate_flagged:
            text += " (flagged)"
        if self.only_reference:
            text += "; only in reference: " + ", ".join(self.only_reference)
        if self.only_current:
            text += "; only in current: " + ", ".join(self.only_current)
        return text

    def to_json(self) -> dict[str, Any]:
        """Return a plain, JSON-serialisable dict (no NaN: missing numbers are None)."""
        return {
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "reference_positives": self.reference_positives,
            "current_positives": self.current_positives,
            "reference_positive_rate": self.reference_positive_rate,
            "current_positive_rate": self.current_positive_rate,
            "positive_rate_flagged": self.positive_rate_flagged,
            "positive_rate_pvalue": self.positive_rate_pvalue,
            "features": [
                {
                    "name": f.name,
                    "kind": f.kind,
                    "psi": f.psi,
                    "ks": f.ks,
                    "ks_pvalue": f.ks_pvalue,
                    "flagged": f.flagged,
                    "reference_missing": f.reference_missing,
                    "current_missing": f.current_missing,
                }
                for f in self.features
            ],
            "only_reference": list(self.only_reference),
            "only_current": list(self.only_current),
            "thresholds": {"psi_flag": PSI_FLAG, "psi_moderate": PSI_MODERATE},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DriftReport:
        """Return the report `to_json` wrote (its `thresholds` are informative only)."""
        return cls(
            reference_rows=int(data["reference_rows"]),
            current_rows=int(data["current_rows"]),
            reference_positives=int(data["reference_positives"]),
            current_positives=int(data["current_positives"]),
            reference_positive_rate=_float(data["reference_positive_rate"]),
            current_positive_rate=_float(data["current_positive_rate"]),
            positive_rate_flagged=bool(data["positive_rate_flagged"]),
            positive_rate_pvalue=_float(data["positive_rate_pvalue"]),
            features=tuple(
                FeatureDrift(
                    name=str(f["name"]),
                    kind=str(f["kind"]),
                    psi=_float(f["psi"]),
                    ks=_float(f["ks"]),
                    ks_pvalue=_float(f["ks_pvalue"]),
                    flagged=bool(f["flagged"]),
                    reference_missing=float(f.get("reference_missing", 0.0)),
                    current_missing=float(f.get("current_missing", 0.0)),
                )
                for f in data["features"]
            ),
            only_reference=tuple(data.get("only_reference", ())),
            only_current=tuple(data.get("only_current", ())),
        )


def compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Iterable[tuple[str, str] | Any],
    label: str,
    positive: Any,
) -> DriftReport:
    """Return the drift of `current` (this run's training rows) against `reference`.

    `reference`: the training rows of the champion's run. `features`: (name, kind)
    pairs, kind "numeric" or "categorical" (objects with `.name` and `.kind`, such as
    a DataSpec's features, do too). A feature missing
    from one frame is listed in `only_reference`/`only_current`, not compared. Both
    frames must hold the `label` column; a row is positive where it equals `positive`.
    Raises ValueError for an unknown kind or a missing label column.
    """
    for side, frame in (("reference", reference), ("current", current)):
        if label not in frame.columns:
            raise ValueError(f"the {side} data has no label column {label!r}")
    pairs = [(f.name, f.kind) if hasattr(f, "kind") else tuple(f) for f in features]
    for name, kind in pairs:
        if kind not in KINDS:
            raise ValueError(f"feature {name!r} has kind {kind!r}, not one of {KINDS}")

    drifts, only_reference, only_current = [], [], []
    for name, kind in pairs:
        in_ref, in_cur = name in reference.columns, name in current.columns
        if not (in_ref and in_cur):
            if in_ref:
                only_reference.append(name)
            elif in_cur:
                only_current.append(name)
            continue
        drifts.append(_feature(name, kind, reference[name], current[name]))

    ref_pos = int((reference[label] == positive).sum())
    cur_pos = int((current[label] == positive).sum())
    n_ref, n_cur = len(reference), len(current)
    rate_flagged, rate_p = positive_rate_changed(ref_pos, n_ref, cur_pos, n_cur)
    return DriftReport(
        reference_rows=n_ref,
        current_rows=n_cur,
        reference_positives=ref_pos,
        current_positives=cur_pos,
        reference_positive_rate=_round(ref_pos / n_ref if n_ref else None, 6),
        current_positive_rate=_round(cur_pos / n_cur if n_cur else None, 6),
        positive_rate_flagged=rate_flagged,
        positive_rate_pvalue=_significant(rate_p),
        features=tuple(drifts),
        only_reference=tuple(only_reference),
        only_current=tuple(only_current),
    )


def _feature(name: str, kind: str, reference: pd.Series, current: pd.Series) -> FeatureDrift:
    psi = ks = pvalue = None
    if kind == "numeric":
        ref, cur = _numbers(reference), _numbers(current)
        n_ref, n_cur = len(ref), len(cur)
        if n_ref and n_cur:
            psi = _numeric_psi(ref, cur, BINS)
            result = stats.ks_2samp(ref, cur)
            ks, pvalue = float(result.statistic), float(result.pvalue)
    else:
        ref_counts, n_ref = _category_counts(reference)
        cur_counts, n_cur = _category_counts(current)
        if n_ref and n_cur:
            psi = _categorical_psi(ref_counts, n_ref, cur_counts, n_cur)
        # Missing values are a category here (in PSI); their share is reported too.
        n_ref -= ref_counts.get(None, 0)
        n_cur -= cur_counts.get(None, 0)
    one_sided = bool(n_ref) != bool(n_cur)
    return FeatureDrift(
        name=name,
        kind=kind,
        psi=_round(psi, 4),
        ks=_round(ks, 4),
        ks_pvalue=_significant(pvalue),
        flagged=one_sided or (psi is not None and psi > PSI_FLAG),
        reference_missing=_missing_share(n_ref, len(reference)),
        current_missing=_missing_share(n_cur, len(current)),
    )


def _missing_share(present: int, rows: int) -> float:
    return round(1 - present / rows, 6) if rows else 0.0


def _round(value: float | None, digits: int) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _significant(value: float | None, digits: int = 3) -> float | None:
    """Round to `digits` significant digits (p-values span many orders of magnitude)."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _pvalue_text(value: float | None) -> str:
    """Return a p-value as text; one too small for a float (0.0) as a bound, not as 0."""
    if value is None:
        return "n/a"
    return "< 1e-300" if value == 0 else format(value, ".3g")


def _percent(rate: float | None) -> str:
    if rate is None:
        return "n/a"
    percent = 100 * rate
    return f"{percent:.1f}%" if percent >= 1 or percent == 0 else f"{percent:.2g}%"

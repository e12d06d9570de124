"""The champion gate's decision as a record: whom it compared, on which rows, and why.

`Decision` is what `imbalance.selection.champion.decide` proposes and `settle` makes
final, written into the manifest under "champion" (`to_json`) and read back
(`Decision.from_json`; version 0, written before this record, too). `Comparison` is
the paired bootstrap's result, kept here so that reading a decision needs no numpy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from imbalance.selection.records import (
    VERSION_KEY,
    RecordError,
    optional_float,
    optional_str,
    required,
    versioned,
)

DECISION_VERSION = 1


def _rule_of_version_0(promoted: bool, champion: Any) -> str:
    """A decision written before rules were named: only "first" or "superior" promoted."""
    if promoted:
        return "superior" if champion else "first"
    return "kept" if champion else "refused"


@dataclass(frozen=True)
class Comparison:
    """Two scorers' metric on the same rows, and their difference's bootstrap interval.

    `candidate`, `incumbent`, `difference` (candidate - incumbent) on all rows; `low`,
    `high` the percentile interval of the difference at `confidence`.
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

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Comparison:
        kind = "decision comparison"
        return cls(
            metric=str(required(kind, data, "metric")),
            **{
                name: float(required(kind, data, name))
                for name in ("candidate", "incumbent", "difference", "low", "high", "confidence")
            },
            **{name: int(required(kind, data, name)) for name in ("resamples", "positives")},
            rows=int(required(kind, data, "rows")),
        )


@dataclass(frozen=True)
class Candidate:
    """The run's chosen variant: its mean validation score, and its score on the gate rows."""

    run_id: str
    variant: str
    score: float  # mean validation `metric` over seeds: what it was chosen by
    gate_score: float | None = None  # its final model's `metric` on the gate rows
    threshold: float | None = None
    as_of: str | None = None  # the as-of time of its data
    trained_rows: str | None = None  # the digest of its training rows' keys

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Candidate:
        kind = "decision candidate"
        return cls(
            run_id=str(required(kind, data, "run_id")),
            variant=str(required(kind, data, "variant")),
            score=float(required(kind, data, "score")),
            gate_score=optional_float(data.get("gate_score")),
            threshold=optional_float(data.get("threshold")),
            as_of=optional_str(data.get("as_of")),
            trained_rows=optional_str(data.get("trained_rows")),
        )


@dataclass(frozen=True)
class Incumbent:
    """The champion as this run's gate saw it.

    `recorded_metric`, `recorded_score`: what champion.json says of it; `score`: its
    final model's metric on this run's gate rows at its `threshold`; `as_of`,
    `trained_rows`: the digest of its training rows' keys; `trained_on_gate`: how many of the
    gate rows its run trained on (None: unknown). `error`: why it could not be
    checked or scored (then `run_id` and `variant` are None if champion.json could
    not be read at all).
    """

    run_id: str | None = None
    variant: str | None = None
    recorded_metric: str | None = None
    recorded_score: float | None = None
    score: float | None = None
    threshold: float | None = None
    as_of: str | None = None
    trained_rows: str | None = None
    trained_on_gate: int | None = None
    error: str | None = None

    @property
    def holder(self) -> tuple[str | None, str | None]:
        return self.run_id, self.variant

    def text(self) -> str:
        return f"{self.run_id or '?'}/{self.variant or '?'}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Incumbent:
        trained = data.get("trained_on_gate")
        return cls(
            run_id=optional_str(data.get("run_id")),
            variant=optional_str(data.get("variant")),
            recorded_metric=optional_str(data.get("recorded_metric")),
            recorded_score=optional_float(data.get("recorded_score")),
            score=optional_float(data.get("score")),
            threshold=optional_float(data.get("threshold")),
            as_of=optional_str(data.get("as_of")),
            trained_rows=optional_str(data.get("trained_rows")),
            trained_on_gate=None if trained is None else int(trained),
            error=optional_str(data.get("error")),
        )


@dataclass(frozen=True)
class Decision:
    """Whether a run's candidate replaces the champion, and why: one sentence in `reason`.

    `rule` names the part of the rule that decided ("first", "superior",
    "non-inferior", "kept", "refused"); `comparison` is the paired bootstrap of the
    candidate's final model against the champion's on the gate rows, when one was
    made; `gate_rows`, `gate_positives` what it rests on.
    """

    metric: str
    min_improvement: float
    margin: float
    candidate: Candidate | None
    champion: Incumbent | None
    promoted: bool
    reason: str
    rule: str = "refused"
    comparison: Comparison | None = None
    gate_rows: int | None = None
    gate_positives: int | None = None
    min_positives: int | None = None

    @property
    def improvement(self) -> float | None:
        return None if self.comparison is None else self.comparison.difference

    def with_verdict(self, promoted: bool, reason: str, rule: str | None = None) -> Decision:
        """Return this decision with another outcome (a proposal settled or overruled)."""
        return replace(self, promoted=promoted, reason=reason, rule=rule or self.rule)

    def to_json(self) -> dict[str, Any]:
        """Return the manifest's "champion" entry."""
        comparison = None if self.comparison is None else asdict(self.comparison)
        return {
            VERSION_KEY: DECISION_VERSION,
            "metric": self.metric,
            "min_improvement": self.min_improvement,
            "margin": self.margin,
            "candidate": None if self.candidate is None else self.candidate.to_json(),
            "champion": None if self.champion is None else self.champion.to_json(),
            "comparison": comparison,
            "improvement": self.improvement,
            "interval": None if comparison is None else [comparison["low"], comparison["high"]],
            "gate_rows": self.gate_rows,
            "gate_positives": self.gate_positives,
            "min_positives": self.min_positives,
            "rule": self.rule,
            "promoted": self.promoted,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Any) -> Decision:
        """Return the record of a manifest's "champion" entry, of any version this reads.

        Version 0 (before this record) kept the comparison inside the champion entry.
        """
        kind = "decision"
        data = versioned(kind, DECISION_VERSION, data)
        candidate, champion = data.get("candidate"), data.get("champion")
        promoted = required(kind, data, "promoted")
        if not isinstance(promoted, bool):
            raise RecordError(f"{kind}: promoted is {promoted!r}, not true or false")
        if promoted and candidate is None:
            raise RecordError(f"{kind}: promoted, but it names no candidate")
        comparison = data.get("comparison") or (champion or {}).get("comparison")
        return cls(
            metric=str(required(kind, data, "metric")),
            min_improvement=float(required(kind, data, "min_improvement")),
            margin=float(data.get("margin", 0.0)),
            candidate=None if candidate is None else Candidate.from_json(candidate),
            champion=None if champion is None else Incumbent.from_json(champion),
            promoted=promoted,
            reason=str(required(kind, data, "reason")),
            rule=str(data.get("rule") or _rule_of_version_0(promoted, champion)),
            comparison=None if comparison is None else Comparison.from_json(comparison),
            gate_rows=data.get("gate_rows"),
            gate_positives=data.get("gate_positives"),
            min_positives=data.get("min_positives"),
        )

"""The selection stage's records: what a run chose on validation, and the gate's decision.

`Selection` is made by `imbalance.selection.choices.choose` and written to selection.json;
`Decision` is what `imbalance.selection.champion.decide` proposes and `settle` makes
final, written into the manifest under "champion". Each is a frozen dataclass whose
JSON is written from it (`to_json`) and read back into it (`from_json`, which names
the record and the field when one is wrong). Both carry a `schema_version`; JSON written
before they had one (version 0) has the same fields and still reads, and a version
newer than this code knows is refused rather than guessed at. Numpy-free, so reading
a run needs no numpy or scikit-learn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, NamedTuple

VERSION_KEY = "schema_version"
SELECTION_VERSION = 1
DECISION_VERSION = 1
METRICS = ("pr_auc", "roc_auc", "precision", "recall", "f1")  # = selection.metrics.METRICS


class RecordError(ValueError):
    """A record's JSON cannot be read into its type; the message names the record and field."""


def versioned(kind: str, newest: int, data: Any) -> Mapping[str, Any]:
    """Return `data` once its schema version is one this code reads (RecordError if not)."""
    if not isinstance(data, Mapping):
        raise RecordError(f"{kind}: expected a JSON object, got {type(data).__name__}")
    version = data.get(VERSION_KEY, 0)
    if not isinstance(version, int) or not 0 <= version <= newest:
        raise RecordError(
            f"{kind}: schema_version {version!r} is not one this version reads (0 to {newest})"
        )
    return data


def required(kind: str, data: Mapping[str, Any], name: str) -> Any:
    try:
        return data[name]
    except KeyError:
        raise RecordError(f"{kind}: missing field {name!r}") from None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def class_weight_from_json(value: Any) -> dict[int, float] | None:
    """Return class weights with int keys: JSON turns {0: 1.0} into {"0": 1.0}."""
    return None if value is None else {int(k): float(v) for k, v in value.items()}


def _rule_of_version_0(promoted: bool, champion: Any) -> str:
    """A decision written before rules were named: only "first" or "superior" promoted."""
    if promoted:
        return "superior" if champion else "first"
    return "kept" if champion else "refused"


# --- the selection result -------------------------------------------------------------------


class Spread(NamedTuple):
    """A metric's mean and sample standard deviation over seeds (None: undefined).

    A tuple, so its JSON is `[mean, std]`, as selection.json always had it.
    """

    mean: float | None
    std: float | None

    @classmethod
    def from_json(cls, value: Any) -> Spread:
        mean, std = value
        return cls(_float(mean), _float(std))


@dataclass(frozen=True)
class ConfigurationChoice:
    """One configuration (a variant or a swept weight) as chosen on validation.

    `threshold`: its train_seed blind member's, by the configured policy (`why`: the
    report's sentence); each metric: mean ± std over the `seeds` at their thresholds.
    """

    threshold: float
    why: str
    class_weight: dict[int, float] | None
    seeds: tuple[int, ...]
    pr_auc: Spread
    roc_auc: Spread
    precision: Spread
    recall: Spread
    f1: Spread

    def spread(self, metric: str) -> Spread:
        """Return one metric's spread by its name (`selection.metric`)."""
        if metric not in METRICS:
            raise KeyError(metric)
        return getattr(self, metric)

    def to_json(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "why": self.why,
            "class_weight": self.class_weight,
            "seeds": list(self.seeds),
        } | {m: list(self.spread(m)) for m in METRICS}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConfigurationChoice:
        kind = "selection.json configuration"
        return cls(
            threshold=float(required(kind, data, "threshold")),
            why=str(required(kind, data, "why")),
            class_weight=class_weight_from_json(required(kind, data, "class_weight")),
            seeds=tuple(int(s) for s in required(kind, data, "seeds")),
            **{m: Spread.from_json(required(kind, data, m)) for m in METRICS},
        )


@dataclass(frozen=True)
class SweepPoint:
    """One swept minority weight (class 0 weighs 1) and its validation results."""

    name: str  # the configuration's name, `w=<weight>`
    weight: float
    pr_auc: Spread
    recall: Spread
    precision: Spread

    def to_json(self) -> dict[str, Any]:
        return {
            "weight": self.weight,
            "pr_auc": list(self.pr_auc),
            "recall": list(self.recall),
            "precision": list(self.precision),
            "name": self.name,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SweepPoint:
        kind = "selection.json sweep point"
        return cls(
            name=str(required(kind, data, "name")),
            weight=float(required(kind, data, "weight")),
            **{
                m: Spread.from_json(required(kind, data, m))
                for m in ("pr_auc", "recall", "precision")
            },
        )


@dataclass(frozen=True)
class Selection:
    """The run's choices on validation: thresholds, the tuned weight, the candidate.

    `configurations` holds every configuration chosen from, and `tuned` (the same
    choice as its swept weight's) when the sweep ran; `variants`: the final variants
    in order, `tuned` last; `candidate`: the one of best mean `metric`; `rows`,
    `positives`: the validation rows the choices rest on; `skipped`: blind members
    left out because their scores were not finite.
    """

    configurations: Mapping[str, ConfigurationChoice]
    sweep: tuple[SweepPoint, ...]
    tuned_weight: float | None
    variants: tuple[str, ...]
    candidate: str
    metric: str
    rows: int
    positives: int
    skipped: tuple[str, ...] = ()

    def thresholds(self) -> dict[str, float]:
        """Return the threshold of each final variant, in order: what the manifest records."""
        return {v: self.configurations[v].threshold for v in self.variants}

    def score(self, variant: str) -> float | None:
        """Return a final variant's mean validation `metric`."""
        return self.configurations[variant].spread(self.metric).mean

    def to_json(self) -> dict[str, Any]:
        return {
            VERSION_KEY: SELECTION_VERSION,
            "configurations": {n: c.to_json() for n, c in self.configurations.items()},
            "sweep": [p.to_json() for p in self.sweep],
            "tuned_weight": self.tuned_weight,
            "variants": list(self.variants),
            "candidate": self.candidate,
            "metric": self.metric,
            "rows": self.rows,
            "positives": self.positives,
            "skipped": list(self.skipped),
        }

    @classmethod
    def from_json(cls, data: Any) -> Selection:
        kind = "selection.json"
        data = versioned(kind, SELECTION_VERSION, data)
        return cls(
            configurations={
                str(name): ConfigurationChoice.from_json(c)
                for name, c in required(kind, data, "configurations").items()
            },
            sweep=tuple(SweepPoint.from_json(p) for p in required(kind, data, "sweep")),
            tuned_weight=_float(required(kind, data, "tuned_weight")),
            variants=tuple(str(v) for v in required(kind, data, "variants")),
            candidate=str(required(kind, data, "candidate")),
            metric=str(required(kind, data, "metric")),
            rows=int(required(kind, data, "rows")),
            positives=int(required(kind, data, "positives")),
            skipped=tuple(str(s) for s in data.get("skipped", ())),
        )


# --- the champion decision ------------------------------------------------------------------


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
            gate_score=_float(data.get("gate_score")),
            threshold=_float(data.get("threshold")),
            as_of=_str(data.get("as_of")),
            trained_rows=_str(data.get("trained_rows")),
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
            run_id=_str(data.get("run_id")),
            variant=_str(data.get("variant")),
            recorded_metric=_str(data.get("recorded_metric")),
            recorded_score=_float(data.get("recorded_score")),
            score=_float(data.get("score")),
            threshold=_float(data.get("threshold")),
            as_of=_str(data.get("as_of")),
            trained_rows=_str(data.get("trained_rows")),
            trained_on_gate=None if trained is None else int(trained),
            error=_str(data.get("error")),
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

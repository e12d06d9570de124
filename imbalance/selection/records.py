"""The selection stage's records: what a run chose on validation (the gate's: `decision`).

`Selection` is made by `imbalance.selection.choices.choose` and written to selection.json;
`imbalance.selection.decision.Decision` is what the gate decided, written into the
manifest under "champion". Each is a frozen dataclass whose
JSON is written from it (`to_json`) and read back into it (`from_json`, which names
the record and the field when one is wrong). Both carry a `schema_version`; JSON written
before they had one (version 0) has the same fields and still reads, and a version
newer than this code knows is refused rather than guessed at. Numpy-free, so reading
a run needs no numpy or scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

VERSION_KEY = "schema_version"
SELECTION_VERSION = 1
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


def optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def class_weight_from_json(value: Any) -> dict[int, float] | None:
    """Return class weights with int keys: JSON turns {0: 1.0} into {"0": 1.0}."""
    return None if value is None else {int(k): float(v) for k, v in value.items()}


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
        return cls(optional_float(mean), optional_float(std))


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

    def standard_error(self, metric: str) -> float:
        """Return the standard error of the mean `metric` over the seeds (0: one seed)."""
        std = self.spread(metric).std
        n = len(self.seeds)
        return 0.0 if std is None or n < 2 else std / n**0.5

    def lower_bound(self, metric: str) -> float:
        """Return what a configuration is chosen by: its mean `metric` less one standard error.

        The spread-aware rule: a noisy configuration whose mean is a little higher does
        not beat a steady one, because over other seeds it may well be lower; one
        measured from a single seed has no spread to count (its mean).
        """
        mean = self.spread(metric).mean
        return -math.inf if mean is None else mean - self.standard_error(metric)

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
            tuned_weight=optional_float(required(kind, data, "tuned_weight")),
            variants=tuple(str(v) for v in required(kind, data, "variants")),
            candidate=str(required(kind, data, "candidate")),
            metric=str(required(kind, data, "metric")),
            rows=int(required(kind, data, "rows")),
            positives=int(required(kind, data, "positives")),
            skipped=tuple(str(s) for s in data.get("skipped", ())),
        )

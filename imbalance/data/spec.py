"""What a run's data is: its label, which value of it is the rare class, its features.

A `DataSpec` is decided once, when the data is read and checked (`checks.py`), and
travels with the run from then on: the split, the trainer, the saved model's inputs,
`imbalance predict` and the champion check all read their columns from it. It is
small and JSON-able: the manifest keeps it (`data.spec`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["numeric", "categorical"]
Scalar = str | int | float | bool


class DataError(ValueError):
    """The data cannot support the run; the message is one line naming the problem."""


@dataclass(frozen=True)
class Feature:
    """One input column of the model: numeric (standardised) or categorical (one-hot)."""

    name: str
    kind: Kind


@dataclass(frozen=True)
class DataSpec:
    """The label column, its two values (`positive` is class 1), the features in order.

    `scale`: whether the saved model standardises numeric columns and one-hot
    encodes categorical ones itself. Off for the tutorial's generated data, which the
    tutorial feeds as it is (its pinned results depend on that); on for a file source.
    """

    label: str
    positive: Scalar
    negative: Scalar
    features: tuple[Feature, ...]
    scale: bool

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def numeric(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "numeric"]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "categorical"]

    def target(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the 0/1 class of each row (1 where the label is the positive value)."""
        return (frame[self.label] == self.positive).to_numpy(dtype=np.int8)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "positive": self.positive,
            "negative": self.negative,
            "features": [{"name": f.name, "kind": f.kind} for f in self.features],
            "scale": self.scale,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DataSpec:
        """Return the spec a manifest recorded; raise DataError if it is not one."""
        try:
            features = tuple(Feature(f["name"], f["kind"]) for f in data["features"])
            spec = cls(data["label"], data["positive"], data["negative"], features, data["scale"])
        except (KeyError, TypeError) as exc:
            raise DataError(f"not a data spec (missing {exc})") from None
        if not features or any(f.kind not in ("numeric", "categorical") for f in features):
            raise DataError("not a data spec (no features, or a feature of unknown kind)")
        return spec


# The tutorial's generated data, fed to the network as it is (no scaling inside the
# model), as the tutorial does: its pinned results depend on that.
GENERATOR_SPEC = DataSpec(
    label="label",
    positive=1,
    negative=0,
    features=(Feature("x1", "numeric"), Feature("x2", "numeric")),
    scale=False,
)


def recorded_spec(manifest: dict[str, Any]) -> DataSpec:
    """Return the spec a run's manifest recorded (runs from before there was one: the tutorial's).

    Raises DataError if the manifest's record is not a spec.
    """
    data = manifest.get("data")
    if data is None:
        return GENERATOR_SPEC
    if not isinstance(data, dict) or not isinstance(data.get("spec"), dict):
        raise DataError("its manifest's data record has no spec")
    return DataSpec.from_json(data["spec"])


def same_task(a: DataSpec, b: DataSpec) -> str | None:
    """Return why models of spec `a` and `b` cannot be compared, or None if they can."""
    if (a.label, a.positive) != (b.label, b.positive):
        return f"it predicts {a.label} = {a.positive!r}, this run {b.label} = {b.positive!r}"
    if a.features != b.features:
        names = ", ".join(f"{f.name} ({f.kind})" for f in a.features)
        return f"it reads other feature columns ({names})"
    return None


def plain(value: Any) -> Scalar:
    """Return a label value as a plain Python scalar (numpy's become JSON-able)."""
    return value.item() if isinstance(value, np.generic) else value


# A categorical column's missing value, as the model sees it (one category of its own).
MISSING = ""


def as_text(values: pd.Series) -> np.ndarray:
    """Return a categorical column as the strings the model one-hot encodes (object array).

    Whole numbers read as floats (a column of ints with one gap becomes float) are
    written as ints, so 3 and 3.0 are one category whichever way a file was read.
    """
    import pandas as pd

    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna()
        if len(finite) and bool((finite == finite.round()).all()) and finite.abs().max() < 2**53:
            values = values.astype("Int64")
    return values.astype("string").fillna(MISSING).to_numpy(dtype=object)

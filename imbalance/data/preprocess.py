"""What the saved model does to raw rows before its dense layers, fitted on the training part.

Numeric columns are standardised with the training part's mean and variance, and
categorical ones one-hot encoded over the training part's values (plus one slot for
a value never seen there), in this order: the numeric block, then each categorical
column, as the spec lists them. The statistics are computed here with numpy, not by
Keras's `adapt`: they are then small, picklable values that any worker can apply
itself (`transform`, for training), that the manifest records, and that the Keras
layers of the saved model are built from (`imbalance.model.network.with_preprocessing`:
`Normalization(mean, variance)`, `StringLookup(vocabulary, output_mode="one_hot")`).
Both give the same numbers (tests/model/test_preprocessing.py). Only the training
part is ever seen here, so nothing of the test part leaks into the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from imbalance.data.spec import DataSpec, as_text

# Keras's Normalization divides by max(sqrt(variance), epsilon): its backend epsilon.
EPSILON = 1e-7


@dataclass(frozen=True)
class Preprocessing:
    """The spec, and the training part's statistics that turn its rows into model inputs."""

    spec: DataSpec
    mean: tuple[float, ...]  # of each numeric feature, in spec order
    variance: tuple[float, ...]
    vocabularies: tuple[tuple[str, ...], ...]  # of each categorical feature, in spec order

    @property
    def width(self) -> int:
        """Columns of the dense layers' input: one per numeric, one-hot slots per categorical."""
        return len(self.spec.numeric) + sum(len(v) + 1 for v in self.vocabularies)

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_json(),
            "mean": list(self.mean),
            "variance": list(self.variance),
            "vocabularies": {
                name: list(vocab)
                for name, vocab in zip(self.spec.categorical, self.vocabularies, strict=True)
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Preprocessing:
        spec = DataSpec.from_json(data["spec"])
        vocabularies = tuple(tuple(data["vocabularies"][c]) for c in spec.categorical)
        return cls(spec, tuple(data["mean"]), tuple(data["variance"]), vocabularies)


def fit_preprocessing(train: pd.DataFrame, spec: DataSpec) -> Preprocessing:
    """Return the statistics of the training part (and of nothing else) for `spec`.

    Without `spec.scale` numeric columns pass as they are (mean 0, variance 1: the
    tutorial's generated data). A column constant in the training part gets variance
    1, not 0: it then maps to 0 and a new value to a finite number, not to ~1e7 times
    its difference. Vocabularies are ordered by count, then by value: a fixed order.
    """
    numeric = train[spec.numeric].to_numpy(dtype=np.float64)
    if spec.scale and len(train):
        mean = numeric.mean(axis=0)
        variance = numeric.var(axis=0)  # population variance, as Normalization.adapt
        variance[variance == 0] = 1.0
    else:
        mean, variance = np.zeros(numeric.shape[1]), np.ones(numeric.shape[1])
    vocabularies = []
    for column in spec.categorical:
        counts = pd.Series(as_text(train[column])).value_counts(sort=False)
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        vocabularies.append(tuple(str(value) for value, _ in ordered))
    return Preprocessing(
        spec, tuple(float(m) for m in mean), tuple(float(v) for v in variance), tuple(vocabularies)
    )


def transform(frame: pd.DataFrame, prep: Preprocessing) -> np.ndarray:
    """Return the float32 matrix the dense layers see for `frame`'s rows (as the model does)."""
    blocks = []
    spec = prep.spec
    if spec.numeric:
        x = frame[spec.numeric].to_numpy(dtype=np.float32)
        if spec.scale:
            mean = np.asarray(prep.mean, dtype=np.float32)
            scale = np.maximum(np.sqrt(np.asarray(prep.variance, dtype=np.float32)), EPSILON)
            x = (x - mean) / scale.astype(np.float32)
        blocks.append(x)
    for column, vocab in zip(spec.categorical, prep.vocabularies, strict=True):
        index = {value: i + 1 for i, value in enumerate(vocab)}  # 0: a value not seen
        codes = np.fromiter((index.get(v, 0) for v in as_text(frame[column])), dtype=np.int64)
        blocks.append(np.eye(len(vocab) + 1, dtype=np.float32)[codes])
    if len(blocks) == 1:
        return np.ascontiguousarray(blocks[0])
    return np.concatenate(blocks, axis=1)


def model_inputs(frame: pd.DataFrame, spec: DataSpec) -> list[np.ndarray]:
    """Return the saved model's inputs for raw rows: one (n, 1) array per feature, in order.

    Numeric columns as float32, categorical ones as text (`as_text`), exactly as
    training saw them. The caller checks the values first (`imbalance predict`).
    """
    inputs = []
    for feature in spec.features:
        if feature.kind == "numeric":
            inputs.append(frame[feature.name].to_numpy(dtype=np.float32).reshape(-1, 1))
        else:
            inputs.append(as_text(frame[feature.name]).astype(str).reshape(-1, 1))
    return inputs

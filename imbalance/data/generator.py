"""The tutorial's generated data: the default source of a run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.datasets import make_classification

from imbalance.config import RetrainConfig
from imbalance.data.spec import GENERATOR_SPEC

__all__ = ["DATASET_SCHEMA", "GENERATOR_SPEC", "generation_metadata", "make_dataset"]

DATASET_SCHEMA = pa.schema([("x1", pa.float64()), ("x2", pa.float64()), ("label", pa.int8())])


def make_dataset(cfg: RetrainConfig) -> pd.DataFrame:
    """Return the tutorial's two-feature data set, as `make_classification` draws it."""
    x, y = make_classification(
        n_samples=cfg.generator.n_samples,
        n_features=2,
        n_informative=2,
        n_redundant=0,
        n_repeated=0,
        n_classes=2,
        n_clusters_per_class=1,
        weights=[1 - cfg.generator.minority_fraction, cfg.generator.minority_fraction],
        class_sep=cfg.generator.class_sep,
        random_state=cfg.generator.seed,
    )
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "label": y.astype(np.int8)})


def generation_metadata(cfg: RetrainConfig) -> dict:
    """Return what the generated data depends on, stored in its Parquet files."""
    return cfg.generator.model_dump(exclude={"nightly_data"}) | {
        "source": "sklearn.datasets.make_classification"
    }


def features_and_labels(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return generated rows as the network trains on them: (x1, x2) as float32, the labels.

    What `preprocess.transform` gives for GENERATOR_SPEC (no scaling); for benchmarks
    and tests that train the dense network alone.
    """
    return frame[["x1", "x2"]].to_numpy(np.float32), frame["label"].to_numpy(np.float32)

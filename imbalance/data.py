"""The tutorial's data and its split: pure functions on frames, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

from imbalance.config import RetrainConfig
from imbalance.scoring import LABEL

DATASET_SCHEMA = pa.schema([("x1", pa.float64()), ("x2", pa.float64()), ("label", pa.int8())])


class DataError(ValueError):
    """The data cannot support the run (for example no minority row to learn from)."""


@dataclass(frozen=True)
class SplitCounts:
    """Row and minority counts of both parts; what the flow passes on instead of data."""

    train_rows: int
    train_minority: int
    test_rows: int
    test_minority: int


def make_dataset(cfg: RetrainConfig) -> pd.DataFrame:
    """Return the tutorial's two-feature data set, as `make_classification` draws it."""
    x, y = make_classification(
        n_samples=cfg.n_samples,
        n_features=2,
        n_informative=2,
        n_redundant=0,
        n_repeated=0,
        n_classes=2,
        n_clusters_per_class=1,
        weights=[1 - cfg.minority_fraction, cfg.minority_fraction],
        class_sep=cfg.class_sep,
        random_state=cfg.data_seed,
    )
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "label": y.astype(np.int8)})


def split_frame(frame: pd.DataFrame, cfg: RetrainConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (train, test) as the tutorial splits them; refuse a split with no minority row."""
    labels = frame[LABEL]
    minority = int(labels.sum())
    if cfg.stratify and minority < 2:
        raise DataError(
            f"cannot stratify: the data has {minority} minority row(s), at least 2 needed"
        )
    train, test = train_test_split(
        frame,
        test_size=cfg.test_size,
        random_state=cfg.split_seed,
        stratify=labels if cfg.stratify else None,
    )
    if int(train[LABEL].sum()) == 0:
        hint = "set stratify" if minority >= 2 else "raise n_samples or minority_fraction"
        raise DataError(
            f"the training split has no minority example ({minority} in all "
            f"{len(frame)} rows): {hint}"
        )
    return train, test


def count_split(train: pd.DataFrame, test: pd.DataFrame) -> SplitCounts:
    """Return the row and minority counts of a split."""
    return SplitCounts(
        train_rows=len(train),
        train_minority=int(train[LABEL].sum()),
        test_rows=len(test),
        test_minority=int(test[LABEL].sum()),
    )


def generation_metadata(cfg: RetrainConfig) -> dict:
    """Return what the generated data depends on, stored in its Parquet files."""
    return cfg.model_dump(
        include={
            "n_samples",
            "minority_fraction",
            "class_sep",
            "data_seed",
            "test_size",
            "split_seed",
            "stratify",
        }
    ) | {"source": "sklearn.datasets.make_classification"}

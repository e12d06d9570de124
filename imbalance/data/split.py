"""The train/test split of a run's rows: a pure function of the frame and the config."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from imbalance.config import RetrainConfig
from imbalance.data.spec import DataError, DataSpec


@dataclass(frozen=True)
class SplitCounts:
    """Row and minority counts of both parts; what the flow passes on instead of data."""

    train_rows: int
    train_minority: int
    test_rows: int
    test_minority: int


def split_frame(
    frame: pd.DataFrame, cfg: RetrainConfig, spec: DataSpec
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (train, test) as the tutorial splits them.

    Refused (DataError) when either part has no minority row: a model cannot learn
    the class without one, nor be measured on it.
    """
    from sklearn.model_selection import train_test_split  # ~2 s to import: only when used

    labels = spec.target(frame)
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
    hint = "set stratify" if minority >= 2 and not cfg.stratify else "more rows are needed"
    for part, rows in (("training", train), ("test", test)):
        if int(spec.target(rows).sum()) == 0:
            raise DataError(
                f"the {part} split has no minority example ({minority} in all "
                f"{len(frame)} rows): {hint}"
            )
    return train, test


def count_split(train: pd.DataFrame, test: pd.DataFrame, spec: DataSpec) -> SplitCounts:
    """Return the row and minority counts of a split."""
    return SplitCounts(
        train_rows=len(train),
        train_minority=int(spec.target(train).sum()),
        test_rows=len(test),
        test_minority=int(spec.target(test).sum()),
    )

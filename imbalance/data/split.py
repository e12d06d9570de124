"""The train/test split of a run's rows: a pure function of the frame and the config."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
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
    validation_rows: int = 0  # of the training part, held out for choosing
    validation_minority: int = 0


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


def count_split(
    train: pd.DataFrame,
    test: pd.DataFrame,
    spec: DataSpec,
    validation: np.ndarray | None = None,
) -> SplitCounts:
    """Return the row and minority counts of a split (and of the validation rows)."""
    held = np.zeros(0, np.int64) if validation is None else validation
    return SplitCounts(
        train_rows=len(train),
        train_minority=int(spec.target(train).sum()),
        test_rows=len(test),
        test_minority=int(spec.target(test).sum()),
        validation_rows=len(held),
        validation_minority=int(spec.target(train.iloc[held]).sum()),
    )


def validation_rows(train: pd.DataFrame, cfg: RetrainConfig, spec: DataSpec) -> np.ndarray:
    """Return the sorted positions of the training part's rows held out for choosing.

    A stratified share `cfg.validation_size` (the class ratio kept), drawn with the
    split's seed. The final models still train on the whole training part; only the
    models choices are made with are blind to these rows (`Member.blind`).
    """
    from sklearn.model_selection import train_test_split

    labels = spec.target(train)
    minority = int(labels.sum())
    if minority < 2:
        raise DataError(
            f"the training split has {minority} minority row(s): at least 2 are needed to "
            "hold some out for validation; more rows are needed"
        )
    try:
        _, held = train_test_split(
            np.arange(len(train)),
            test_size=cfg.validation_size,
            random_state=cfg.split_seed,
            stratify=labels,
        )
    except ValueError as exc:  # too few rows for the share asked
        raise DataError(f"cannot hold out a validation part: {exc}") from None
    held_minority = int(labels[held].sum())
    if held_minority == 0 or held_minority == len(held):
        raise DataError(
            f"the validation part ({len(held)} rows) has {held_minority} minority row(s): "
            "both classes are needed to choose on it; raise validation_size or give more rows"
        )
    return np.sort(held)

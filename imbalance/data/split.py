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
    gate_rows: int = 0  # of the validation rows, kept for the champion gate
    gate_minority: int = 0
    test_from: str = ""  # a time split's: the oldest time in the test part (ISO 8601)


def split_frame(
    frame: pd.DataFrame, cfg: RetrainConfig, spec: DataSpec, times: pd.Series | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (train, test) as the tutorial splits them, or by time (`cfg.holdout.kind` "time").

    Refused (DataError) when either part has no minority row: a model cannot learn
    the class without one, nor be measured on it.
    """
    labels = spec.target(frame)
    minority = int(labels.sum())
    if cfg.holdout.kind == "time":
        if times is None:
            raise ValueError("a time split needs the rows' times")
        train, test = time_split(frame, times, cfg.holdout.test_size)
        hint = "raise holdout.test_size, or give more rows (a wider window)"
        _refuse_without_minority(frame, train, test, spec, hint)
        return train, test
    from sklearn.model_selection import train_test_split  # ~2 s to import: only when used

    if cfg.holdout.stratify and minority < 2:
        raise DataError(
            f"cannot stratify: the data has {minority} minority row(s), at least 2 needed"
        )
    train, test = train_test_split(
        frame,
        test_size=cfg.holdout.test_size,
        random_state=cfg.holdout.seed,
        stratify=labels if cfg.holdout.stratify else None,
    )
    hint = (
        "set holdout.stratify"
        if minority >= 2 and not cfg.holdout.stratify
        else "more rows are needed"
    )
    _refuse_without_minority(frame, train, test, spec, hint)
    return train, test


def time_split(
    frame: pd.DataFrame, times: pd.Series, test_size: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (train, test): the test part is the newest `holdout.test_size` share of the rows.

    Rows with the same time stay together, on the test side: no row of the test
    part is older than any row of the training part. Both parts keep time order.
    """
    stamps = times.to_numpy(dtype="datetime64[ns]") if times.dt.tz else times.to_numpy()
    order = np.argsort(stamps, kind="stable")
    n_test = max(1, int(np.ceil(test_size * len(frame))))
    cutoff = stamps[order[len(order) - n_test]]
    newest = stamps >= cutoff
    if newest.all():
        raise DataError(
            f"a time split needs rows of more than one time: the newest {n_test} row(s) of "
            f"{len(frame)} share the time {pd.Timestamp(cutoff)} with all the others"
        )
    keep = order[~newest[order]], order[newest[order]]
    return frame.iloc[keep[0]], frame.iloc[keep[1]]


def _refuse_without_minority(
    frame: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame, spec: DataSpec, hint: str
) -> None:
    minority = int(spec.target(frame).sum())
    for part, rows in (("training", train), ("test", test)):
        if int(spec.target(rows).sum()) == 0:
            raise DataError(
                f"the {part} split has no minority example ({minority} in all "
                f"{len(frame)} rows): {hint}"
            )


def count_split(
    train: pd.DataFrame,
    test: pd.DataFrame,
    spec: DataSpec,
    validation: np.ndarray | None = None,
    gate: np.ndarray | None = None,
) -> SplitCounts:
    """Return the row and minority counts of a split (and of the validation and gate rows)."""
    held = np.zeros(0, np.int64) if validation is None else validation
    gated = np.zeros(0, np.int64) if gate is None else gate
    return SplitCounts(
        train_rows=len(train),
        train_minority=int(spec.target(train).sum()),
        test_rows=len(test),
        test_minority=int(spec.target(test).sum()),
        validation_rows=len(held),
        validation_minority=int(spec.target(train.iloc[held]).sum()),
        gate_rows=len(gated),
        gate_minority=int(spec.target(train.iloc[gated]).sum()),
    )


def validation_rows(train: pd.DataFrame, cfg: RetrainConfig, spec: DataSpec) -> np.ndarray:
    """Return the sorted positions of the training part's rows held out for choosing.

    A stratified share `cfg.holdout.validation_size` (the class ratio kept), drawn with the
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
            test_size=cfg.holdout.validation_size,
            random_state=cfg.holdout.seed,
            stratify=labels,
        )
    except ValueError as exc:  # too few rows for the share asked
        raise DataError(f"cannot hold out a validation part: {exc}") from None
    held_minority = int(labels[held].sum())
    if held_minority == 0 or held_minority == len(held):
        raise DataError(
            f"the validation part ({len(held)} rows) has {held_minority} minority row(s): "
            "both classes are needed to choose on it; raise holdout.validation_size or give "
            "more rows"
        )
    return np.sort(held)


def gate_rows(
    train: pd.DataFrame, held: np.ndarray, cfg: RetrainConfig, spec: DataSpec
) -> np.ndarray:
    """Return the sorted positions, among the validation rows `held`, kept for the gate.

    A stratified share `cfg.holdout.gate_share` of them: the candidate is chosen on the other
    validation rows and compared with the champion on these, so the comparison is not
    on the rows it won on (the winner of ten configurations looks better on those than
    it is). With fewer than two minority validation rows none is kept: the gate then
    has no positive row to compare on and refuses, while choosing keeps them all.
    """
    from sklearn.model_selection import train_test_split

    labels = spec.target(train.iloc[held])
    try:
        _, gate = train_test_split(
            held, test_size=cfg.holdout.gate_share, random_state=cfg.holdout.seed, stratify=labels
        )
    except ValueError:  # a class with a single row cannot be split in two
        return np.zeros(0, np.int64)
    left = labels[~np.isin(held, gate)]
    if left.min() == left.max():  # a large share took every row of a class: choose on all
        return np.zeros(0, np.int64)
    return np.sort(gate)

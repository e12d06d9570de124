"""How a run's rows are split: the gate's rows by a stable hash, then train/test and validation.

The champion gate's rows are chosen first, by a hash of each row's key (`row_keys`):
the same rows in every run of a store, whatever the window, the as-of date or the
growth of the data, so no run's models ever train on them. The other rows are split
into the training and test parts, and validation rows are held out of the training
part. Pure functions of the frame and the config.
"""

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
    gate_rows: int = 0  # of all rows, kept for the champion gate (no model trains on them)
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
    gate: pd.DataFrame | None = None,
) -> SplitCounts:
    """Return the row and minority counts of a split (and of the validation and gate rows)."""
    held = np.zeros(0, np.int64) if validation is None else validation
    return SplitCounts(
        train_rows=len(train),
        train_minority=int(spec.target(train).sum()),
        test_rows=len(test),
        test_minority=int(spec.target(test).sum()),
        validation_rows=len(held),
        validation_minority=int(spec.target(train.iloc[held]).sum()),
        gate_rows=0 if gate is None else len(gate),
        gate_minority=0 if gate is None else int(spec.target(gate).sum()),
    )


def row_keys(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Return a stable 64-bit key of each row: a hash of its values in `columns`.

    pandas' `hash_pandas_object`, which hashes values, not positions. Numbers are
    hashed as float64 and everything else as text first, so a column read as int
    one night and as float the next (a missing value appeared) keeps its keys; the
    columns are taken in name order, so their order in the file does not matter.
    """
    canonical = pd.DataFrame(
        {
            name: (
                frame[name].astype("float64")
                if pd.api.types.is_numeric_dtype(frame[name])
                or pd.api.types.is_bool_dtype(frame[name])
                else frame[name].astype("string").fillna("\x00missing")
            )
            for name in sorted(columns)
        }
    )
    return pd.util.hash_pandas_object(canonical, index=False).to_numpy(np.uint64)


def in_gate(keys: np.ndarray, share: float) -> np.ndarray:
    """Return which rows belong to the gate: those whose key falls in the lowest `share`.

    A key's place is fixed, so a row is in the gate in every run or in none.
    """
    bound = np.uint64(min(int(share * 2.0**64), 2**64 - 1))
    return np.asarray(keys, dtype=np.uint64) < bound


def keys_digest(keys: np.ndarray) -> str:
    """Return the sha256 of a part's row keys, sorted: equal for the same set of rows."""
    import hashlib

    return hashlib.sha256(np.sort(np.asarray(keys, dtype=np.uint64)).tobytes()).hexdigest()


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

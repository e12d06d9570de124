"""Tasks: the run's data (generated, or read and checked), its split, its preprocessing."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.states import State

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data import (
    DataError,
    DataSpec,
    SplitCounts,
    checks,
    count_split,
    in_gate,
    keys_digest,
    row_keys,
    snapshot,
    split_frame,
    validation_rows,
)
from imbalance.data.identifiers import Identifier
from imbalance.data.preprocess import Preprocessing, fit_preprocessing
from imbalance.data.snapshot import Dataset
from imbalance.store import RunPaths
from tasks._prefect import run_logger

# The training part's rows held out for choosing.
VALIDATION_SCHEMA = pa.schema([("row", pa.int64())])
# Each row's key and part: what proves that no run's models trained on another's gate rows.
KEYS_SCHEMA = pa.schema([("key", pa.uint64()), ("part", pa.string())])


def _transient(task: Any, task_run: Any, state: State) -> bool:
    """Retry a read that failed on the network or the disk, never one the user must fix.

    Object storage's dropped connections are not all OSErrors: botocore's
    ConnectionClosedError and EndpointConnectionError (mid-read) are retried too.
    """
    error = state.result(raise_on_failure=False)
    if isinstance(error, DataError):
        return False
    if isinstance(error, OSError | TimeoutError):
        return True
    try:
        from botocore.exceptions import ConnectionError, HTTPClientError
    except ImportError:  # no object storage installed: nothing of it to retry
        return False
    return isinstance(error, ConnectionError | HTTPClientError)


@task(name="read_dataset", retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=_transient)
def read_dataset(cfg: RetrainConfig, as_of: datetime) -> Dataset:
    """Return the run's rows, checked and fingerprinted: nothing is written yet.

    Generated data when `cfg.source.path` is empty; otherwise the user's files (the window's
    partitions with `window_days`), read and checked (one-line DataError).
    """
    if cfg.generated:
        return snapshot.generated(cfg, as_of)
    dataset = snapshot.from_source(cfg, as_of)
    info = dataset.provenance
    window = f", window {info['window']['range']}" if "window" in info else ""
    logger = run_logger("imbalance.data")
    logger.info(
        "read %s rows from %d file(s) of %s%s",
        f"{info['rows']:,}",
        len(info["files"]),
        info["source"],
        window,
    )
    for left_out in info.get("left_out", []):
        logger.warning("%s", Identifier(**left_out).message())
    return dataset


# NO_CACHE: Prefect would otherwise hash the whole table for a cache key nobody uses.
@task(name="write_snapshot", cache_policy=NO_CACHE)
def write_snapshot(run: RunPaths, dataset: Dataset) -> None:
    """Write the rows as read into data/dataset.parquet, with their provenance."""
    store.write_table(run.dataset, dataset.table, dataset.metadata)


@task(name="split_dataset")
def split_dataset(cfg: RetrainConfig, run: RunPaths, spec: DataSpec) -> tuple[SplitCounts, dict]:
    """Split the snapshot's rows into the gate, train and test files; return counts and keys.

    The gate's rows first, by a hash of each row's key (`source.id_column`, or the
    row's label and feature values): the same rows in every run, so neither this
    run's models nor the champion's train on them. Then train/test of the rest, and
    the positions of the training rows held out for validation. The keys' digests
    per part go into the manifest; the keys themselves into data/keys.parquet.
    """
    columns = [*spec.feature_names, spec.label]
    frame = store.read_parquet(run.dataset, columns=columns)
    written = pq.read_schema(run.dataset)
    schema = pa.schema([written.field(c) for c in columns])
    id_column = cfg.source.id_column
    if id_column:
        keys = row_keys(store.read_parquet(run.dataset, columns=[id_column]), [id_column])
    else:
        keys = row_keys(frame, columns)
    gated = in_gate(keys, cfg.gate.share)
    times = None
    if cfg.holdout.kind == "time":
        column = pq.read_table(run.dataset, columns=[cfg.source.time_column]).column(0)
        times = checks.times(column)[~gated]
    gate = frame[gated]
    train, test = split_frame(frame[~gated], cfg, spec, times)
    held = validation_rows(train, cfg, spec)
    meta = cfg.holdout.model_dump() | {"gate_rows_share": cfg.gate.share}
    store.write_parquet(run.train, train, schema, meta | {"part": "train"})
    store.write_parquet(run.test, test, schema, meta | {"part": "test"})
    store.write_parquet(run.gate, gate, schema, meta | {"part": "gate"})
    rows = pd.DataFrame({"row": held})
    store.write_parquet(run.validation, rows, VALIDATION_SCHEMA, meta | {"part": "validation"})
    # `frame` is indexed by the snapshot's row: each part's keys by its rows' positions.
    parts = {"train": train.index, "test": test.index, "gate": gate.index}
    key_rows = pd.DataFrame(
        {
            "key": np.concatenate([keys[index.to_numpy()] for index in parts.values()]),
            "part": np.repeat(list(parts), [len(index) for index in parts.values()]),
        }
    )
    store.write_parquet(run.keys, key_rows, KEYS_SCHEMA, {"key": id_column or "row values"})
    record = {
        "by": f"column {id_column}" if id_column else "row values",
        "share": cfg.gate.share,
        "parts": {
            part: {"rows": len(index), "sha256": keys_digest(keys[index.to_numpy()])}
            for part, index in parts.items()
        },
    }
    counts = count_split(train, test, spec, held, gate)
    if times is None:
        return counts, record
    cut = times.loc[test.index].min()  # both indexed by the snapshot's row
    share = len(test) / (len(train) + len(test))
    if share > 1.5 * cfg.holdout.test_size:
        run_logger("imbalance.data").warning(
            "the time split's test part holds %.0f%% of the rows, not the %.0f%% asked: "
            "the rows of its oldest time (%s) all go to it",
            100 * share, 100 * cfg.holdout.test_size, cut,
        )  # fmt: skip
    return replace(counts, test_from=cut.isoformat()), record


@task(name="fit_preprocessing")
def preprocessing(run: RunPaths, spec: DataSpec) -> Preprocessing:
    """Return the standardisation and one-hot statistics of the training part only."""
    return fit_preprocessing(store.read_parquet(run.train), spec)

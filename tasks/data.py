"""Tasks: the run's data (generated, or read and checked), its split, its preprocessing."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data import DataSpec, SplitCounts, count_split, split_frame, validation_rows
from imbalance.data.generator import (
    DATASET_SCHEMA,
    GENERATOR_SPEC,
    generation_metadata,
    make_dataset,
)
from imbalance.data.preprocess import Preprocessing, fit_preprocessing
from imbalance.store import RunPaths
from tasks._prefect import run_logger

VALIDATION_SCHEMA = pa.schema([("row", pa.int64())])


@task(name="load_dataset")
def load_dataset(cfg: RetrainConfig, run: RunPaths) -> tuple[DataSpec, dict[str, Any]]:
    """Snapshot the run's rows into data/dataset.parquet; return the spec and provenance.

    Generated data when `cfg.data` is empty; otherwise the user's files, read and
    checked (one-line DataError) before anything is written.
    """
    if cfg.generated:
        frame = make_dataset(cfg)
        store.write_parquet(run.dataset, frame, DATASET_SCHEMA, generation_metadata(cfg))
        return GENERATOR_SPEC, {"source": "generator", "rows": len(frame)}
    from imbalance.data.checks import check_table
    from imbalance.data.sources import read_source

    logger = run_logger("imbalance.data")
    source = read_source(cfg.data)
    logger.info(
        "read %s rows from %d file(s) of %s",
        f"{source.table.num_rows:,}",
        len(source.files),
        source.uri,
    )
    _, spec = check_table(source, cfg)
    provenance = {
        "source": source.uri,
        "files": [f.path for f in source.files],
        "rows": source.table.num_rows,
        "sha256": source.sha256,
        "label": {"column": spec.label, "positive": spec.positive, "negative": spec.negative},
    }
    store.write_table(run.dataset, source.table, provenance | {"spec": spec.to_json()})
    return spec, provenance


@task(name="split_dataset")
def split_dataset(cfg: RetrainConfig, run: RunPaths, spec: DataSpec) -> SplitCounts:
    """Split the snapshot's label and feature columns into train and test files.

    Also writes the positions of the training rows held out for validation.
    """
    columns = [*spec.feature_names, spec.label]
    frame = store.read_parquet(run.dataset, columns=columns)
    snapshot = pq.read_schema(run.dataset)
    schema = pa.schema([snapshot.field(c) for c in columns])
    train, test = split_frame(frame, cfg, spec)
    held = validation_rows(train, cfg, spec)
    meta = cfg.model_dump(include={"test_size", "split_seed", "stratify", "validation_size"})
    store.write_parquet(run.train, train, schema, meta | {"part": "train"})
    store.write_parquet(run.test, test, schema, meta | {"part": "test"})
    rows = pd.DataFrame({"row": held})
    store.write_parquet(run.validation, rows, VALIDATION_SCHEMA, meta | {"part": "validation"})
    return count_split(train, test, spec, held)


@task(name="fit_preprocessing")
def preprocessing(run: RunPaths, spec: DataSpec) -> Preprocessing:
    """Return the standardisation and one-hot statistics of the training part only."""
    return fit_preprocessing(store.read_parquet(run.train), spec)

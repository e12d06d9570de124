"""Tasks: generate the tutorial's data into the run and split it."""

from __future__ import annotations

from prefect import task

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data import (
    DATASET_SCHEMA,
    SplitCounts,
    count_split,
    generation_metadata,
    make_dataset,
    split_frame,
)
from imbalance.store import RunPaths


@task(name="generate_dataset")
def generate_dataset(cfg: RetrainConfig, run: RunPaths) -> int:
    """Generate the data set into the run; return its row count."""
    frame = make_dataset(cfg)
    store.write_parquet(run.dataset, frame, DATASET_SCHEMA, generation_metadata(cfg))
    return len(frame)


@task(name="split_dataset")
def split_dataset(cfg: RetrainConfig, run: RunPaths) -> SplitCounts:
    """Split the run's data set into train and test files; return their counts."""
    train, test = split_frame(store.read_parquet(run.dataset), cfg)
    meta = generation_metadata(cfg)
    store.write_parquet(run.train, train, DATASET_SCHEMA, meta | {"part": "train"})
    store.write_parquet(run.test, test, DATASET_SCHEMA, meta | {"part": "test"})
    return count_split(train, test)

"""A run's rows in memory, checked and fingerprinted, before any run folder exists.

The flow reads its data first and only then decides whether there is anything new
to learn (`skip_unchanged`): the fingerprint is what it compares. Generated data's
fingerprint is the sha256 of its columns' bytes; the user's data's is the sha256
of the names and bytes of the files read (the window's files only, with
`window_days`), so a partition arriving changes it and a new night alone does not.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from imbalance.config import RetrainConfig
from imbalance.data.spec import DataError, DataSpec


@dataclass(frozen=True)
class Dataset:
    """The rows to snapshot, their spec, and what the manifest records of them."""

    table: pa.Table
    spec: DataSpec
    provenance: dict[str, Any]  # the manifest's `data` record; its sha256 is the fingerprint
    metadata: dict[str, Any]  # stored in the snapshot's Parquet file

    @property
    def fingerprint(self) -> str:
        return self.provenance["sha256"]


def generator_seed(cfg: RetrainConfig, as_of: datetime) -> int:
    """Return the generator's seed: the data seed, or the as-of date as YYYYMMDD (nightly)."""
    return int(f"{as_of:%Y%m%d}") if cfg.generator.nightly_data else cfg.generator.seed


def generated(cfg: RetrainConfig, as_of: datetime) -> Dataset:
    """Return the tutorial's generated rows (seeded by the as-of date with `nightly_data`)."""
    from imbalance.data.generator import (
        DATASET_SCHEMA,
        GENERATOR_SPEC,
        generation_metadata,
        make_dataset,
    )

    seed = generator_seed(cfg, as_of)
    seeded = cfg.updated(generator={"seed": seed})
    table = pa.Table.from_pandas(make_dataset(seeded), schema=DATASET_SCHEMA, preserve_index=False)
    provenance = {
        "source": "generator",
        "rows": table.num_rows,
        "data_seed": seed,
        "sha256": table_sha256(table),
    }
    return Dataset(table, GENERATOR_SPEC, provenance, generation_metadata(seeded))


def from_source(cfg: RetrainConfig, as_of: datetime) -> Dataset:
    """Return the user's rows (the window's partitions with `window_days`), checked."""
    from imbalance.data.checks import check_table
    from imbalance.data.identifiers import Identifier
    from imbalance.data.partitions import Window
    from imbalance.data.sources import read_source

    window = Window(as_of.date(), cfg.source.window_days) if cfg.source.window_days else None
    source = read_source(cfg.source.path, window=window)
    if window is not None and source.table.num_rows == 0:
        raise DataError(
            f"the window {window} of {source.uri} holds no rows: its partition(s) "
            f"{', '.join(source.partitions)} are empty"
        )
    left_out: list[Identifier] = []
    _, spec = check_table(source, cfg, left_out)
    provenance: dict[str, Any] = {
        "source": source.uri,
        "files": [f.path for f in source.files],
        "rows": source.table.num_rows,
        "sha256": source.sha256,
        "label": {"column": spec.label, "positive": spec.positive, "negative": spec.negative},
    }
    if left_out:  # ID-like columns check_table did not make features (identifiers.py)
        provenance["left_out"] = [i.to_json() for i in left_out]
    if window is not None:
        provenance["window"] = {"days": cfg.source.window_days, "range": str(window)}
        provenance["partitions"] = list(source.partitions)
    return Dataset(source.table, spec, provenance, provenance | {"spec": spec.to_json()})


def table_sha256(table: pa.Table) -> str:
    """Return the sha256 of a table's column names, types and values (fixed-width columns)."""
    digest = hashlib.sha256()
    for field, column in zip(table.schema, table.columns, strict=True):
        digest.update(f"{field.name}:{field.type};".encode())
        digest.update(column.to_numpy().tobytes())
    return digest.hexdigest()

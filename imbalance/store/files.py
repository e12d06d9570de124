"""Files written atomically: JSON, text, Parquet and Keras models, and their digests.

A file is written to a temporary name in its own folder and renamed over the real
name, so a reader sees the old file or the new one, never half of one. Only the
store writes under `artifacts/`; the paths come from `imbalance.store.layout`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imbalance.store.layout import MANIFEST, RunPaths

if TYPE_CHECKING:
    import keras
    import pandas as pd
    import pyarrow as pa

METADATA_KEY = b"imbalance_flow"


# --- atomic writes ---------------------------------------------------------------------


@contextlib.contextmanager
def _atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name keeps the real suffix: Keras picks the format from it.
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp" + path.suffix
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:  # on disk before the rename makes it visible
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
        fsync_dir(path.parent)  # and the rename itself, or a power cut can undo it
    finally:
        tmp_path.unlink(missing_ok=True)


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (renames into it) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(path: Path, data: bytes) -> Path:
    with _atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode())


def write_json(path: Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def write_parquet(path: Path, frame: pd.DataFrame, schema: pa.Schema, metadata: dict) -> Path:
    """Write `frame` with an explicit `schema`, `metadata` stored as JSON in the file."""
    import pyarrow as pa

    return write_table(
        path, pa.Table.from_pandas(frame, schema=schema, preserve_index=False), metadata
    )


def write_table(path: Path, table: pa.Table, metadata: dict) -> Path:
    """Write an Arrow table as it is, `metadata` stored as JSON in the file (replacing any)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    encoded = {METADATA_KEY: json.dumps(metadata, default=str).encode()}
    table = table.replace_schema_metadata(encoded)
    # Dictionary-encode text only: trying it on float columns cost most of the time
    # of snapshotting 1,000,000 x 20 (2.4 s against 0.7 s, benchmarks/bench_data.py).
    text = [
        f.name
        for f in table.schema
        if pa.types.is_string(f.type)
        or pa.types.is_large_string(f.type)
        or pa.types.is_dictionary(f.type)
    ]
    with _atomic_path(path) as tmp:
        pq.write_table(table, tmp, use_dictionary=text)
    return path


def read_parquet(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    import pandas as pd

    return pd.read_parquet(path, columns=columns)


def read_training_part(run: RunPaths, columns: list[str] | None = None):
    """Return (the training part's rows, a bool mask of its rows held out for validation)."""
    import numpy as np

    train = read_parquet(run.train, columns=columns)
    held = np.zeros(len(train), dtype=bool)
    held[read_parquet(run.validation)["row"].to_numpy()] = True
    return train, held


def read_keys(run: RunPaths, part: str):
    """Return the row keys of one part of a run (`train`, `test` or `gate`).

    Raises FileNotFoundError for a run written before keys were recorded.
    """
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(run.keys, columns=["key", "part"])
    chosen = table.filter(pc.equal(table.column("part"), part))
    return chosen.column("key").to_numpy().astype(np.uint64)


def parquet_metadata(path: Path) -> dict:
    """Return the generation metadata stored in a Parquet file by `write_parquet`."""
    import pyarrow.parquet as pq

    raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


# What a run knows of a model beyond Keras' own files (its threshold, its variant), kept
# inside the .keras archive: a model copied out of its run still says how to label.
# Keras reads only the entries it wrote (config.json, metadata.json, the weights) and
# ignores this one (tested: tests/model/test_fused_equivalence.py).
MODEL_METADATA = "imbalance.json"


def save_model(path: Path, model: keras.Model, metadata: dict | None = None) -> Path:
    """Save `model` in Keras' native format, atomically, with `metadata` inside it."""
    import zipfile

    with _atomic_path(path) as tmp:
        model.save(tmp)
        if metadata is not None:
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr(MODEL_METADATA, json.dumps(metadata, indent=2, default=str))
    return path


def model_metadata(path: Path) -> dict:
    """Return the metadata `save_model` stored in a .keras file ({} if none)."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        if MODEL_METADATA not in archive.namelist():
            return {}
        return json.loads(archive.read(MODEL_METADATA))


def load_model(path: Path) -> keras.Model:
    """Load a saved model in safe mode (no arbitrary code from the file)."""
    from imbalance.model.tf import load_keras

    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    return load_keras().saving.load_model(path, safe_mode=True)


def file_digest(path: Path) -> dict[str, Any]:
    """Return the sha256 and size in bytes of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return {"sha256": h.hexdigest(), "bytes": path.stat().st_size}


def list_files(root: Path) -> list[Path]:
    """Return the run's files relative to `root`, sorted, without the manifest itself."""
    return sorted(
        p.relative_to(root) for p in root.rglob("*") if p.is_file() and p.name != MANIFEST
    )

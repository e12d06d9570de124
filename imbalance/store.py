"""The one owner of the artifact layout: every path under `artifacts/`, every write atomic.

    artifacts/
      runs/<run-id>/            complete runs only (moved here in one rename)
      .staging/<run-id>/        runs being built, failed or killed: never "complete"
      latest.json               names the newest complete run
      champion.json             names the promoted model

A file is written to a temporary name in its own folder and renamed over the real
name, so a reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras
    import pandas as pd
    import pyarrow as pa

RUNS = "runs"
STAGING = ".staging"
MANIFEST = "manifest.json"
METADATA_KEY = b"imbalance_flow"


class RunNotFoundError(LookupError):
    """A run reference (id, `latest`, `champion`) that names no complete run."""


@dataclass(frozen=True)
class RunPaths:
    """Where each file of one run lives; `root` is the staging or the final folder."""

    root: Path

    @property
    def run_id(self) -> str:
        return self.root.name

    @property
    def dataset(self) -> Path:
        return self.root / "data" / "dataset.parquet"

    @property
    def train(self) -> Path:
        return self.root / "data" / "train.parquet"

    @property
    def test(self) -> Path:
        return self.root / "data" / "test.parquet"

    @property
    def weights(self) -> Path:
        return self.root / "weights.json"

    def model(self, variant: str) -> Path:
        return self.root / "models" / f"{variant}.keras"

    def history(self, variant: str) -> Path:
        return self.root / "models" / f"{variant}.history.json"

    def scores(self, variant: str) -> Path:
        """Test-split scores of one variant, handed from training to evaluation."""
        return self.root / "_scratch" / f"{variant}.scores.parquet"

    def progress(self, variant: str) -> Path:
        """Epochs trained so far by one variant, summed over variants for the UI's progress."""
        return self.root / "_scratch" / f"{variant}.progress.json"

    def progress_files(self) -> list[Path]:
        """Return the progress file of every variant that has reported so far."""
        return sorted((self.root / "_scratch").glob("*.progress.json"))

    @property
    def scratch(self) -> Path:
        return self.root / "_scratch"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def report(self) -> Path:
        return self.root / "report.md"

    @property
    def predictions(self) -> Path:
        return self.root / "predictions.parquet"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    def plot(self, name: str) -> Path:
        return self.plots / f"{name}.png"

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST


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
    finally:
        tmp_path.unlink(missing_ok=True)


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
    import pyarrow.parquet as pq

    schema = schema.with_metadata({METADATA_KEY: json.dumps(metadata, default=str).encode()})
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    with _atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def read_parquet(path: Path) -> pd.DataFrame:
    import pandas as pd

    return pd.read_parquet(path)


def parquet_metadata(path: Path) -> dict:
    """Return the generation metadata stored in a Parquet file by `write_parquet`."""
    import pyarrow.parquet as pq

    raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def save_model(path: Path, model: keras.Model) -> Path:
    """Save `model` in Keras' native format, atomically."""
    with _atomic_path(path) as tmp:
        model.save(tmp)
    return path


def load_model(path: Path) -> keras.Model:
    """Load a saved model in safe mode (no arbitrary code from the file)."""
    from imbalance.tf import KERAS_RANDOM_STATE, load_keras

    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    keras = load_keras()
    # Rebuilding the layers runs their initializers, which draw from Keras's global
    # random state: not while a variant in another thread seeds its initial weights.
    with KERAS_RANDOM_STATE:
        return keras.saving.load_model(path, safe_mode=True)


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


# --- the store of runs -----------------------------------------------------------------


class ArtifactStore:
    """The runs under one artifacts folder: staging, completing, finding and pruning them."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    @property
    def runs_dir(self) -> Path:
        return self.root / RUNS

    @property
    def staging_dir(self) -> Path:
        return self.root / STAGING

    @property
    def latest_file(self) -> Path:
        return self.root / "latest.json"

    @property
    def champion_file(self) -> Path:
        return self.root / "champion.json"

    def start_run(self, run_id: str) -> RunPaths:
        """Create and return the staging folder of a new run."""
        if (self.runs_dir / run_id).exists() or (self.staging_dir / run_id).exists():
            raise FileExistsError(f"run {run_id} already exists under {self.root}")
        root = self.staging_dir / run_id
        root.mkdir(parents=True)
        return RunPaths(root)

    def manifest_files(self, run: RunPaths) -> dict[str, dict[str, Any]]:
        """Return the sha256 and size of every file of `run`, keyed by relative path."""
        return {str(rel): file_digest(run.root / rel) for rel in list_files(run.root)}

    def complete_run(self, run: RunPaths, manifest: dict[str, Any]) -> RunPaths:
        """Write the manifest, move the run into `runs/` in one rename, point latest at it."""
        shutil.rmtree(run.scratch, ignore_errors=True)
        manifest = {**manifest, "files": self.manifest_files(run)}
        write_json(run.manifest, manifest)
        final = self.runs_dir / run.run_id
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(run.root, final)
        self._update_latest(final.name)
        return RunPaths(final)

    def fail_run(self, run: RunPaths, manifest: dict[str, Any]) -> None:
        """Leave a failed run in staging with a manifest that says why."""
        if run.root.exists():
            write_json(run.manifest, manifest)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock: read-compare-write of latest/champion by one run at a time.

        A local `make run` can overlap a run of the server's worker; both share the folder.
        """
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _update_latest(self, run_id: str) -> None:
        # Only ever move forward: a slow run finishing late must not hide a newer one.
        with self.locked():
            current = self.latest_run_id()
            if current is None or run_id >= current or not (self.runs_dir / current).is_dir():
                write_json(self.latest_file, {"run_id": run_id, "updated": _now()})

    def latest_run_id(self) -> str | None:
        if not self.latest_file.exists():
            return None
        return read_json(self.latest_file).get("run_id")

    def champion(self) -> dict[str, Any] | None:
        """Return the champion record, or None before the first promotion."""
        return read_json(self.champion_file) if self.champion_file.exists() else None

    def set_champion(self, record: dict[str, Any]) -> None:
        write_json(self.champion_file, record)

    def run_ids(self) -> list[str]:
        """Return the ids of complete runs, newest first."""
        if not self.runs_dir.is_dir():
            return []
        return sorted((p.name for p in self.runs_dir.iterdir() if p.is_dir()), reverse=True)

    def unfinished_run_ids(self) -> list[str]:
        """Return the ids of runs still in staging (running, failed or killed), newest first."""
        if not self.staging_dir.is_dir():
            return []
        return sorted((p.name for p in self.staging_dir.iterdir() if p.is_dir()), reverse=True)

    def run(self, ref: str) -> RunPaths:
        """Return the complete run named by an id, `latest` or `champion`."""
        run_id: str | None = ref
        if ref == "latest":
            run_id = self.latest_run_id() or next(iter(self.run_ids()), None)
        elif ref == "champion":
            record = self.champion()
            run_id = record["run_id"] if record else None
        if not run_id or not (self.runs_dir / run_id / MANIFEST).is_file():
            known = "; known runs: " + ", ".join(self.run_ids()[:5]) if self.run_ids() else ""
            raise RunNotFoundError(f"no complete run {ref!r} under {self.root}{known}")
        return RunPaths(self.runs_dir / run_id)

    def manifest(self, ref: str) -> dict[str, Any]:
        return read_json(self.run(ref).manifest)

    def delete_run(self, run_id: str) -> None:
        """Remove a complete run: renamed out of `runs/` first, so it vanishes at once."""
        source = self.runs_dir / run_id
        trash = self.staging_dir / f".deleting-{run_id}"
        trash.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, trash)
        shutil.rmtree(trash)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

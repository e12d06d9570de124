"""The one owner of the artifact layout: every path under `artifacts/`, every write atomic.

    artifacts/
      runs/<run-id>/            complete runs only (moved here in one rename)
      .staging/<run-id>/        runs being built, failed or killed: never "complete"
      latest.json               names the newest complete run (rebuilt from runs/ if lost)
      champion.json             names the promoted model
      champion-history.jsonl    every change of champion, appended, never rewritten

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
import threading
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
_HELD_LOCKS = threading.local()  # the stores whose lock this thread holds


class RunNotFoundError(LookupError):
    """A run reference (id, `latest`, `champion`) that names no complete run."""


class StateFileError(ValueError):
    """latest.json or champion.json cannot be read or does not name a run; one line says why."""


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
    def validation(self) -> Path:
        """Positions (column `row`) of the training part's rows held out for choosing."""
        return self.root / "data" / "validation.parquet"

    @property
    def weights(self) -> Path:
        return self.root / "weights.json"

    @property
    def selection(self) -> Path:
        """The choices made on the validation rows (imbalance.choices)."""
        return self.root / "selection.json"

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


def read_validation_parts(run: RunPaths, rows: int):
    """Return bool masks over the training part's `rows`: (rows to choose on, gate rows).

    A run from before the gate existed has no gate rows: it chose on all of them.
    """
    import numpy as np

    held = read_parquet(run.validation)
    choose, gate = np.zeros(rows, dtype=bool), np.zeros(rows, dtype=bool)
    flags = held["gate"].to_numpy(bool) if "gate" in held else np.zeros(len(held), bool)
    choose[held["row"].to_numpy()[~flags]] = True
    gate[held["row"].to_numpy()[flags]] = True
    return choose, gate


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

    @property
    def history_file(self) -> Path:
        return self.root / "champion-history.jsonl"

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

    def write_manifest(self, run: RunPaths, manifest: dict[str, Any]) -> None:
        """Write `manifest` with the digest of every file of `run` (written last)."""
        write_json(run.manifest, {**manifest, "files": self.manifest_files(run)})

    def complete_run(
        self, run: RunPaths, manifest: dict[str, Any], update_latest: bool = True
    ) -> RunPaths:
        """Write the manifest, move the run into `runs/` in one rename, point latest at it."""
        shutil.rmtree(run.scratch, ignore_errors=True)
        self.write_manifest(run, manifest)
        final = self.runs_dir / run.run_id
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(run.root, final)
        fsync_dir(final.parent)
        if update_latest:
            self.update_latest(final.name)
        return RunPaths(final)

    def uncomplete_run(self, run: RunPaths) -> RunPaths:
        """Move a run from `runs/` back to staging (a rename: works on a full disk too)."""
        back = self.staging_dir / run.run_id
        os.replace(run.root, back)
        return RunPaths(back)

    def fail_run(self, run: RunPaths, manifest: dict[str, Any]) -> None:
        """Leave a failed run in staging with a manifest that says why."""
        if run.root.exists():
            write_json(run.manifest, manifest)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock: read-compare-write of latest/champion by one run at a time.

        A local `make run` can overlap a run of the server's worker; both share the folder.
        Re-entrant within a thread (completing a run updates latest.json while the
        promotion holds the lock): flock on a second descriptor would wait for itself.
        """
        import fcntl

        key = str(self.root.resolve())
        held = _HELD_LOCKS.__dict__.setdefault("roots", set())
        if key in held:
            yield
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            held.add(key)
            try:
                yield
            finally:
                held.discard(key)
                fcntl.flock(fh, fcntl.LOCK_UN)

    def update_latest(self, run_id: str) -> None:
        """Point latest.json at the newest complete run; a failure to write it is not fatal.

        latest.json is a convenience for other tools: readers here take the newest
        run on disk (`latest_run_id`), so a full disk here costs nothing but the file.
        """
        with contextlib.suppress(OSError):
            self._update_latest(run_id)

    def _update_latest(self, run_id: str) -> None:
        # Only ever move forward: a slow run finishing late must not hide a newer one.
        # A lost or unreadable latest.json is rebuilt from the runs on disk, never fatal.
        with self.locked():
            try:
                current = self._read_state(self.latest_file)
            except StateFileError:
                current = None
            if current is None or not (self.runs_dir / current["run_id"]).is_dir():
                run_id = max(run_id, *self.run_ids())
            elif run_id < current["run_id"]:
                return
            write_json(self.latest_file, {"run_id": run_id, "updated": _now()})

    def latest_run_id(self) -> str | None:
        """Return the newest complete run on disk (run ids sort by time).

        Not latest.json's: a run killed between its move into runs/ and the write
        of latest.json would leave that one behind.
        """
        return next(iter(self.run_ids()), None)

    def champion(self) -> dict[str, Any] | None:
        """Return the champion record, None before the first promotion.

        Raises StateFileError if champion.json exists but cannot be read: callers
        must not mistake a damaged record for "no champion" (that would promote).
        """
        return self._read_state(self.champion_file)

    def set_champion(self, record: dict[str, Any]) -> None:
        write_json(self.champion_file, record)

    def append_history(self, entry: dict[str, Any]) -> None:
        """Append one line to the champion history and flush it to disk."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.history_file, "a") as fh:
            fh.write(json.dumps(entry, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def champion_history(self) -> list[dict[str, Any]]:
        """Return the champion history, oldest first (an unreadable line raises StateFileError)."""
        if not self.history_file.is_file():
            return []
        entries = []
        for number, line in enumerate(self.history_file.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError as exc:
                raise StateFileError(
                    f"{self.history_file}: line {number} is unreadable: {exc}"
                ) from None
            fields = ("action", "run_id", "variant")
            if not isinstance(entry, dict) or not all(
                isinstance(entry.get(f), str) for f in fields
            ):
                raise StateFileError(
                    f"{self.history_file}: line {number} is damaged: it needs "
                    "action, run_id and variant"
                )
            entries.append(entry)
        return entries

    def state_problems(self) -> list[str]:
        """Return one line per damaged shared state file (latest.json, champion.json)."""
        problems = []
        for path in (self.latest_file, self.champion_file):
            try:
                record = self._read_state(path)
            except StateFileError as exc:
                problems.append(str(exc))
                continue
            if path == self.champion_file and record:
                problem = self.model_problem(record["run_id"], record["variant"])
                if problem:
                    held = f"{record['run_id']}/{record['variant']}"
                    problems.append(f"{path} names {held}, whose model cannot be used: {problem}")
        return problems

    def _read_state(self, path: Path) -> dict[str, Any] | None:
        """Return a state file's record (None if absent), or raise StateFileError."""
        try:
            record = read_json(path)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StateFileError(f"{path} is unreadable: {_first_line(exc)}") from None
        if not isinstance(record, dict) or not _is_run_id(record.get("run_id")):
            raise StateFileError(f"{path} is damaged: it names no run")
        if path == self.champion_file and not isinstance(record.get("variant"), str):
            raise StateFileError(f"{path} is damaged: it names no variant")
        return record

    def run_ids(self) -> list[str]:
        """Return the ids of complete runs, newest first."""
        if not self.runs_dir.is_dir():
            return []
        return sorted((p.name for p in self.runs_dir.iterdir() if p.is_dir()), reverse=True)

    @contextlib.contextmanager
    def running(self, run: RunPaths) -> Iterator[None]:
        """Mark `run` as running for as long as the block lasts (a lock its process holds).

        The kernel drops the lock when the process ends, however it ends: a killed
        run's folder is no longer marked, a running one always is.
        """
        import fcntl

        marker = self.staging_dir / f".{run.run_id}.running"
        with open(marker, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                marker.unlink(missing_ok=True)

    def is_running(self, run_id: str) -> bool:
        """Return whether a process still holds run `run_id`'s running mark."""
        import fcntl

        marker = self.staging_dir / f".{run_id}.running"
        try:
            fh = open(marker)  # noqa: SIM115 - closed below; a missing mark: not running
        except FileNotFoundError:
            return False
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh, fcntl.LOCK_UN)
            return False

    def stale_unfinished_run_ids(self, older_than_seconds: float) -> list[str]:
        """Return staged runs (failed or killed) untouched for `older_than_seconds`, oldest first.

        Never a running one: its process holds its running mark (`running`).
        Untouched: no file in the folder changed since.
        """
        cutoff = datetime.now(UTC).timestamp() - older_than_seconds
        stale = []
        for run_id in reversed(self.unfinished_run_ids()):
            if self.is_running(run_id):
                continue
            root = self.staging_dir / run_id
            times = [p.stat().st_mtime for p in (root, *root.rglob("*"))]
            if max(times) < cutoff:
                stale.append(run_id)
        return stale

    def delete_unfinished_run(self, run_id: str) -> None:
        """Remove a staged (failed or killed) run's folder and its running mark."""
        shutil.rmtree(self.staging_dir / run_id)
        (self.staging_dir / f".{run_id}.running").unlink(missing_ok=True)

    def unfinished_run_ids(self) -> list[str]:
        """Return the ids of runs still in staging (running, failed or killed), newest first."""
        if not self.staging_dir.is_dir():
            return []
        # ".deleting-*" folders are runs being pruned, not runs
        return sorted(
            (p.name for p in self.staging_dir.iterdir() if p.is_dir() and p.name[0] != "."),
            reverse=True,
        )

    def run(self, ref: str) -> RunPaths:
        """Return the complete run named by an id, `latest` or `champion`."""
        run_id: str | None = ref
        if ref == "latest":
            run_id = self.latest_run_id()
        elif ref == "champion":
            record = self.champion()
            run_id = record["run_id"] if record else None
        if not run_id or not (self.runs_dir / run_id / MANIFEST).is_file():
            known = "; known runs: " + ", ".join(self.run_ids()[:5]) if self.run_ids() else ""
            raise RunNotFoundError(f"no complete run {ref!r} under {self.root}{known}")
        return RunPaths(self.runs_dir / run_id)

    def model_problem(self, run_id: str, variant: str) -> str | None:
        """Return why run `run_id`'s model `variant` cannot be trusted, or None if it can.

        Trusted: the run is complete, its manifest readable, and the model file's
        sha256 and size are those the manifest recorded.
        """
        try:
            run = self.run(run_id)
        except RunNotFoundError:
            return f"its run {run_id} is not a complete run"
        try:
            recorded = read_json(run.manifest)["files"][f"models/{variant}.keras"]
        except KeyError:
            return f"its run's manifest lists no model {variant!r}"
        except (OSError, ValueError, TypeError) as exc:
            return f"its run's manifest is unreadable ({_first_line(exc)})"
        path = run.model(variant)
        if not path.is_file():
            return f"its model file {path} is missing"
        if file_digest(path) != recorded:
            return f"its model file {path} differs from its manifest (sha256)"
        return None

    def manifest(self, ref: str) -> dict[str, Any]:
        return read_json(self.run(ref).manifest)

    def delete_run(self, run_id: str) -> None:
        """Remove a complete run: renamed out of `runs/` first, so it vanishes at once."""
        source = self.runs_dir / run_id
        trash = self.staging_dir / f".deleting-{run_id}"
        trash.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, trash)
        shutil.rmtree(trash)


def _is_run_id(value: Any) -> bool:
    """Return whether `value` can name a run folder (no path separators, no dots first)."""
    return isinstance(value, str) and bool(value) and "/" not in value and value[0] != "."


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

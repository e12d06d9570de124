"""Where everything lives under `artifacts/`: the one place that builds an artifact path.

artifacts/
  runs/<run-id>/            complete runs only (moved here in one rename)
  .staging/<run-id>/        runs being built, failed or killed: never "complete"
  .staging/.<run-id>.running  held (flock) by the run's process while it lives
  .staging/.deleting-<id>/  a run being deleted by retention (out of runs/ already)
  latest.json               names the newest complete run (rebuilt from runs/ if lost)
  champion.json             names the promoted model
  champion-history.jsonl    every change of champion, appended, never rewritten
  champion-scores.jsonl     the champion and the candidate on each night's gate rows
  commit.json               a promotion under way (write-ahead; see imbalance.store.commit)
  .lock                     the store's lock, held while the pointers above change
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUNS = "runs"
STAGING = ".staging"
MANIFEST = "manifest.json"


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
    def gate(self) -> Path:
        """The champion gate's rows: chosen by a hash of their keys, no model trains on them."""
        return self.root / "data" / "gate.parquet"

    @property
    def keys(self) -> Path:
        """Each row's key (a hash, column `key`) and its part (`train`, `test`, `gate`)."""
        return self.root / "data" / "keys.parquet"

    @property
    def validation(self) -> Path:
        """Positions (column `row`) of the training part's rows held out for choosing."""
        return self.root / "data" / "validation.parquet"

    @property
    def weights(self) -> Path:
        return self.root / "weights.json"

    @property
    def selection(self) -> Path:
        """The choices made on the validation rows (imbalance.selection.choices)."""
        return self.root / "selection.json"

    @property
    def calibration(self) -> Path:
        """Each variant's calibration map (imbalance.selection.calibration)."""
        return self.root / "calibration.json"

    def model(self, variant: str) -> Path:
        return self.root / "models" / f"{variant}.keras"

    def model_key(self, variant: str) -> str:
        """Return the manifest's key of a variant's model file."""
        return f"models/{variant}.keras"

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


class StoreLayout:
    """The shared files and folders of one artifacts folder (the runs' own: `RunPaths`)."""

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

    @property
    def scores_file(self) -> Path:
        """The champion's track record: one line per run that scored it on its gate rows."""
        return self.root / "champion-scores.jsonl"

    @property
    def journal_file(self) -> Path:
        return self.root / "commit.json"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    def complete(self, run_id: str) -> RunPaths:
        return RunPaths(self.runs_dir / run_id)

    def staged(self, run_id: str) -> RunPaths:
        return RunPaths(self.staging_dir / run_id)

    def running_mark(self, run_id: str) -> Path:
        return self.staging_dir / f".{run_id}.running"

    def trash(self, run_id: str) -> Path:
        """Where a run being deleted waits for its files to go (out of runs/ at once)."""
        return self.staging_dir / f".deleting-{run_id}"

    def trash_folders(self) -> list[Path]:
        """Return runs left half-deleted (a kill during retention's removal)."""
        if not self.staging_dir.is_dir():
            return []
        return sorted(p for p in self.staging_dir.glob(".deleting-*") if p.is_dir())

    def run_ids(self) -> list[str]:
        """Return the ids of complete runs, newest first."""
        return _folders(self.runs_dir)

    def unfinished_run_ids(self) -> list[str]:
        """Return the ids of runs still in staging (running, failed or killed), newest first."""
        return _folders(self.staging_dir)


def is_run_id(value: Any) -> bool:
    """Return whether `value` can name a run folder (no path separators, no dots first)."""
    return isinstance(value, str) and bool(value) and "/" not in value and value[0] != "."


def _folders(parent: Path) -> list[str]:
    if not parent.is_dir():
        return []
    # dot-folders (".deleting-*") are runs being deleted, not runs
    return sorted(
        (p.name for p in parent.iterdir() if p.is_dir() and p.name[0] != "."), reverse=True
    )

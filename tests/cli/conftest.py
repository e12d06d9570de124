"""Runs made by hand for the inspection commands: the real layout, no training, no TensorFlow."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli import main
from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.selection.decision import Candidate, Decision
from imbalance.store import ArtifactStore, ChampionRecord, RunFacts, RunPaths, RunRecord

VARIANTS = ["baseline", "balanced", "manual"]
# A fake model: the commands under test stop before loading one (see tests/flow for real ones).
FAKE_MODEL = b"PK\x03\x04 not a real keras archive"


def _variant_metrics(recall: float, pr_auc: float) -> dict:
    return {
        "precision": 0.01,
        "recall": recall,
        "f1": 0.02,
        "roc_auc": 0.6,
        "pr_auc": pr_auc,
        "confusion_matrix": [[900, 93], [3, 4]],
        "classification_report": "(report)\n",
        "class_weight": None,
        "train_seconds": 1.5,
        "final_loss": 0.3,
    }


def make_run(
    root: Path,
    run_id: str,
    scores: dict[str, tuple[float, float]] | None = None,
    epochs: int = 2,
) -> RunPaths:
    """Return a complete run under `root` with (recall, PR AUC) per variant and a manifest."""
    scores = scores or {"baseline": (0.0, 0.03), "balanced": (0.7, 0.04), "manual": (1.0, 0.035)}
    artifacts = ArtifactStore(root)
    run = artifacts.start_run(run_id)
    metrics = {
        "threshold": 0.5,
        "test_rows": 1_000,
        "variants": {v: _variant_metrics(*s) for v, s in scores.items()},
    }
    store.write_json(run.metrics, metrics)
    store.write_text(run.report, f"# Retrain report: {run_id}\n\nthe table\n")
    store.write_bytes(run.root / "data" / "test.parquet", b"PAR1 fake PAR1")
    for v in scores:
        store.write_bytes(run.model(v), FAKE_MODEL)
        store.write_json(run.history(v), {"variant": v, "loss": [0.5, 0.3]})
    cfg = RetrainConfig(
        generator={"n_samples": 5_000},
        training={"epochs": epochs},
        selection={"variants": list(scores)},
        storage={"artifacts_dir": "x"},
    )
    best = max(scores, key=lambda v: scores[v][1])
    decision = Decision(
        metric="pr_auc",
        min_improvement=0.0,
        margin=0.02,
        candidate=Candidate(run_id, best, scores[best][1]),
        champion=None,
        promoted=False,
        reason="made by hand for a test",
    )
    started = datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").astimezone()
    counts = {"dataset_rows": 5_000, "train_rows": 4_000, "test_rows": 1_000, "test_minority": 7}
    manifest = RunRecord(
        run_id,
        "completed",
        started=started.isoformat(timespec="seconds"),
        ended=started.isoformat(timespec="seconds"),
        duration_seconds=12.5,
        config=cfg.model_dump(mode="json"),
        facts=RunFacts(counts=counts),
        champion=decision,
    )
    return artifacts.complete_run(run, manifest)


def make_champion(root: Path, run: RunPaths, variant: str = "balanced") -> None:
    ArtifactStore(root).set_champion(ChampionRecord(run.run_id, variant, "pr_auc", 0.04, "x"))


@pytest.fixture
def artifacts(tmp_path) -> Path:
    """Three complete runs (the oldest holds the champion), one failed and one killed."""
    root = tmp_path / "artifacts"
    oldest = make_run(root, "20260101T000000Z-oldest")
    make_run(root, "20260102T000000Z-middle", epochs=3)
    make_run(root, "20260103T000000Z-newest", {"baseline": (0.1, 0.05), "manual": (0.9, 0.06)})
    make_champion(root, oldest)
    store_ = ArtifactStore(root)
    failed = store_.start_run("20260104T000000Z-failed")
    store_.fail_run(failed, RunRecord(failed.run_id, "failed", error="ValueError: x"))
    store_.start_run("20260105T000000Z-killed")
    return root


@pytest.fixture
def cli(capsys):
    """Return a function that runs `imbalance ARGV` and gives (status, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        status = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture
def fake_run():
    """Return `make_run(root, run_id, scores=None, epochs=2)` for tests that need more runs."""
    return make_run


@pytest.fixture
def features() -> pd.DataFrame:
    """Five rows of the two feature columns."""
    rng = np.random.default_rng(1)
    return pd.DataFrame({"x1": rng.normal(size=5), "x2": rng.normal(size=5)})

"""A run with early stopping: the blind models stop on the validation rows, the finals follow."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.retrain import retrain
from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.store import RunPaths

pytestmark = pytest.mark.slow


def test_each_final_model_trains_for_the_epochs_its_blind_twin_needed(tmp_path, tiny):
    # A high learning rate on few rows: validation loss turns early, so the twins stop.
    cfg = RetrainConfig(**tiny).updated(
        training={"epochs": 30, "patience": 2},
        network={"learning_rate": 0.05},
        selection={"sweep_points": 0, "n_seeds": 1, "variants": ["baseline", "manual"]},
        storage={"artifacts_dir": str(tmp_path)},
    )
    run = RunPaths(Path(retrain(cfg)))
    metrics = store.read_json(run.metrics)
    epochs = {name: m["epochs"] for name, m in metrics["variants"].items()}
    assert all(1 <= e <= 30 for e in epochs.values()) and min(epochs.values()) < 30, epochs
    for name, count in epochs.items():
        # A final model's history has exactly the epochs it trained.
        assert len(store.read_json(run.history(name))["loss"]) == count
    report = run.report.read_text()
    assert "early stopping (patience 2, at most 30 epochs" in report
    assert f"baseline {epochs['baseline']}" in report

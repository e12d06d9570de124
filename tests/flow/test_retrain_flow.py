"""The whole flow on a tiny config, under a real (temporary) Prefect server."""

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from prefect.task_runners import ThreadPoolTaskRunner

from flows.retrain import retrain
from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data.generator import DATASET_SCHEMA
from imbalance.data.spec import GENERATOR_SPEC
from imbalance.store import RunPaths

pytestmark = pytest.mark.slow
VARIANTS = ["baseline", "balanced", "manual"]
EXPECTED_FILES = {
    "data/dataset.parquet",
    "data/train.parquet",
    "data/test.parquet",
    "data/validation.parquet",
    "data/gate.parquet",
    "data/keys.parquet",
    "weights.json",
    "selection.json",
    "calibration.json",
    "metrics.json",
    "report.md",
    "predictions.parquet",
    *(f"models/{v}.keras" for v in [*VARIANTS, "tuned"]),
    *(f"models/{v}.history.json" for v in [*VARIANTS, "tuned"]),
    "plots/roc.png",
    "plots/pr.png",
    "plots/loss.png",
    "plots/sweep.png",
    "plots/reliability.png",
    *(f"plots/confusion-{v}.png" for v in [*VARIANTS, "tuned"]),
}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, tiny):
    """Two runs of one config with one thread; one with four, training model by model."""
    cfg = RetrainConfig(
        **tiny, storage={"artifacts_dir": str(tmp_path_factory.mktemp("artifacts"))}
    )
    one_thread = retrain.with_options(task_runner=ThreadPoolTaskRunner(max_workers=1))
    in_parallel = retrain.with_options(task_runner=ThreadPoolTaskRunner(max_workers=4))
    first = RunPaths(Path(one_thread(cfg)))
    # The same config again: retrained (not skipped as unchanged) to compare the two.
    second = RunPaths(Path(one_thread(cfg.updated(nightly={"skip_unchanged": False}))))
    # One model per task in four threads, each with the fused trainer: the three
    # variants and their blind twins of the train seed (no sweep, one seed: the same
    # models as the batched run's of those, fewer of them to train one at a time).
    by_model = cfg.updated(
        training={"trainer": "fused", "models_per_task": 1},
        selection={"sweep_points": 0, "n_seeds": 1},
    )
    parallel = RunPaths(Path(in_parallel(by_model)))
    return cfg, first, second, parallel


def test_a_run_writes_every_file_and_a_manifest_of_them(two_runs):
    cfg, run = two_runs[:2]
    manifest = store.read_json(run.manifest)
    assert set(manifest["files"]) == EXPECTED_FILES
    for rel, digest in manifest["files"].items():
        assert store.file_digest(run.root / rel) == digest
    assert manifest["status"] == "completed"
    assert manifest["config"]["generator"]["n_samples"] == 5_000
    counts = manifest["counts"]
    # The gate's 0.3 of the rows by their keys' hash, then 80/20 train/test of the rest.
    assert counts["train_rows"] + counts["test_rows"] + counts["gate_rows"] == 5_000
    assert abs(counts["gate_rows"] - 1_500) < 100
    assert counts["test_rows"] == -(-(counts["train_rows"] + counts["test_rows"]) // 5)
    parts = manifest["parts"]["parts"]
    assert {p: parts[p]["rows"] for p in parts} == {
        "train": counts["train_rows"], "test": counts["test_rows"], "gate": counts["gate_rows"]
    }  # fmt: skip
    assert manifest["versions"]["tensorflow"] and manifest["versions"]["prefect"]
    newest = max(p.name for p in run.root.parent.iterdir())
    assert store.read_json(run.root.parent.parent / "latest.json")["run_id"] == newest
    assert not list((run.root.parent.parent / ".staging").iterdir())


def test_parquet_files_have_their_schema_and_row_counts(two_runs):
    run = two_runs[1]
    assert pq.read_schema(run.dataset).remove_metadata() == DATASET_SCHEMA
    assert store.parquet_metadata(run.dataset)["n_samples"] == 5_000
    assert pq.read_metadata(run.dataset).num_rows == 5_000
    counts = store.read_json(run.manifest)["counts"]
    assert pq.read_metadata(run.train).num_rows == counts["train_rows"]
    assert pq.read_metadata(run.test).num_rows == counts["test_rows"]
    assert pq.read_schema(run.gate).remove_metadata() == DATASET_SCHEMA
    assert pq.read_metadata(run.gate).num_rows == counts["gate_rows"]
    keys = pq.read_table(run.keys)
    assert keys.schema.field("key").type == pa.uint64() and keys.num_rows == 5_000
    schema = pq.read_schema(run.predictions)
    assert schema.names == ["label", *VARIANTS, "tuned"]
    assert all(schema.field(v).type == pa.float32() for v in VARIANTS)


def test_metrics_and_report_cover_every_variant(two_runs):
    run = two_runs[1]
    metrics = store.read_json(run.metrics)
    for name in VARIANTS:
        m = metrics["variants"][name]
        for key in ("precision", "recall", "f1", "roc_auc", "pr_auc", "train_seconds"):
            assert isinstance(m[key], float)
        assert np.array(m["confusion_matrix"]).sum() == metrics["test_rows"]
    assert metrics["variants"]["manual"]["class_weight"] == {"0": 1.0, "1": 200.0}
    # Calibrated on the blind twins' validation rows; measured on the test part.
    maps = store.read_json(run.calibration)
    for name in [*VARIANTS, "tuned"]:
        m = metrics["variants"][name]
        assert m["calibration"] == maps[name]["method"]
        assert 0 <= m["brier"] <= 1 and m["log_loss"] > 0
        assert m["brier_prevalence"] > 0 and m["brier_uncalibrated"] >= 0
    assert "## Calibration" in run.report.read_text()
    report = run.report.read_text()
    # The references are rows of the comparison, fitted on the final networks' rows.
    # Once in the comparison, once in the calibration table.
    assert report.count("| baseline |") == 2 and "## manual" in report
    assert "| reference: logistic (baseline) |" in report
    assert "| reference: hist_gradient_boosting | balanced |" in report
    assert set(metrics["reference"]) == {*VARIANTS, "hist_gradient_boosting"}
    for m in metrics["reference"].values():
        assert m["fit_rows"] == store.read_training_part(run)[1].size
        assert m["against_chosen"]["metric"] == "pr_auc"
        assert isinstance(m["pr_auc"], float) and np.array(m["confusion_matrix"]).size == 4
    # Seeds move the models for choosing: the report's spread is not zero.
    selection = store.read_json(run.selection)
    assert any(c["pr_auc"][1] > 0 for c in selection["configurations"].values())
    assert "track" not in report  # the first run: no champion to score yet
    # The second run scored the first's champion on its gate rows: the track record
    # gained that night, and the report draws it.
    second = two_runs[2]
    assert "![track](plots/track.png)" in second.report.read_text()
    assert "plots/track.png" in store.read_json(second.manifest)["files"]
    night = store.ArtifactStore(second.root.parents[1]).champion_scores()[0]
    assert night.run_id == second.run_id and night.champion_score is not None


def test_each_saved_model_reloads_and_reproduces_its_predictions(two_runs):
    run = two_runs[1]
    from imbalance.model.scoring import score

    predictions = pd.read_parquet(run.predictions)
    test = pd.read_parquet(run.test)
    assert (predictions["label"] == test["label"]).all()
    for name in VARIANTS:
        model = store.load_model(run.model(name))
        scores = score(model, test, GENERATOR_SPEC)
        np.testing.assert_allclose(scores, predictions[name].to_numpy(), atol=1e-6)


def _comparable(run: RunPaths) -> dict:
    variants = store.read_json(run.metrics)["variants"]
    timings = {"train_seconds", "us_per_step"}  # measured, so never equal twice
    return {name: {k: v for k, v in m.items() if k not in timings} for name, m in variants.items()}


def test_two_runs_of_one_config_agree(two_runs):
    first, second = two_runs[1:3]
    assert first.run_id != second.run_id
    assert _comparable(first) == _comparable(second)
    pd.testing.assert_frame_equal(
        pd.read_parquet(first.predictions), pd.read_parquet(second.predictions)
    )


def test_models_in_parallel_tasks_one_at_a_time_equal_all_at_once(two_runs):
    # The batched trainer (all models in one task) against the fused trainer, one model
    # per task in parallel threads: the same updates, to float32 rounding
    # (tests/model/test_batched.py: within 1e-5).
    batched, parallel = two_runs[1], two_runs[3]
    one, other = _comparable(batched), _comparable(parallel)
    for name in VARIANTS:
        assert one[name]["confusion_matrix"] == other[name]["confusion_matrix"]
        for key in ("recall", "precision", "roc_auc", "pr_auc", "final_loss"):
            assert one[name][key] == pytest.approx(other[name][key], abs=1e-6)
    a, b = (pd.read_parquet(r.predictions) for r in (batched, parallel))
    for name in VARIANTS:
        np.testing.assert_allclose(a[name], b[name], atol=1e-6)

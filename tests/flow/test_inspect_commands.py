"""Champion, plots and the inspection commands on two real tiny runs.

The first run has no champion to beat and promotes its best variant. The second trains
only that variant with the same config, so it gives the same model: scored on the same
test rows the two must tie, and a tie keeps the champion.
"""

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cli import main
from flows.retrain import retrain
from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.selection.calibration import Calibration
from imbalance.store import ArtifactStore, RunPaths
from imbalance.store.records import SCHEMA_VERSION

pytestmark = pytest.mark.slow
PLOTS = {"roc", "pr", "loss", "sweep", "reliability"} | {
    f"confusion-{v}" for v in ("baseline", "balanced", "manual", "tuned")
}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, tiny):
    """The artifacts, both runs and champion.json after the first."""
    root = tmp_path_factory.mktemp("artifacts")
    cfg = RetrainConfig(**tiny, storage={"artifacts_dir": str(root)})
    first = RunPaths(Path(retrain(cfg)))
    champion_file = ArtifactStore(root).champion_file.read_bytes()
    again = cfg.updated(nightly={"skip_unchanged": False})
    second = RunPaths(Path(retrain(again)))
    return SimpleNamespace(
        artifacts=ArtifactStore(root),
        first=first,
        champion_file=champion_file,
        second=second,
    )


def test_the_first_run_promotes_its_best_variant(two_runs):
    first = two_runs.first
    selection = store.read_json(first.selection)  # chosen on validation, not on test
    variant = selection["candidate"]
    score = selection["configurations"][variant]["pr_auc"][0]
    assert store.read_json(first.metrics)["chosen"] == variant
    record = store.read_json(two_runs.artifacts.champion_file)
    assert record | {"when": None} == {
        "run_id": first.run_id,
        "variant": variant,
        "metric": "pr_auc",
        "score": score,
        "when": None,
        "schema_version": SCHEMA_VERSION,
    }
    decision = store.read_json(first.manifest)["champion"]
    assert decision["promoted"] is True and decision["champion"] is None
    assert "## Champion" in first.report.read_text()
    assert "Promoted: no champion yet" in first.report.read_text()


def test_a_second_small_run_cannot_replace_the_champion_on_a_few_positives(two_runs):
    artifacts, first, second = two_runs.artifacts, two_runs.first, two_runs.second
    decision = store.read_json(second.manifest)["champion"]
    assert decision["promoted"] is False
    assert decision["champion"]["run_id"] == first.run_id
    # the champion's saved model, loaded in a training process and scored on the new rows
    assert decision["champion"]["score"] is not None
    low, high = decision["interval"]
    assert low <= decision["improvement"] <= high
    assert artifacts.champion_file.read_bytes() == two_runs.champion_file
    assert "a comparison needs" in second.report.read_text()


def test_the_inspection_commands_read_real_runs_without_tensorflow(two_runs):
    # In a process of its own: this one has TensorFlow already (it trained the runs).
    root = str(two_runs.artifacts.root)
    script = (
        "import sys\n"
        "from cli import main\n"
        "for argv in (['runs'], ['show', 'champion'], ['compare', 'latest', 'champion'],\n"
        "             ['verify', 'all'], ['champion']):\n"
        f"    assert main([*argv, '--artifacts-dir', {root!r}]) == 0, argv\n"
        "assert 'tensorflow' not in sys.modules and 'prefect' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert b"history (oldest first)" in done.stdout


def test_each_run_has_its_plots_in_the_manifest_and_the_report(two_runs):
    first = two_runs.first
    files = store.read_json(first.manifest)["files"]
    assert {Path(p).stem for p in files if p.startswith("plots/")} == PLOTS
    report = first.report.read_text()
    for name in PLOTS:
        assert first.plot(name).read_bytes().startswith(b"\x89PNG")
        assert f"](plots/{name}.png)" in report


def _cli(capsys, *argv) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_predict_with_the_champion_reproduces_its_test_predictions(
    two_runs, capsys, tmp_path, kind
):
    artifacts, first = two_runs.artifacts, two_runs.first
    variant = artifacts.champion().variant
    rows = pd.read_parquet(first.test)
    source = tmp_path / f"rows.{kind}"
    rows.to_parquet(source) if kind == "parquet" else rows.to_csv(source, index=False)
    target = tmp_path / "scored.parquet"

    status, out, err = _cli(
        capsys, "predict", source, "-o", target, "--artifacts-dir", artifacts.root
    )
    assert status == 0, err
    # Labelled at the threshold the run chose for the variant on validation.
    threshold = store.read_json(first.metrics)["variants"][variant]["threshold"]
    assert f"with {first.run_id}/{variant} (threshold {threshold:.4g})" in out
    scored = pd.read_parquet(target)
    expected = pd.read_parquet(first.predictions)[variant].to_numpy()
    np.testing.assert_allclose(scored["score"].to_numpy(), expected, atol=1e-6)
    assert (scored["predicted_label"] == (scored["score"] >= threshold)).all()
    # The calibrated probability sits between the score and the label: the model's own map.
    assert list(scored.columns[-3:]) == ["score", "probability", "predicted_label"]
    saved = store.model_metadata(first.model(variant))["calibration"]
    assert saved == store.read_json(first.calibration)[variant]
    expected_p = Calibration.from_json(saved).apply(scored["score"].to_numpy())
    np.testing.assert_allclose(scored["probability"].to_numpy(), expected_p, atol=1e-9)
    assert scored["probability"].between(0, 1).all()
    assert store.parquet_metadata(target)["threshold"] == threshold
    assert list(scored.columns[:3]) == ["x1", "x2", "label"]  # the input's columns kept
    assert store.parquet_metadata(target)["run_id"] == first.run_id


def test_runs_show_and_verify_on_real_runs(two_runs, capsys):
    artifacts, first, second = two_runs.artifacts, two_runs.first, two_runs.second
    status, out, _ = _cli(capsys, "runs", "--artifacts-dir", artifacts.root)
    lines = out.splitlines()[1:]
    assert status == 0 and [line.split()[0] for line in lines] == [second.run_id, first.run_id]
    assert lines[1].rstrip().endswith("* " + artifacts.champion().variant)
    status, out, _ = _cli(capsys, "show", "champion", "--artifacts-dir", artifacts.root)
    assert status == 0 and out.startswith(f"# Retrain report: {first.run_id}")
    status, out, _ = _cli(capsys, "verify", "all", "--artifacts-dir", artifacts.root)
    assert status == 0 and out.count("  ok (") == 2

"""A damaged champion is never replaced on that ground, and damaged state files are never fatal.

One weak champion run is made once (a barely trained baseline); each case copies
its artifacts, damages one thing, and runs a clearly better candidate. The intact
case shows that candidate is promoted when nothing is damaged, so each refusal
below is the damage's doing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.retrain import retrain
from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.store import ArtifactStore, RunPaths

pytestmark = pytest.mark.slow

# One configuration each, no sweep: the champion is the baseline, the candidate manual.
ONE = {"sweep_points": 0, "n_seeds": 1}
WEAK = {
    "selection": ONE | {"variants": ["baseline"]},
    "training": {"epochs": 1},
    "network": {"learning_rate": 1e-6},
}
# The tiny data has 15 positive gate rows (0.3 of all rows): the gate is let compare on
# those here, by ROC AUC, where the evidence is overwhelming (a trained model against an
# untrained one: 0.84 against 0.71, the interval's lower end +0.04; its PR AUC, 0.13
# against 0.09 on these few positives, would not tell).
STRONG = {
    "selection": ONE | {"variants": ["manual"], "metric": "roc_auc"},
    "training": {"epochs": 3},
    "network": {"learning_rate": 0.01},
    "gate": {"min_positives": 3},
}


def _config(tiny: dict, artifacts: Path, **sections: dict) -> RetrainConfig:
    """Return the tiny config with these sections' fields changed, kept in `artifacts`."""
    return RetrainConfig(**tiny).updated(storage={"artifacts_dir": str(artifacts)}, **sections)


@pytest.fixture(scope="module")
def weak_champion(tmp_path_factory, tiny) -> Path:
    root = tmp_path_factory.mktemp("weak") / "artifacts"
    retrain(_config(tiny, root, **WEAK))
    assert ArtifactStore(root).champion().variant == "baseline"
    return root


def _copy(weak_champion: Path, tmp_path: Path) -> ArtifactStore:
    shutil.copytree(weak_champion, tmp_path / "artifacts")
    return ArtifactStore(tmp_path / "artifacts")


def _champion_model(artifacts: ArtifactStore) -> Path:
    record = artifacts.champion()
    return artifacts.run(record.run_id).model(record.variant)


def _damage(kind: str, artifacts: ArtifactStore) -> str:
    """Damage one thing; return what the run's refusal must say."""
    if kind == "intact":
        return ""
    model = _champion_model(artifacts)
    if kind == "other-model":  # a valid Keras file, not the one the manifest recorded
        from imbalance.model.network import build_model

        store.save_model(model, build_model(2, 1e-3, seed=99))
        return "differs from its manifest (sha256)"
    if kind == "other-schema":  # loads and matches its manifest, but takes 3 columns
        from imbalance.model.network import build_model

        store.save_model(model, build_model(2, 1e-3, seed=99, n_features=3))
        run = RunPaths(model.parent.parent)
        manifest = store.read_json(run.manifest)
        manifest["files"][f"models/{model.name}"] = store.file_digest(model)
        store.write_json(run.manifest, manifest)
        return "cannot be scored on this run's rows"
    if kind == "garbled-manifest":
        RunPaths(model.parent.parent).manifest.write_text("{ garbled")
        return "its run's manifest is unreadable"
    if kind == "garbled-champion-file":
        artifacts.champion_file.write_text("{ garbled")
        return "champion.json is unreadable"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "intact",
        "other-model",
        "other-schema",
        "garbled-manifest",
        "garbled-champion-file",
    ],
)
def test_a_damaged_champion_is_kept_and_the_report_says_why(weak_champion, tmp_path, tiny, kind):
    artifacts = _copy(weak_champion, tmp_path)
    expected = _damage(kind, artifacts)
    before = artifacts.champion_file.read_bytes()
    run = RunPaths(Path(retrain(_config(tiny, artifacts.root, **STRONG))))

    decision = store.read_json(run.manifest)["champion"]
    report = run.report.read_text()
    if kind == "intact":
        assert decision["promoted"] is True, decision["reason"]
        assert artifacts.champion().run_id == run.run_id
        assert [e.run_id for e in artifacts.champion_history()][-1] == run.run_id
        return
    assert decision["promoted"] is False
    assert expected in decision["reason"] and "cannot be compared" in decision["reason"]
    assert f"Not promoted: {decision['reason']}." in report
    assert artifacts.champion_file.read_bytes() == before
    assert len(artifacts.champion_history()) == 1  # the weak run's promotion, nothing since
    assert artifacts.run_ids()[0] == run.run_id  # the run itself is complete


def test_a_garbled_latest_file_is_rebuilt_by_the_next_run(weak_champion, tmp_path, tiny):
    artifacts = _copy(weak_champion, tmp_path)
    artifacts.latest_file.write_text("{ garbled")
    cfg = _config(tiny, artifacts.root, **WEAK, nightly={"skip_unchanged": False})
    run = RunPaths(Path(retrain(cfg)))
    assert store.read_json(artifacts.latest_file)["run_id"] == run.run_id
    assert artifacts.state_problems() == []


def test_a_smoke_run_cannot_replace_the_champion_without_evidence(weak_champion, tmp_path, tiny):
    # A small, quick run whose point estimate beats an untrained champion: on a handful
    # of positive gate rows the gate will not tell, and says how many it has and needs.
    artifacts = _copy(weak_champion, tmp_path)
    before = artifacts.champion_file.read_bytes()
    smoke = {k: v for k, v in STRONG.items() if k != "gate"}
    run = RunPaths(Path(retrain(_config(tiny, artifacts.root, **smoke))))
    decision = store.read_json(run.manifest)["champion"]
    assert decision["promoted"] is False
    positives = decision["gate_positives"]
    assert 0 < positives < 50 and decision["rule"] == "refused"
    assert f"the gate has {positives} positive row(s)" in decision["reason"]
    assert "a comparison needs 50" in decision["reason"] and "gate.share" in decision["reason"]
    assert decision["interval"][0] <= decision["improvement"] <= decision["interval"][1]
    assert artifacts.champion_file.read_bytes() == before

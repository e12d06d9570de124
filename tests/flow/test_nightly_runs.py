"""Nightly runs in one process: windows of date partitions, a time split, skip, force, drift."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cli.inspect import list_runs, runs_table
from flows.retrain import retrain
from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data import in_gate, row_keys
from imbalance.store import ArtifactStore

pytestmark = pytest.mark.slow

DAYS = ["2026-11-26", "2026-11-27", "2026-11-28"]


@pytest.fixture(scope="module")
def nights(tmp_path_factory, write_day) -> dict:
    """Four nights on a folder of three days (the third drifted): each run's folder, or None."""
    root = tmp_path_factory.mktemp("nightly")
    events, artifacts = root / "events", root / "artifacts"
    for day, shift in zip(DAYS, [0, 0, 2], strict=True):
        write_day(events, day, shift, 2000)
    base = RetrainConfig(
        source={
            "path": str(events),
            "label": "churned",
            "positive": "yes",
            "time_column": "ts",
            "window_days": 2,
        },
        holdout={"kind": "time"},
        training={"epochs": 1},
        selection={"sweep_points": 0, "n_seeds": 1},
        gate={"min_positives": 100_000},  # the first night becomes champion; later ones cannot
        storage={"artifacts_dir": str(artifacts)},
    )
    results = {}
    for name, nightly in [
        ("27th", {"as_of": "2026-11-27"}),
        ("27th again", {"as_of": "2026-11-27T23:00:00Z"}),
        ("28th", {"as_of": "2026-11-28"}),
        ("28th forced", {"as_of": "2026-11-28", "skip_unchanged": False}),
    ]:
        results[name] = Path(retrain(base.updated(nightly=nightly)))
    return {"artifacts": ArtifactStore(artifacts), "runs": results, "events": events}


def test_each_night_trains_on_its_window_and_tests_on_its_newest_rows(nights):
    run = store.RunPaths(nights["runs"]["27th"])
    manifest = store.read_json(run.manifest)
    assert manifest["as_of"] == "2026-11-27T00:00:00+00:00"
    assert manifest["data"]["partitions"] == ["2026-11-26", "2026-11-27"]
    assert manifest["data"]["window"] == {"days": 2, "range": "(2026-11-25, 2026-11-27]"}
    assert manifest["counts"]["dataset_rows"] == 4000
    assert "ts" not in {f["name"] for f in manifest["data"]["spec"]["features"]}
    # Out of time: every test row is newer than every training row.
    snapshot = store.read_parquet(run.dataset)
    times = pd.to_datetime(snapshot["ts"], utc=True)
    test_rows = store.read_parquet(run.test)
    # The gate's rows (by their keys' hash) first; the test part is the newest fifth of
    # the others.
    spec = manifest["data"]["spec"]
    columns = [f["name"] for f in spec["features"]] + [spec["label"]]
    gated = in_gate(row_keys(snapshot, columns), manifest["parts"]["share"])
    assert gated.sum() == manifest["counts"]["gate_rows"] > 0
    others = times[~gated].sort_values()
    n_test = -(-len(others) // 5)
    assert len(test_rows) == manifest["counts"]["test_rows"] == n_test
    newest = others.iloc[-n_test:]
    assert others.iloc[-n_test - 1] < newest.min()  # no tie across the cut here
    assert sorted(test_rows["amount"]) == sorted(snapshot.loc[newest.index, "amount"])


def test_an_unchanged_night_makes_no_run_and_force_retrains(nights):
    runs, artifacts = nights["runs"], nights["artifacts"]
    assert runs["27th again"] == runs["27th"]  # the same data and config: skipped
    assert runs["28th forced"] != runs["28th"]  # --force: retrained
    assert sorted(artifacts.run_ids()) == sorted(
        p.name for p in (runs["27th"], runs["28th"], runs["28th forced"])
    )
    first, forced = (store.read_json(store.RunPaths(runs[k]).manifest) for k in ("27th", "28th"))
    assert first["data"]["sha256"] != forced["data"]["sha256"]  # a partition arrived


def test_the_drift_against_the_champions_data_is_flagged_and_reported(nights):
    runs = nights["runs"]
    champion = nights["artifacts"].champion().run_id
    assert champion == runs["27th"].name
    manifest = store.read_json(store.RunPaths(runs["28th"]).manifest)
    drift = manifest["drift"]
    assert drift["status"] == "compared" and drift["against"] == champion
    by_name = {f["name"]: f for f in drift["features"]}
    assert by_name["amount"]["flagged"] and by_name["amount"]["psi"] > 0.2
    assert not by_name["country"]["flagged"]
    assert json.loads(json.dumps(drift)) == drift
    report = store.RunPaths(runs["28th"]).report.read_text()
    assert "## Drift against the champion's data" in report
    assert "| amount | numeric |" in report and "drifted |" in report
    assert "As of 2026-11-28T00:00:00+00:00." in report


def test_runs_lists_each_nights_as_of(nights):
    text = runs_table(list_runs(nights["artifacts"]))
    assert "AS OF" in text.splitlines()[0]
    assert text.count("2026-11-28 00:00:00") == 2 and text.count("2026-11-27 00:00:00") == 1

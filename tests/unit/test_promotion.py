"""A decision takes effect under the store's lock, and the run records what actually happened."""

from __future__ import annotations

import json

import pytest
from proposals import proposal

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.selection.champion import describe_decision
from imbalance.store import ArtifactStore
from imbalance.store.staged import staged_run

OLD = "20260101T000000Z-old"


def _complete(tmp_path, name: str, incumbent: str | None, score: float = 0.9):
    """Run a staged run to completion with a proposal made against `incumbent`."""
    cfg = RetrainConfig(storage={"artifacts_dir": str(tmp_path)})
    written = {}

    def record(decision, paths):
        written["paths"] = paths
        store.write_text(paths.report, describe_decision(decision))

    with staged_run(cfg, name) as staged:
        final = staged.complete(proposal(staged.paths.run_id, incumbent, score=score), record)
    return final, staged.decision


def _check_manifest(final) -> dict:
    manifest = store.read_json(final.manifest)
    for rel, digest in manifest["files"].items():
        assert store.file_digest(final.root / rel) == digest, rel
    return manifest


def test_a_promotion_is_applied_recorded_and_appended_to_the_history(tmp_path):
    final, decision = _complete(tmp_path, "20260102T000000Z-new", None)
    artifacts = ArtifactStore(tmp_path)
    assert decision.promoted is True
    assert artifacts.champion().run_id == final.run_id
    assert final.report.read_text().startswith("Candidate: manual")
    assert "Promoted: no champion yet" in final.report.read_text()
    assert _check_manifest(final)["champion"]["promoted"] is True
    [entry] = artifacts.champion_history()
    assert (entry.action, entry.run_id, entry.previous) == ("promote", final.run_id, None)


def test_a_run_that_lost_the_race_says_not_promoted_everywhere(tmp_path):
    # Both runs started on an empty store; the other one completed first.
    _complete(tmp_path, "20260102T000000Z-first", None)
    final, decision = _complete(tmp_path, "20260102T000001Z-second", None)
    artifacts = ArtifactStore(tmp_path)
    assert decision.promoted is False
    assert artifacts.champion().run_id == "20260102T000000Z-first"
    assert "Not promoted: the champion changed while this run trained" in final.report.read_text()
    assert _check_manifest(final)["champion"]["promoted"] is False
    assert [e.run_id for e in artifacts.champion_history()] == ["20260102T000000Z-first"]


def test_a_champion_that_cannot_be_written_leaves_a_run_that_says_so(tmp_path, monkeypatch):
    def read_only(self, record):
        raise OSError(30, "Read-only file system", str(self.champion_file))

    monkeypatch.setattr(ArtifactStore, "set_champion", read_only)
    final, decision = _complete(tmp_path, "20260102T000000Z-new", None)
    assert decision.promoted is False
    assert "champion.json could not be written" in final.report.read_text()
    manifest = _check_manifest(final)  # rewritten in runs/, digests still right
    assert manifest["champion"]["promoted"] is False
    assert ArtifactStore(tmp_path).champion() is None
    assert ArtifactStore(tmp_path).champion_history() == []


@pytest.mark.parametrize("damage", ["{ not json", "null", '{"variant": "x"}', ""])
def test_a_damaged_champion_file_is_never_overwritten_by_a_run(tmp_path, damage):
    artifacts = ArtifactStore(tmp_path)
    store.write_text(artifacts.champion_file, damage)
    final, decision = _complete(tmp_path, "20260102T000000Z-new", None)
    assert decision.promoted is False
    assert artifacts.champion_file.read_text() == damage
    assert "Not promoted" in final.report.read_text()


def test_a_damaged_latest_file_is_rebuilt_by_the_next_run(tmp_path):
    artifacts = ArtifactStore(tmp_path)
    first, _ = _complete(tmp_path, "20260102T000000Z-first", None)
    store.write_text(artifacts.latest_file, "{ garbled")
    assert artifacts.latest_run_id() == first.run_id  # readers fall back to the disk
    assert "latest.json is unreadable" in artifacts.state_problems()[0]
    second, _ = _complete(tmp_path, "20260102T000001Z-second", OLD)
    assert json.loads(artifacts.latest_file.read_text())["run_id"] == second.run_id
    assert not any("latest.json" in problem for problem in artifacts.state_problems())


def test_a_run_that_fails_before_completing_changes_nothing_shared(tmp_path):
    cfg = RetrainConfig(storage={"artifacts_dir": str(tmp_path)})
    with pytest.raises(RuntimeError), staged_run(cfg, "20260102T000000Z-boom") as staged:
        raise RuntimeError("boom")
    artifacts = ArtifactStore(tmp_path)
    assert artifacts.run_ids() == [] and artifacts.champion() is None
    failed = store.read_json(artifacts.staging_dir / staged.paths.run_id / "manifest.json")
    assert failed["status"] == "failed" and failed["error"] == "RuntimeError: boom"


def test_a_full_disk_after_the_move_leaves_no_run_in_runs_that_claims_a_promotion(
    tmp_path, monkeypatch
):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ArtifactStore, "set_champion", disk_full)
    monkeypatch.setattr(ArtifactStore, "write_manifest", _fail_after_first(disk_full))
    with pytest.raises(OSError, match="No space"):
        _complete(tmp_path, "20260102T000000Z-new", None)
    artifacts = ArtifactStore(tmp_path)
    assert artifacts.run_ids() == []  # moved back: a rename needs no space
    assert artifacts.unfinished_run_ids() == ["20260102T000000Z-new"]
    assert artifacts.champion() is None and artifacts.champion_history() == []


def _fail_after_first(fail):
    """Return a write_manifest that works once (the run completes), then fails."""
    original = ArtifactStore.write_manifest
    calls = []

    def write_manifest(self, run, manifest):
        calls.append(run)
        if len(calls) > 1:
            fail()
        return original(self, run, manifest)

    return write_manifest


def test_each_night_that_scores_the_champion_adds_to_its_track_record(tmp_path, capsys):
    from cli import main

    artifacts = ArtifactStore(tmp_path)
    _complete(tmp_path, "20260102T000000Z-first", None)  # no champion to score: no line
    assert artifacts.champion_scores() == []
    for night, score in (("20260103T000000Z-second", 0.9), ("20260104T000000Z-third", 0.2)):
        champion = artifacts.champion().run_id
        _complete(tmp_path, night, champion, score=score)
    second, third = artifacts.champion_scores()
    assert (second.run_id, second.champion, second.champion_score) == (
        "20260103T000000Z-second", "20260102T000000Z-first/manual", 0.3,
    )  # fmt: skip
    assert second.promoted and second.candidate_score == 0.9 and second.rule == "superior"
    assert third.champion == "20260103T000000Z-second/manual" and not third.promoted
    # A line torn by a kill is left out; the others still read.
    with open(artifacts.scores_file, "a") as fh:
        fh.write('{"run_id": "20260105T0')
    assert [s.run_id for s in artifacts.champion_scores()] == [second.run_id, third.run_id]
    assert main(["champion", "--artifacts-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "track record" in out and "promoted (superior)" in out and " kept" in out

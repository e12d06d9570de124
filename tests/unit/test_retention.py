"""Retention: the newest N complete runs, every champion's and every running run stay."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from imbalance import store
from imbalance.store import (
    ArtifactStore,
    ChampionRecord,
    HistoryEntry,
    RunPaths,
    RunRecord,
    StateFileError,
    lock,
    retention,
)

DAY = 86_400


def _ids(n: int) -> list[str]:
    """Return `n` run ids, oldest first."""
    return [f"2026010{day}T000000Z-run" for day in range(1, n + 1)]


def fake_run(artifacts: ArtifactStore, run_id: str, size: int = 1_000) -> RunPaths:
    """Return a complete run with one file of `size` bytes and a manifest."""
    run = artifacts.start_run(run_id)
    store.write_bytes(run.root / "models" / "m.keras", b"x" * size)
    return artifacts.complete_run(run, RunRecord(run_id, "completed"))


def staged_run(artifacts: ArtifactStore, run_id: str, days_old: float = 0) -> RunPaths:
    """Return a run left in staging (failed or killed), last touched `days_old` days ago."""
    run = artifacts.start_run(run_id)
    store.write_bytes(run.root / "data" / "dataset.parquet", b"y" * 500)
    if days_old:
        then = time.time() - days_old * DAY
        for path in (run.root, *run.root.rglob("*")):
            os.utime(path, (then, then))
    return run


def promote(artifacts: ArtifactStore, run_id: str) -> None:
    record = ChampionRecord(run_id, "balanced", "pr_auc", when="x")
    artifacts.set_champion(record)
    artifacts.append_history(HistoryEntry.of("promote", record, None, "test"))


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


@pytest.fixture
def artifacts(tmp_path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


def test_keeps_the_newest_n_complete_runs_and_reports_the_bytes_freed(artifacts):
    ids = _ids(5)
    for run_id in ids:
        fake_run(artifacts, run_id)
    sizes = {r: _size(artifacts.runs_dir / r) for r in ids}
    result = retention.enforce(artifacts, keep=2, staging_days=None)
    assert artifacts.run_ids() == [ids[4], ids[3]]
    assert [r.run_id for r in result.runs] == [ids[2], ids[1], ids[0]]
    assert result.freed == sizes[ids[0]] + sizes[ids[1]] + sizes[ids[2]] > 3_000
    assert result.kept == 2 and result.deleted == 3 and result.skipped == ()
    assert result.summary().startswith("retention: deleted 3 runs (")
    assert result.summary().endswith(", kept 2 complete runs")


def test_never_deletes_the_champions_run_or_a_former_champions(artifacts):
    ids = _ids(5)
    for run_id in ids:
        fake_run(artifacts, run_id)
    promote(artifacts, ids[0])
    promote(artifacts, ids[1])  # the champion now; ids[0] is a former one
    assert retention.protected_runs(artifacts) == {ids[0], ids[1]}
    result = retention.enforce(artifacts, keep=1, staging_days=None)
    assert artifacts.run_ids() == [ids[4], ids[1], ids[0]]
    assert result.summary().endswith(
        f"kept 3 complete runs; champions' runs kept: {ids[0]}, {ids[1]}"
    )


def test_never_deletes_a_running_run_in_staging_or_in_runs(artifacts):
    ids = _ids(3)
    older_done = fake_run(artifacts, ids[0])  # completed, its process not yet finished
    fake_run(artifacts, ids[1])
    running = staged_run(artifacts, ids[2], days_old=30)
    with artifacts.running(running), artifacts.running(older_done):
        result = retention.enforce(artifacts, keep=1, staging_days=0)
        assert result.summary() == "retention: nothing to delete"
        assert artifacts.unfinished_run_ids() == [ids[2]]
        assert artifacts.run_ids() == [ids[1], ids[0]]
    # once their process is gone, the killed run and the old run go
    result = retention.enforce(artifacts, keep=1, staging_days=0)
    assert [r.run_id for r in result.runs] == [ids[0]]
    assert [r.run_id for r in result.staging] == [ids[2]]
    assert artifacts.unfinished_run_ids() == [] and artifacts.run_ids() == [ids[1]]


def test_deletes_staging_runs_untouched_for_d_days_and_keeps_fresh_ones(artifacts):
    fake_run(artifacts, "20260101T000000Z-done")
    staged_run(artifacts, "20260102T000000Z-killed", days_old=10)
    staged_run(artifacts, "20260103T000000Z-failed", days_old=3)
    staged_run(artifacts, "20260104T000000Z-fresh")
    result = retention.enforce(artifacts, keep=None, staging_days=7)
    assert [r.run_id for r in result.staging] == ["20260102T000000Z-killed"]
    assert result.staging[0].bytes == 500 and result.freed == 500
    assert artifacts.unfinished_run_ids() == ["20260104T000000Z-fresh", "20260103T000000Z-failed"]
    assert artifacts.run_ids() == ["20260101T000000Z-done"]


@pytest.mark.parametrize(
    "damaged",
    [
        ("champion.json", "{ half"),
        ("champion.json", '{"variant": "x"}'),
        ("champion-history.jsonl", "not json\n"),
    ],
)
def test_unreadable_champion_files_delete_nothing(artifacts, damaged):
    ids = _ids(4)
    for run_id in ids:
        fake_run(artifacts, run_id)
    staged_run(artifacts, "20260109T000000Z-killed", days_old=30)
    store.write_text(artifacts.root / damaged[0], damaged[1])
    with pytest.raises(StateFileError):
        retention.enforce(artifacts, keep=1, staging_days=0)
    with pytest.raises(StateFileError):
        retention.plan(artifacts, keep=1, staging_days=0)
    assert artifacts.run_ids() == ids[::-1]
    assert artifacts.unfinished_run_ids() == ["20260109T000000Z-killed"]


@pytest.mark.parametrize("keep", [None, 0])
def test_keep_none_or_zero_keeps_every_complete_run(artifacts, keep):
    ids = _ids(4)
    for run_id in ids:
        fake_run(artifacts, run_id)
    staged_run(artifacts, "20260109T000000Z-killed", days_old=30)
    result = retention.enforce(artifacts, keep=keep, staging_days=None)
    assert result.deleted == 0 and result.summary() == "retention: nothing to delete"
    assert artifacts.run_ids() == ids[::-1]
    assert artifacts.unfinished_run_ids() == ["20260109T000000Z-killed"]


def test_negative_limits_are_refused(artifacts):
    with pytest.raises(ValueError, match="keep"):
        retention.plan(artifacts, keep=-1, staging_days=None)
    with pytest.raises(ValueError, match="staging_days"):
        retention.plan(artifacts, keep=None, staging_days=-1)


def test_a_run_deleted_between_plan_and_apply_is_skipped(artifacts):
    ids = _ids(4)
    for run_id in ids:
        fake_run(artifacts, run_id)
    staged_run(artifacts, "20260109T000000Z-killed", days_old=30)
    plan = retention.plan(artifacts, keep=1, staging_days=0)
    assert [r.run_id for r in plan.runs] == [ids[2], ids[1], ids[0]] and plan.kept == 1
    artifacts.delete_run(ids[1])  # another prune, by hand
    artifacts.delete_unfinished_run("20260109T000000Z-killed")
    result = retention.apply(artifacts, plan)
    assert [r.run_id for r in result.runs] == [ids[2], ids[0]]
    assert result.staging == ()
    assert set(result.skipped) == {ids[1], "20260109T000000Z-killed"}
    assert artifacts.run_ids() == [ids[3]]
    assert "skipped (gone or in use)" in result.summary()


def test_apply_rechecks_a_stale_plan_against_the_champion_now(artifacts):
    ids = _ids(3)
    for run_id in ids:
        fake_run(artifacts, run_id)
    plan = retention.plan(artifacts, keep=1, staging_days=None)
    promote(artifacts, ids[0])  # promoted after the plan was made
    result = retention.apply(artifacts, plan)
    assert [r.run_id for r in result.runs] == [ids[1]] and result.skipped == (ids[0],)
    assert artifacts.run_ids() == [ids[2], ids[0]]


def test_apply_inside_the_stores_lock_does_not_wait_for_itself(artifacts):
    ids = _ids(3)
    for run_id in ids:
        fake_run(artifacts, run_id)
    with artifacts.locked():
        result = retention.apply(artifacts, retention.plan(artifacts, 1, None))
    assert result.deleted == 2 and artifacts.run_ids() == [ids[2]]


def test_the_lock_is_held_for_the_renames_only_not_while_files_are_removed(artifacts, monkeypatch):
    # One slow delete must not block another run's promotion: the doomed runs leave
    # runs/ under the lock (at once) and their files go after it is released.
    ids = _ids(3)
    for run_id in ids:
        fake_run(artifacts, run_id)
    removed = []
    real_rmtree = retention.shutil.rmtree

    def rmtree(path, **kwargs):
        removed.append((Path(path).name, lock.holds(artifacts.root)))
        real_rmtree(path, **kwargs)

    monkeypatch.setattr(retention.shutil, "rmtree", rmtree)
    result = retention.enforce(artifacts, keep=1, staging_days=None)
    assert result.deleted == 2 and artifacts.run_ids() == [ids[2]]
    assert sorted(removed) == [(f".deleting-{ids[0]}", False), (f".deleting-{ids[1]}", False)]
    assert artifacts.trash_folders() == []

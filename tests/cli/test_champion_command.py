"""`imbalance champion` shows the history and rolls back; damaged state files give one line."""

from __future__ import annotations

import os
import time

import pytest

from imbalance import store
from imbalance.store import ArtifactStore, ChampionRecord, HistoryEntry

OLDEST, MIDDLE, NEWEST = (
    "20260101T000000Z-oldest",
    "20260102T000000Z-middle",
    "20260103T000000Z-newest",
)


def _promote(root, run_id: str, variant: str, previous: ChampionRecord | None) -> ChampionRecord:
    record = ChampionRecord(run_id, variant, "pr_auc", 0.05, "t")
    artifacts = ArtifactStore(root)
    artifacts.set_champion(record)
    artifacts.append_history(HistoryEntry.of("promote", record, previous, "beats it"))
    return record


def test_the_history_is_listed_and_a_rollback_restores_an_earlier_champion(artifacts, cli):
    first = _promote(artifacts, OLDEST, "balanced", None)
    _promote(artifacts, NEWEST, "manual", first)
    status, out, _ = cli("champion", "--artifacts-dir", artifacts)
    assert status == 0
    assert out.startswith(f"champion: {NEWEST}/manual (pr_auc 0.0500")
    lines = out.splitlines()
    assert lines[-2].split()[:2] == ["1", "t"] and f"{OLDEST}/balanced" in lines[-2]
    assert lines[-1].rstrip().endswith("*") and f"replaced {OLDEST}" not in lines[-1]

    status, out, _ = cli("champion", "--rollback", "1", "--artifacts-dir", artifacts)
    assert status == 0 and f"champion: {OLDEST}/balanced again" in out
    champion = ArtifactStore(artifacts).champion()
    assert (champion.run_id, champion.variant) == (OLDEST, "balanced")
    last = ArtifactStore(artifacts).champion_history()[-1]
    assert (last.action, last.previous) == ("rollback", f"{NEWEST}/manual")


def test_a_rollback_to_a_model_that_no_longer_matches_its_manifest_is_refused(artifacts, cli):
    first = _promote(artifacts, OLDEST, "balanced", None)
    _promote(artifacts, NEWEST, "manual", first)
    model = ArtifactStore(artifacts).run(OLDEST).model("balanced")
    model.write_bytes(model.read_bytes()[:-3])
    before = ArtifactStore(artifacts).champion_file.read_bytes()
    status, _, err = cli("champion", "--rollback", "1", "--artifacts-dir", artifacts)
    assert status == 2 and "differs from its manifest (sha256)" in err
    assert len(err.splitlines()) == 1
    assert ArtifactStore(artifacts).champion_file.read_bytes() == before
    status, _, err = cli("champion", "--rollback", "7", "--artifacts-dir", artifacts)
    assert status == 2 and "the history has entries 1 to 2" in err


def test_a_rollback_repairs_a_damaged_champion_file(artifacts, cli):
    _promote(artifacts, MIDDLE, "manual", None)
    store.write_text(ArtifactStore(artifacts).champion_file, "{ garbled")
    status, out, _ = cli("champion", "--artifacts-dir", artifacts)
    assert status == 0 and "champion.json is unreadable" in out
    assert cli("champion", "--rollback", "1", "--artifacts-dir", artifacts)[0] == 0
    assert ArtifactStore(artifacts).champion().run_id == MIDDLE


def test_damaged_state_files_give_one_line_in_every_reading_command(artifacts, cli):
    root = ArtifactStore(artifacts)
    store.write_text(root.champion_file, "null")
    store.write_text(root.latest_file, "{ garbled")
    for argv in (["runs"], ["show", "latest"], ["compare", OLDEST, "latest"]):
        status, _, err = cli(*argv, "--artifacts-dir", artifacts)
        assert status == 0, (argv, err)
        assert err.count("\n") == 2 and "champion.json is damaged" in err, err
        assert "latest.json is unreadable" in err
    status, _, err = cli("show", "champion", "--artifacts-dir", artifacts)
    assert status == 2 and "champion.json is damaged: it names no run" in err.splitlines()[-1]
    status, out, _ = cli("verify", "all", "--artifacts-dir", artifacts)
    assert status == 1 and "latest.json is unreadable" in out and "champion.json is damaged" in out


def test_prune_deletes_old_failed_and_killed_runs_but_not_fresh_ones(artifacts, cli):
    staging = ArtifactStore(artifacts).staging_dir
    old = time.time() - 10 * 86_400
    for path in (staging / "20260104T000000Z-failed").rglob("*"):
        os.utime(path, (old, old))
    os.utime(staging / "20260104T000000Z-failed", (old, old))
    status, out, _ = cli("prune", "--staging-days", "7", "--artifacts-dir", artifacts)
    assert status == 0
    assert out.splitlines()[0].startswith("deleted 20260104T000000Z-failed (")
    assert ArtifactStore(artifacts).unfinished_run_ids() == ["20260105T000000Z-killed"]
    assert len(ArtifactStore(artifacts).run_ids()) == 3  # no --keep: complete runs stay


def test_prune_never_deletes_a_run_that_is_still_running(artifacts, cli):
    store_ = ArtifactStore(artifacts)
    running = store_.start_run("20260106T000000Z-running")
    with store_.running(running):
        status, out, _ = cli("prune", "--staging-days", "0", "--artifacts-dir", artifacts)
        assert status == 0 and "running" not in out
        assert "20260106T000000Z-running" in store_.unfinished_run_ids()
    # Its process gone (here: the mark released), it is an old killed run like any other.
    status, out, _ = cli("prune", "--staging-days", "0", "--artifacts-dir", artifacts)
    assert "deleted 20260106T000000Z-running" in out
    assert store_.unfinished_run_ids() == []


@pytest.mark.parametrize("content", ["[]", "null", '{"files": []}', '{"files": {"a": 1}}'])
def test_a_manifest_of_the_wrong_shape_is_named_not_a_traceback(artifacts, cli, content):
    store.write_text(ArtifactStore(artifacts).run(MIDDLE).manifest, content)
    assert cli("runs", "--artifacts-dir", artifacts)[0] == 0
    status, out, _ = cli("verify", "all", "--artifacts-dir", artifacts)
    assert status == 1 and f"{MIDDLE}  1 problem" in out
    status, _, err = cli("show", MIDDLE, "--artifacts-dir", artifacts)
    assert status == 2 and f"cannot read the manifest of {MIDDLE}" in err
    status, _, err = cli("compare", MIDDLE, OLDEST, "--artifacts-dir", artifacts)
    assert status == 2 and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (f'{{"run_id": "{OLDEST}"}}', "champion.json is damaged: it names no variant"),
        ('{"run_id": "../../etc", "variant": "x"}', "champion.json is damaged: it names no run"),
    ],
)
def test_a_champion_file_without_a_usable_name_is_one_line(artifacts, cli, content, message):
    store.write_text(ArtifactStore(artifacts).champion_file, content)
    for argv in (["champion"], ["runs"], ["show", "champion"], ["verify", "all"]):
        status, out, err = cli(*argv, "--artifacts-dir", artifacts)
        assert message in out + err, argv
        assert "Traceback" not in out + err


def test_a_damaged_history_line_is_named_and_blocks_only_what_needs_it(artifacts, cli):
    _promote(artifacts, OLDEST, "balanced", None)
    with open(ArtifactStore(artifacts).history_file, "a") as fh:
        fh.write("{}\n")
    status, _, err = cli("champion", "--artifacts-dir", artifacts)
    assert status == 2 and "line 2 is damaged: it needs action, run_id and variant" in err
    status, _, err = cli("prune", "--keep", "1", "--artifacts-dir", artifacts)
    assert status == 2 and "nothing deleted" in err


def test_verify_names_a_run_that_says_promoted_without_a_promotion_on_record(artifacts, cli):
    # What a SIGKILL between a run's move into runs/ and the write of champion.json leaves.
    _promote(artifacts, OLDEST, "balanced", None)
    run = ArtifactStore(artifacts).run(NEWEST)
    manifest = store.read_json(run.manifest)
    manifest["champion"] |= {"promoted": True, "reason": "beats it"}
    store.write_json(run.manifest, manifest)
    status, out, _ = cli("verify", "all", "--artifacts-dir", artifacts)
    assert status == 1
    assert f"run {NEWEST} says Promoted, but champion-history.jsonl has no such promotion" in out

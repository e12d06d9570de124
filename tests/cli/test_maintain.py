"""`imbalance verify` catches changed files; `imbalance prune` keeps the newest and the champion."""

import pytest

from imbalance import store
from imbalance.store import ArtifactStore, ChampionRecord

OLDEST, MIDDLE, NEWEST = (
    "20260101T000000Z-oldest",
    "20260102T000000Z-middle",
    "20260103T000000Z-newest",
)


def test_verify_passes_runs_that_match_their_manifest(artifacts, cli):
    status, out, _ = cli("verify", "all", "--artifacts-dir", artifacts)
    assert status == 0
    assert out.splitlines() == [
        f"{NEWEST}  ok (7 files)",
        f"{MIDDLE}  ok (9 files)",
        f"{OLDEST}  ok (9 files)",
    ]


def test_verify_names_an_altered_a_truncated_a_missing_and_an_extra_file(artifacts, cli):
    run = ArtifactStore(artifacts).run(MIDDLE)
    model = run.model("manual").read_bytes()
    run.model("manual").write_bytes(model[:-1] + bytes([model[-1] ^ 1]))  # same size, one bit
    metrics = run.metrics.read_bytes()
    run.metrics.write_bytes(metrics[: len(metrics) // 2])
    run.report.unlink()
    (run.root / "notes.txt").write_text("added by hand")

    status, out, _ = cli("verify", MIDDLE, "--artifacts-dir", artifacts)
    assert status == 1
    lines = [line.split(maxsplit=1) for line in out.splitlines()]
    assert lines[0] == [MIDDLE, "4 problems"]
    problems = {" ".join(line) for line in lines[1:-1]}
    assert "altered models/manual.keras (sha256 differs, same size)" in problems
    assert f"truncated metrics.json ({len(metrics) // 2:,} of {len(metrics):,} bytes)" in problems
    assert "missing report.md" in problems
    assert any(p.startswith("not in manifest") and p.endswith("notes.txt") for p in problems)
    assert out.splitlines()[-1] == "verify: 1 of 1 runs differ from their manifest"


def test_verify_all_fails_if_one_run_differs_and_says_which(artifacts, cli):
    run = ArtifactStore(artifacts).run(OLDEST)
    run.model("baseline").write_bytes(b"")
    status, out, _ = cli("verify", "all", "--artifacts-dir", artifacts)
    assert status == 1
    assert f"{NEWEST}  ok" in out and f"{OLDEST}  1 problem\n" in out
    assert "truncated  models/baseline.keras (0 of" in out


def test_verify_reports_a_lost_manifest_and_a_champion_pointing_nowhere(artifacts, cli):
    run = ArtifactStore(artifacts).run(NEWEST)
    run.manifest.write_text("{ not json")
    ArtifactStore(artifacts).set_champion(ChampionRecord("20250101T000000Z-gone", "x"))
    status, out, _ = cli("verify", "all", "--artifacts-dir", artifacts)
    assert status == 1
    assert f"{NEWEST}  1 problem" in out and "unreadable  manifest.json" in out
    assert (
        "champion.json names 20250101T000000Z-gone/x, whose model cannot be used: "
        "its run 20250101T000000Z-gone is not a complete run"
    ) in out


def test_verify_of_an_unknown_run_is_a_one_line_error(artifacts, cli):
    status, _, err = cli("verify", "nope", "--artifacts-dir", artifacts)
    assert status == 2 and "no complete run 'nope'" in err and len(err.splitlines()) == 1


def test_prune_keeps_the_newest_and_the_champion_and_never_touches_staging(artifacts, cli):
    status, out, _ = cli("prune", "--keep", "1", "--artifacts-dir", artifacts)
    assert status == 0
    assert out.splitlines()[0].startswith(f"deleted {MIDDLE} (")
    assert out.splitlines()[-1].startswith("deleted 1 run (")
    assert f"champions' runs kept: {OLDEST}" in out
    artifacts_store = ArtifactStore(artifacts)
    assert artifacts_store.run_ids() == [NEWEST, OLDEST]
    assert artifacts_store.unfinished_run_ids() == [
        "20260105T000000Z-killed",
        "20260104T000000Z-failed",
    ]
    assert artifacts_store.run("champion").run_id == OLDEST
    assert cli("verify", "all", "--artifacts-dir", artifacts)[0] == 0


def test_prune_dry_run_deletes_nothing(artifacts, cli):
    status, out, _ = cli("prune", "--keep", "1", "--dry-run", "--artifacts-dir", artifacts)
    assert status == 0 and out.startswith(f"would delete {MIDDLE} (")
    assert ArtifactStore(artifacts).run_ids() == [NEWEST, MIDDLE, OLDEST]


def test_prune_without_a_champion_keeps_just_the_newest(tmp_path, cli, fake_run):
    for day in range(1, 5):
        fake_run(tmp_path, f"2026010{day}T000000Z-run")
    status, out, _ = cli("prune", "--keep", "2", "--artifacts-dir", tmp_path)
    assert status == 0 and "deleted 2 runs" in out
    assert ArtifactStore(tmp_path).run_ids() == ["20260104T000000Z-run", "20260103T000000Z-run"]
    assert ArtifactStore(tmp_path).run("latest").run_id == "20260104T000000Z-run"


@pytest.mark.parametrize("keep", ["0", "-1"])
def test_prune_refuses_to_keep_nothing(artifacts, cli, keep):
    status, _, err = cli("prune", "--keep", keep, "--artifacts-dir", artifacts)
    assert status == 2 and "--keep must be at least 1" in err
    assert len(ArtifactStore(artifacts).run_ids()) == 3


def test_prune_refuses_when_the_champion_file_is_unreadable(artifacts, cli):
    store.write_text(ArtifactStore(artifacts).champion_file, "{ half")
    status, _, err = cli("prune", "--keep", "1", "--artifacts-dir", artifacts)
    assert status == 2 and "cannot tell which runs were champions" in err
    assert len(ArtifactStore(artifacts).run_ids()) == 3


def test_prune_skips_a_run_whose_process_still_runs(artifacts, cli):
    artifacts_store = ArtifactStore(artifacts)
    with artifacts_store.running(artifacts_store.run(MIDDLE)):
        status, out, _ = cli(
            "prune", "--keep", "1", "--staging-days", "0", "--artifacts-dir", artifacts
        )
    assert status == 0 and MIDDLE not in out
    assert out.splitlines()[-1].startswith("deleted 2 runs (")
    assert artifacts_store.run_ids() == [NEWEST, MIDDLE, OLDEST]
    assert artifacts_store.unfinished_run_ids() == []

"""A run killed between any two steps of completing it leaves a store whose champion agrees.

Each case runs a promoting run in a subprocess (the store's code, no TensorFlow, no
Prefect) that SIGKILLs itself right after one step (`imbalance.store.staged.STEPS`,
the failpoint `IMBALANCE_KILL_AT`). Then `imbalance verify all` must pass, the run
is either complete, saying "Promoted", and the champion in champion.json and the
history, or still in staging with the old champion untouched; and a next run must
promote normally. The store before it: an old run, the champion's run (so retention
has something to delete), kept at 1 newest run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from proposals import proposal

from cli import main
from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.selection.champion import describe_decision
from imbalance.store import ArtifactStore, ChampionRecord, HistoryEntry, lock
from imbalance.store.commit import KILL_AT
from imbalance.store.staged import STEPS, staged_run

ROOT = Path(__file__).resolve().parents[2]
OLD, HELD, KILLED, NEXT = (
    "20260101T000000Z-old",
    "20260102T000000Z-held",
    "20260103T000000Z-killed",
    "20260104T000000Z-next",
)

# The killed process: what the flow's last step does, with a fake model.
RUN = """
import sys
sys.path.insert(0, sys.argv[4])  # tests/unit, for the proposal
from proposals import proposal
from imbalance import store
from imbalance.selection.champion import describe_decision
from imbalance.config import RetrainConfig
from imbalance.store.staged import staged_run

root, run_id, incumbent = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = RetrainConfig(artifacts_dir=root, keep_runs=1)
def record(decision, paths):
    store.write_text(paths.report, describe_decision(decision) + "\\n")
with staged_run(cfg, run_id) as staged:
    store.write_bytes(staged.paths.model("manual"), b"model of " + run_id.encode())
    staged.complete(proposal(run_id, incumbent or None), record)
"""


def _run(root: Path, run_id: str, incumbent: str | None, keep: int = 1) -> None:
    """Complete a promoting run in this process (as the subprocess does)."""

    def record(decision, paths):
        assert not lock.holds(root), "the report is written outside the store's lock"
        store.write_text(paths.report, describe_decision(decision) + "\n")

    cfg = RetrainConfig(artifacts_dir=str(root), keep_runs=keep)
    with staged_run(cfg, run_id) as staged:
        store.write_bytes(staged.paths.model("manual"), b"model of " + run_id.encode())
        staged.complete(proposal(run_id, incumbent), record)


def _store(tmp_path: Path) -> Path:
    """Return an artifacts folder with the champion's run and an older one, never promoted."""
    root = tmp_path / "artifacts"
    _run(root, HELD, None, keep=0)
    with staged_run(RetrainConfig(artifacts_dir=str(root), keep_runs=0), OLD) as staged:
        store.write_text(staged.paths.report, "an old run, Not promoted (none proposed)\n")
        staged.complete()
    assert ArtifactStore(root).champion().run_id == HELD
    return root


def _kill_after(root: Path, step: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if k != KILL_AT} | ({KILL_AT: step} if step else {})
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(root), KILLED, HELD, str(Path(__file__).parent)],
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    return done.returncode


def _verify(root: Path, capsys) -> tuple[int, str]:
    status = main(["verify", "all", "--artifacts-dir", str(root)])
    return status, capsys.readouterr().out


def _agrees(root: Path) -> None:
    """Every complete run's report and manifest agree with champion.json and the history."""
    artifacts = ArtifactStore(root)
    champion = artifacts.champion()
    history = artifacts.champion_history()
    assert (history[-1].run_id, history[-1].variant) == (champion.run_id, champion.variant)
    assert not artifacts.journal_file.exists()
    for run_id in artifacts.run_ids():
        record = store.read_record(artifacts.complete(run_id).manifest)
        report = artifacts.complete(run_id).report.read_text()
        claimed = record.claims_promotion
        assert ("Not promoted" not in report) == (claimed is not None), run_id
        if claimed:
            assert claimed in {(e.run_id, e.variant) for e in history if e.action == "promote"}
    newest_claim = next(
        (r for r in artifacts.run_ids() if store.read_record(artifacts.complete(r).manifest)
         .claims_promotion), None,
    )  # fmt: skip
    assert champion.run_id == newest_claim  # the newest promoted run holds it, none later


@pytest.mark.parametrize("step", STEPS)
def test_a_kill_after_each_step_leaves_a_store_that_agrees(tmp_path, capsys, step):
    root = _store(tmp_path)
    assert _kill_after(root, step) == -signal.SIGKILL, f"step {step!r} was never reached"
    artifacts = ArtifactStore(root)
    committed = step in STEPS[STEPS.index("journal written") :]
    status, out = _verify(root, capsys)  # completes a promotion left half done
    assert status == 0, out
    _agrees(root)
    if committed:  # the promotion had taken effect: it is completed, never lost
        assert artifacts.champion().run_id == KILLED
        assert KILLED in artifacts.run_ids() and KILLED not in artifacts.unfinished_run_ids()
    else:  # it had not: the champion stays, the killed run is an unfinished one
        assert artifacts.champion().run_id == HELD
        assert artifacts.unfinished_run_ids() == [KILLED] and KILLED not in artifacts.run_ids()
    # The next run settles against the champion now on disk and promotes as usual.
    _run(root, NEXT, artifacts.champion().run_id)
    status, out = _verify(root, capsys)
    assert status == 0, out
    _agrees(root)
    assert artifacts.champion().run_id == NEXT
    assert artifacts.trash_folders() == []  # a kill during retention's removal: cleaned


def test_an_unkilled_run_completes_and_promotes(tmp_path, capsys):
    # The control: the same subprocess, no failpoint, ends well and promotes.
    root = _store(tmp_path)
    assert _kill_after(root, None) == 0
    assert ArtifactStore(root).champion().run_id == KILLED
    assert ArtifactStore(root).run_ids() == [KILLED, HELD]  # OLD went to retention
    assert _verify(root, capsys)[0] == 0


@pytest.mark.parametrize("damage", ["garbled", "run gone"])
def test_an_interrupted_commit_that_cannot_be_completed_fails_closed_in_one_line(
    tmp_path, capsys, damage
):
    root = _store(tmp_path)
    assert _kill_after(root, "journal written") == -signal.SIGKILL
    artifacts = ArtifactStore(root)
    before = artifacts.champion_file.read_bytes()
    if damage == "garbled":
        artifacts.journal_file.write_text("{ half")
    else:
        shutil.rmtree(artifacts.staged(KILLED).root)  # by hand, say
    status, out = _verify(root, capsys)
    assert status == 1 and out.count("\n") == 1 and "commit.json" in out, out
    with pytest.raises(store.StateFileError, match="commit.json"):
        artifacts.champion()
    # A next run cannot change the pointers either: it fails, the champion stays.
    with pytest.raises(store.StateFileError, match="commit.json"):
        _run(root, NEXT, HELD)
    assert artifacts.champion_file.read_bytes() == before
    assert NEXT not in artifacts.run_ids()


def test_the_champion_changing_while_a_run_hashes_voids_its_promotion(tmp_path, monkeypatch):
    # Another process may promote while this run writes its manifest (no lock held
    # then); the commit sees champion.json changed and the run says "Not promoted".
    root = _store(tmp_path)
    original = ArtifactStore.write_manifest
    other = ChampionRecord(OLD, "manual", "pr_auc", 0.5, "now")

    def write_manifest(self, run, record):
        if run.run_id == KILLED and self.champion().run_id == HELD:

            def promote_other():
                with ArtifactStore(root).locked():  # blocks if this run held the lock
                    ArtifactStore(root).set_champion(other)
                    ArtifactStore(root).append_history(
                        HistoryEntry.of("rollback", other, None, "by hand, meanwhile")
                    )

            thread = threading.Thread(target=promote_other)
            thread.start()
            thread.join(timeout=10)
            assert not thread.is_alive(), "the store's lock was held while hashing"
        return original(self, run, record)

    monkeypatch.setattr(ArtifactStore, "write_manifest", write_manifest)
    _run(root, KILLED, HELD)
    artifacts = ArtifactStore(root)
    assert artifacts.champion() == other
    manifest = store.read_record(artifacts.complete(KILLED).manifest)
    assert manifest.claims_promotion is None
    assert "the champion changed while this run trained" in manifest.champion.reason
    assert "Not promoted" in artifacts.complete(KILLED).report.read_text()
    assert json.loads(artifacts.history_file.read_text().splitlines()[-1])["run_id"] == OLD

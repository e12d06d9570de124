"""The store's records round-trip their JSON, and a store written before they existed reads.

tests/fixtures/store_v1 was written by the code of issue 20 (imbalance/lifecycle.py,
no schema_version): two runs, the second promoted over the first, fake model files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from proposals import proposal

from cli import main
from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.selection.decision import Decision
from imbalance.store import (
    ArtifactStore,
    ChampionRecord,
    HistoryEntry,
    RunFacts,
    RunRecord,
    StateFileError,
)
from imbalance.store.commit import CommitRecord
from imbalance.store.records import SCHEMA_VERSION
from imbalance.store.staged import staged_run

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store_v1"
FIRST, SECOND = "20260101T000000Z-old-first", "20260102T000000Z-old-second"


@pytest.fixture
def old_store(tmp_path) -> ArtifactStore:
    shutil.copytree(FIXTURE, tmp_path / "artifacts")
    return ArtifactStore(tmp_path / "artifacts")


def test_an_old_manifest_reads_into_the_record_and_writes_back_the_same_json(old_store):
    path = old_store.complete(SECOND).manifest
    original = json.loads(path.read_text())
    assert "schema_version" not in original
    record = store.read_record(path)
    assert record.schema_version == 1
    assert record.facts.thresholds == {"manual": 0.42}
    assert record.facts.as_of == "2026-01-01T00:00:00+00:00"
    assert record.facts.counts["train_rows"] == 80
    assert record.claims_promotion == (SECOND, "manual")
    assert record.files["models/manual.keras"] == store.file_digest(
        old_store.complete(SECOND).model("manual")
    )
    written = record.to_json()
    # The decision reads into its record and is written back in its own newer form.
    assert Decision.from_json(written.pop("champion")) == Decision.from_json(
        original.pop("champion")
    )
    assert written == {"schema_version": 1, **original}


def test_old_champion_and_history_files_read_and_the_store_verifies(old_store, capsys):
    champion = old_store.champion()
    assert (champion.run_id, champion.variant, champion.schema_version) == (SECOND, "manual", 1)
    first, second = old_store.champion_history()
    assert (first.action, first.run_id, first.previous) == ("promote", FIRST, None)
    assert second.previous == f"{FIRST}/manual" and second.previous_run_id == FIRST
    assert old_store.state_problems() == []
    assert main(["verify", "all", "--artifacts-dir", str(old_store.root)]) == 0
    assert main(["champion", "--artifacts-dir", str(old_store.root)]) == 0
    assert f"champion: {SECOND}/manual" in capsys.readouterr().out


def test_a_new_run_promotes_over_an_old_champion_and_writes_the_new_schema(old_store):
    cfg = RetrainConfig(artifacts_dir=str(old_store.root), keep_runs=0)
    with staged_run(cfg, "20260103T000000Z-new") as staged:
        store.write_bytes(staged.paths.model("manual"), b"a new model")
        made = proposal(staged.paths.run_id, SECOND, incumbent_score=0.5)
        staged.complete(made, lambda d, paths: store.write_text(paths.report, "report"))
    champion = old_store.champion()
    assert champion.run_id == "20260103T000000Z-new"
    assert champion.schema_version == SCHEMA_VERSION
    raw = json.loads(old_store.champion_file.read_text())
    assert raw["schema_version"] == SCHEMA_VERSION
    last = old_store.champion_history()[-1]
    assert (last.previous, last.schema_version) == (f"{SECOND}/manual", SCHEMA_VERSION)
    manifest = store.read_record(old_store.complete("20260103T000000Z-new").manifest)
    assert manifest.schema_version == SCHEMA_VERSION
    assert main(["verify", "all", "--artifacts-dir", str(old_store.root)]) == 0


def test_new_records_round_trip_through_their_json():
    facts = RunFacts(
        counts={"train_rows": 8},
        as_of="2026-01-01T00:00:00+00:00",
        thresholds={"manual": 0.5},
        drift={"status": "no champion"},
    )
    record = RunRecord(
        "20260101T000000Z-a",
        "completed",
        config={"epochs": 2},
        facts=facts,
        champion=proposal("20260101T000000Z-a", "20260101T000000Z-b").with_verdict(False, "x"),
        files={"r.md": {"sha256": "0", "bytes": 1}},
    )
    assert RunRecord.from_json(json.loads(json.dumps(record.to_json())), "m") == record
    champion = ChampionRecord("20260101T000000Z-a", "manual", "pr_auc", 0.25, "now")
    assert ChampionRecord.from_json(champion.to_json(), "c") == champion
    entry = HistoryEntry.of("promote", champion, None, "first")
    assert HistoryEntry.from_json(entry.to_json(), "h") == entry
    journal = CommitRecord("20260101T000000Z-a", champion, entry)
    assert journal.to_json()["entry"] == entry.to_json()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"schema_version": 3, "run_id": "r", "status": "completed"}, "schema_version 3"),
        ({"run_id": "r"}, "needs a run_id and a status"),
        ({"run_id": "r", "status": "completed", "files": {"a": 1}}, "sha256 and bytes"),
        ({"run_id": "r", "status": "completed", "thresholds": [0.5]}, "thresholds is not"),
        ([], "not a JSON object"),
    ],
)
def test_a_manifest_it_cannot_trust_is_refused_in_one_line_naming_the_file(data, message):
    with pytest.raises(StateFileError, match=message) as caught:
        RunRecord.from_json(data, "runs/r/manifest.json")
    assert str(caught.value).startswith("runs/r/manifest.json") and "\n" not in str(caught.value)


def test_a_champion_file_of_a_newer_schema_is_refused_not_guessed(old_store):
    store.write_json(
        old_store.champion_file, {"schema_version": 9, "run_id": SECOND, "variant": "manual"}
    )
    with pytest.raises(StateFileError, match="schema_version 9"):
        old_store.champion()


OLD_RECORDS = Path(__file__).parent / "records_v0"


@pytest.mark.parametrize("name", ["selection_sweep.json", "selection_target_recall.json"])
def test_an_old_selection_file_reads_into_its_record_and_round_trips(name):
    from imbalance.selection.records import Selection

    raw = json.loads((OLD_RECORDS / name).read_text())
    assert "schema_version" not in raw
    selection = Selection.from_json(raw)
    assert selection.candidate in selection.variants
    assert selection.thresholds() == {
        v: raw["configurations"][v]["threshold"] for v in raw["variants"]
    }
    again = json.loads(json.dumps(selection.to_json()))
    assert again["schema_version"] == 1
    assert Selection.from_json(again) == selection
    # Every value of the old file is in the new one, as it was.
    assert {k: v for k, v in again.items() if k in raw} == {
        k: v for k, v in raw.items() if k in again
    }


def test_old_decisions_read_into_the_record_with_their_outcome_and_reason():
    entries = json.loads((OLD_RECORDS / "decisions.json").read_text())
    assert len(entries) >= 4
    for entry in entries:
        raw = entry["decision"]
        decision = Decision.from_json(raw)
        assert (decision.promoted, decision.reason) == (raw["promoted"], raw["reason"])
        assert decision.rule in {"first", "superior", "kept", "refused"}
        if raw.get("champion") and raw["champion"].get("comparison"):
            assert decision.comparison.low == raw["champion"]["comparison"]["low"]
        assert Decision.from_json(json.loads(json.dumps(decision.to_json()))) == decision

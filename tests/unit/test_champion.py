"""The gate's rule: superior, or non-inferior on newer data, on enough positive gate rows."""

import json
import os

import pandas as pd
import pytest

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data.generator import DATASET_SCHEMA
from imbalance.data.spec import GENERATOR_SPEC
from imbalance.selection.champion import decide, describe_decision, newer_data, settle
from imbalance.selection.decision import Candidate, Comparison, Decision, Incumbent
from imbalance.store import ArtifactStore, ChampionRecord
from tasks.champion import score_champion

NEW_RUN, OLD_RUN = "20260102T000000Z-new", "20260101T000000Z-old"
NEWER = {"as_of": "2026-01-02T02:00:00+00:00", "trained_rows": "b" * 64}
OLDER = {"as_of": "2026-01-01T02:00:00+00:00", "trained_rows": "a" * 64}


def _candidate(**data) -> Candidate:
    return Candidate(NEW_RUN, "manual", 0.9, gate_score=0.5, threshold=0.5, **data)


def _champion(**data) -> Incumbent:
    return Incumbent(run_id=OLD_RUN, variant="balanced", score=0.4, threshold=0.5, **data)


def _compared(low: float, high: float, positives: int = 60) -> Comparison:
    return Comparison("pr_auc", 0.5, 0.4, (low + high) / 2, low, high, 0.95, 1000, positives, 2000)


def _decide(candidate, champion, comparison, positives=60, **options) -> Decision:
    settings = {"min_improvement": 0.0, "margin": 0.02, "min_positives": 30} | options
    return decide(
        candidate, champion, comparison, metric="pr_auc", gate_rows=2000,
        gate_positives=positives, **settings,
    )  # fmt: skip


def test_the_first_run_promotes_its_candidate():
    decision = _decide(_candidate(), None, None)
    assert (decision.promoted, decision.rule) == (True, "first")
    assert decision.candidate.variant == "manual" and decision.champion is None


@pytest.mark.parametrize(
    ("low", "high", "data", "promoted", "rule", "says"),
    [
        # Superior: the whole interval above 0 (min_improvement), whatever the data.
        (0.02, 0.18, {}, True, "superior", "better than the champion"),
        (0.02, 0.18, NEWER, True, "superior", "better than the champion"),
        # Level, same data: the champion stays.
        (-0.01, 0.05, {}, False, "kept", "not better than the champion"),
        # Level on newer data: a model of today's rows replaces yesterday's.
        (-0.01, 0.05, NEWER, True, "non-inferior", "trained on newer data"),
        # Maybe worse by more than the margin on newer data: kept.
        (-0.05, 0.03, NEWER, False, "kept", "may be worse than the champion"),
        # Clearly worse: kept, and said so.
        (-0.2, -0.05, {}, False, "kept", "worse than the champion"),
        (-0.2, -0.05, NEWER, False, "kept", "may be worse"),
    ],
)
def test_the_rule_promotes_a_superior_run_or_a_non_inferior_one_on_newer_data(
    low, high, data, promoted, rule, says
):
    champion = _champion(**OLDER)
    decision = _decide(_candidate(**data), champion, _compared(low, high))
    assert (decision.promoted, decision.rule) == (promoted, rule)
    assert says in decision.reason
    assert decision.comparison.low == low
    assert "95% interval" in describe_decision(decision)


def test_min_improvement_raises_the_bar_of_superiority():
    decision = _decide(_candidate(), _champion(), _compared(0.02, 0.18), min_improvement=0.05)
    assert not decision.promoted and "by more than 0.05" in decision.reason


def test_newer_data_needs_a_later_as_of_and_other_rows_and_unknown_is_not_newer():
    assert newer_data(_candidate(**NEWER), _champion(**OLDER))
    assert not newer_data(_candidate(**OLDER), _champion(**NEWER))  # older data
    same_rows = {**NEWER, "trained_rows": OLDER["trained_rows"]}
    assert not newer_data(_candidate(**same_rows), _champion(**OLDER))  # a rerun, later
    assert not newer_data(_candidate(**NEWER), _champion())  # the champion's unknown
    naive = {**NEWER, "as_of": "2026-01-02T02:00:00"}
    assert not newer_data(_candidate(**naive), _champion(**OLDER))  # not comparable


@pytest.mark.parametrize("positives", [0, 6, 29])
def test_a_gate_with_too_few_positives_refuses_naming_the_counts(positives):
    comparison = _compared(0.02, 0.18, positives) if positives else None
    decision = _decide(
        _candidate(**NEWER), _champion(**OLDER), comparison, positives=positives,
        more_rows=": raise gate.share",
    )  # fmt: skip
    assert (decision.promoted, decision.rule) == (False, "refused")
    assert f"the gate has {positives} positive row(s) of 2,000" in decision.reason
    assert "a comparison needs 30: raise gate.share" in decision.reason


def test_a_champion_that_cannot_be_scored_is_kept_and_the_reason_given():
    champion = Incumbent(run_id=OLD_RUN, variant="balanced", error="its model file is gone")
    decision = _decide(_candidate(**NEWER), champion, None)
    assert (decision.promoted, decision.rule) == (False, "kept")
    assert "cannot be compared (its model file is gone)" in decision.reason
    assert "--rollback" in decision.reason


def test_a_run_not_eligible_is_never_promoted_not_even_the_first():
    decision = _decide(_candidate(), None, None, eligible=False)
    assert not decision.promoted and "not eligible" in decision.reason


def test_no_candidate_means_nothing_promoted():
    decision = _decide(None, None, None)
    assert not decision.promoted and "no variant has a pr_auc" in decision.reason


def test_a_decision_round_trips_through_its_json():
    decision = _decide(_candidate(**NEWER), _champion(**OLDER), _compared(-0.01, 0.05))
    assert Decision.from_json(json.loads(json.dumps(decision.to_json()))) == decision


def test_a_proposal_stands_while_the_champion_it_was_compared_with_holds():
    decision = _decide(_candidate(), _champion(), _compared(0.02, 0.18))
    assert settle(decision, Incumbent(run_id=OLD_RUN, variant="balanced")).promoted


def test_a_proposal_is_void_once_another_run_replaced_the_champion():
    decision = _decide(_candidate(), _champion(), _compared(0.02, 0.18))
    newer = Incumbent(run_id="20260103T000000Z-other", variant="manual")
    settled = settle(decision, newer)
    assert not settled.promoted
    assert "champion changed while this run trained" in settled.reason
    assert "20260103T000000Z-other/manual" in settled.reason
    first = _decide(_candidate(), None, None)  # the first run, but another one promoted
    assert not settle(first, newer).promoted


def test_a_proposal_is_void_when_the_champion_file_became_unreadable():
    settled = settle(_decide(_candidate(), None, None), Incumbent(error="champion.json is bad"))
    assert not settled.promoted and "champion.json is bad" in settled.reason


def test_a_failed_champion_write_keeps_the_old_file_whole(tmp_path, monkeypatch):
    artifacts = ArtifactStore(tmp_path)
    artifacts.set_champion(ChampionRecord(OLD_RUN, "balanced"))
    before = artifacts.champion_file.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)  # after the bytes are written, before the rename
    with pytest.raises(OSError, match="No space"):
        artifacts.set_champion(
            ChampionRecord.from_decision(_decide(_candidate(), None, None), "2026-01-02T00:00")
        )
    assert artifacts.champion_file.read_bytes() == before
    assert json.loads(before)["run_id"] == OLD_RUN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["champion.json"]


def test_a_champion_whose_run_is_gone_is_reported_not_raised(tmp_path):
    cfg = RetrainConfig(storage={"artifacts_dir": str(tmp_path / "artifacts")})
    artifacts = ArtifactStore(cfg.storage.artifacts_dir)
    artifacts.set_champion(ChampionRecord("20260101T000000Z-gone", "balanced"))
    run = artifacts.start_run(NEW_RUN)
    gate = pd.DataFrame({"x1": [0.1, 0.2], "x2": [0.3, 0.4], "label": [0, 1]})
    store.write_parquet(run.gate, gate, DATASET_SCHEMA, {})
    scored = score_champion.fn(cfg, run, GENERATOR_SPEC)
    assert scored.scores is None and scored.incumbent.score is None
    assert "20260101T000000Z-gone" in scored.incumbent.error
    assert not _decide(_candidate(), scored.incumbent, None).promoted


def test_no_champion_means_nothing_to_score(tmp_path):
    cfg = RetrainConfig(storage={"artifacts_dir": str(tmp_path)})
    run = ArtifactStore(tmp_path).start_run(NEW_RUN)
    assert score_champion.fn(cfg, run, GENERATOR_SPEC) is None

"""Choosing the best variant and promoting it only when it beats the champion."""

import json
import os

import pandas as pd
import pytest

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data.generator import DATASET_SCHEMA
from imbalance.data.spec import GENERATOR_SPEC
from imbalance.selection.champion import (
    best_variant,
    decide,
    describe_decision,
    settle,
)
from imbalance.store import ArtifactStore, ChampionRecord
from tasks.champion import score_champion


def _metrics(**pr_auc: float | None) -> dict:
    return {"variants": {name: {"pr_auc": v, "recall": 0.5} for name, v in pr_auc.items()}}


def _incumbent(score: float | None, **extra) -> dict:
    return {"run_id": "20260101T000000Z-old", "variant": "balanced", "score": score} | extra


NEW_RUN = "20260102T000000Z-new"


def test_the_best_variant_is_the_highest_score_and_the_first_listed_wins_a_tie():
    assert best_variant(_metrics(baseline=0.1, balanced=0.3, manual=0.2), "pr_auc") == (
        "balanced",
        0.3,
    )
    assert best_variant(_metrics(baseline=0.3, manual=0.3), "pr_auc")[0] == "baseline"
    assert best_variant(_metrics(baseline=None, manual=0.2), "pr_auc") == ("manual", 0.2)
    assert best_variant(_metrics(baseline=None), "pr_auc") is None


def test_the_first_run_promotes_its_best_variant():
    decision = decide(NEW_RUN, _metrics(baseline=0.1, manual=0.2), "pr_auc", 0.0, None)
    assert decision["promoted"] is True
    assert decision["candidate"] == {"run_id": NEW_RUN, "variant": "manual", "score": 0.2}
    assert decision["champion"] is None


@pytest.mark.parametrize(
    ("candidate", "champion", "min_improvement", "promoted"),
    [
        (0.40, 0.30, 0.0, True),  # better
        (0.20, 0.30, 0.0, False),  # worse
        (0.30, 0.30, 0.0, False),  # equal: the champion stays
        (0.30 + 1e-12, 0.30, 0.0, False),  # equal but for float noise
        (0.35, 0.30, 0.05, True),  # exactly the required margin (0.35 - 0.30 < 0.05 in floats)
        (0.35, 0.30, 0.06, False),  # better, but not by enough
    ],
)
def test_promotion_needs_a_real_improvement_of_at_least_the_margin(
    candidate, champion, min_improvement, promoted
):
    decision = decide(
        NEW_RUN, _metrics(balanced=candidate), "pr_auc", min_improvement, _incumbent(champion)
    )
    assert decision["promoted"] is promoted
    assert decision["candidate"]["score"] == candidate
    assert decision["champion"]["score"] == champion
    assert decision["improvement"] == pytest.approx(candidate - champion)


def test_a_tie_says_so():
    decision = decide(NEW_RUN, _metrics(balanced=0.3), "pr_auc", 0.0, _incumbent(0.3))
    assert decision["reason"] == "ties with the champion 20260101T000000Z-old/balanced, which stays"


def test_a_champion_that_cannot_be_scored_is_kept_and_the_reason_given():
    incumbent = _incumbent(None, error="its model file x.keras differs from its manifest (sha256)")
    decision = decide(NEW_RUN, _metrics(balanced=0.9), "pr_auc", 0.0, incumbent)
    assert decision["promoted"] is False
    assert "differs from its manifest" in decision["reason"]
    assert "rolled back" in decision["reason"]


def test_no_candidate_without_the_metric_and_nothing_promoted():
    decision = decide(NEW_RUN, _metrics(balanced=None), "pr_auc", 0.0, None)
    assert decision["promoted"] is False
    assert decision["candidate"] is None
    assert "no variant has a pr_auc" in describe_decision(decision)


def test_the_report_sentence_gives_both_scores_and_the_outcome():
    incumbent = _incumbent(0.25, recorded_metric="pr_auc", recorded_score=0.27)
    decision = decide(NEW_RUN, _metrics(manual=0.2), "pr_auc", 0.0, incumbent)
    text = describe_decision(decision)
    assert "manual, validation pr_auc 0.2000" in text
    assert "20260101T000000Z-old/balanced" in text and "pr_auc 0.2500" in text
    assert "0.2700" in text
    assert text.count("Not promoted") == 1


def _promoting_decision(champion: dict | None) -> dict:
    return decide(NEW_RUN, _metrics(manual=0.9), "pr_auc", 0.0, champion)


def test_a_proposal_stands_while_the_champion_it_was_compared_with_holds():
    decision = _promoting_decision(_incumbent(0.1))
    held = {"run_id": "20260101T000000Z-old", "variant": "balanced", "score": 0.3}
    assert settle(decision, held)["promoted"] is True


def test_a_proposal_is_void_once_another_run_replaced_the_champion():
    decision = _promoting_decision(_incumbent(0.1))  # compared against ...-old/balanced
    newer = {"run_id": "20260103T000000Z-other", "variant": "manual", "score": 0.95}
    settled = settle(decision, newer)
    assert settled["promoted"] is False
    assert "champion changed while this run trained" in settled["reason"]
    assert "20260103T000000Z-other/manual" in settled["reason"]
    first = _promoting_decision(None)  # the first run, but another one promoted meanwhile
    assert settle(first, newer)["promoted"] is False


def test_a_proposal_is_void_when_the_champion_file_became_unreadable():
    settled = settle(_promoting_decision(None), {"error": "champion.json is unreadable"})
    assert settled["promoted"] is False and "unreadable" in settled["reason"]


def test_a_failed_champion_write_keeps_the_old_file_whole(tmp_path, monkeypatch):
    artifacts = ArtifactStore(tmp_path)
    artifacts.set_champion(ChampionRecord("20260101T000000Z-old", "balanced"))
    before = artifacts.champion_file.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)  # after the bytes are written, before the rename
    with pytest.raises(OSError, match="No space"):
        artifacts.set_champion(
            ChampionRecord.from_decision(_promoting_decision(None), "2026-01-02T00:00:00")
        )
    assert artifacts.champion_file.read_bytes() == before
    assert json.loads(before)["run_id"] == "20260101T000000Z-old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["champion.json"]


def test_a_champion_whose_run_is_gone_is_reported_not_raised(tmp_path):
    cfg = RetrainConfig(storage={"artifacts_dir": str(tmp_path / "artifacts")})
    artifacts = ArtifactStore(cfg.storage.artifacts_dir)
    artifacts.set_champion(ChampionRecord("20260101T000000Z-gone", "balanced"))
    run = artifacts.start_run(NEW_RUN)
    test = pd.DataFrame({"x1": [0.1, 0.2], "x2": [0.3, 0.4], "label": [0, 1]})
    store.write_parquet(run.train, test, DATASET_SCHEMA, {})
    pd.DataFrame({"row": [0, 1]}).to_parquet(run.validation)
    incumbent = score_champion.fn(cfg, run, GENERATOR_SPEC)
    assert incumbent["score"] is None
    assert "20260101T000000Z-gone" in incumbent["error"]
    assert not decide(NEW_RUN, _metrics(balanced=0.1), "pr_auc", 0.0, incumbent)["promoted"]


def test_no_champion_means_nothing_to_score(tmp_path):
    cfg = RetrainConfig(storage={"artifacts_dir": str(tmp_path)})
    run = ArtifactStore(tmp_path).start_run(NEW_RUN)
    assert score_champion.fn(cfg, run, GENERATOR_SPEC) is None


def _compared(low: float, high: float, positives: int = 100) -> dict:
    comparison = {
        "metric": "pr_auc",
        "candidate": 0.5,
        "incumbent": 0.4,
        "difference": (low + high) / 2,
        "low": low,
        "high": high,
        "confidence": 0.95,
        "resamples": 1000,
        "positives": positives,
        "rows": 20_000,
    }
    return _incumbent(0.4, threshold=0.5, comparison=comparison)


@pytest.mark.parametrize(
    ("low", "high", "positives", "min_improvement", "promoted", "says"),
    [
        (0.02, 0.18, 100, 0.0, True, "beats the champion"),
        (-0.01, 0.21, 100, 0.0, False, "no evidence it beats"),  # the interval holds 0
        (0.02, 0.18, 100, 0.05, False, "by more than 0.05"),  # evidence, not of enough
        (0.02, 0.18, 6, 0.0, False, "6 positive gate row(s), fewer than the 30"),
    ],
)
def test_the_gate_needs_an_interval_clear_of_the_bar_on_enough_positives(
    low, high, positives, min_improvement, promoted, says
):
    # A smoke run whose point estimate is higher cannot replace a champion on noise.
    incumbent = _compared(low, high, positives)
    decision = decide(
        NEW_RUN, _metrics(manual=0.9), "pr_auc", min_improvement, incumbent, min_positives=30
    )
    assert decision["promoted"] is promoted
    assert says in decision["reason"]
    assert decision["interval"] == [low, high]
    assert "95% interval" in describe_decision(decision)


def test_a_run_not_eligible_is_never_promoted_not_even_the_first():
    decision = decide(NEW_RUN, _metrics(manual=0.9), "pr_auc", 0.0, None, eligible=False)
    assert not decision["promoted"] and "not eligible" in decision["reason"]


def test_a_gate_too_small_to_compare_on_refuses_rather_than_compare_points():
    # No bootstrap was possible (no positive gate row): the point estimates are not used.
    incumbent = _incumbent(0.1, threshold=0.5)
    decision = decide(
        NEW_RUN, _metrics(manual=0.9), "pr_auc", 0.0, incumbent, min_positives=30, gate_positives=0
    )
    assert decision["promoted"] is False
    assert "0 positive gate row(s), fewer than the 30" in decision["reason"]

"""Tasks: score the current champion on this run's test split, and propose a decision.

The champion's model is checked against its run's manifest (sha256) and scored again
on the *new* run's test split, so both are judged on the same rows by the same
metric. Whatever stops that (a damaged champion.json, a missing run, an altered or
unloadable model, non-finite scores) comes back as an `error`, and the decision then
keeps the champion: the gate fails closed. The proposal takes effect only when the
run completes (`imbalance.lifecycle`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from prefect import task

from imbalance import store
from imbalance.champion import decide, describe_decision, holder_text
from imbalance.config import RetrainConfig
from imbalance.data.spec import DataError, DataSpec, recorded_spec, same_task
from imbalance.evaluation import variant_metrics
from imbalance.scoring import score
from imbalance.store import ArtifactStore, RunPaths, StateFileError
from tasks._prefect import run_logger


class ChampionUnusable(Exception):
    """The champion cannot be checked or scored; the message is the one-line reason."""


def load_champion_model(artifacts: ArtifactStore, record: dict[str, Any], spec: DataSpec):
    """Return (model, threshold, spec) of the champion, checked against its run's manifest.

    Refused (ChampionUnusable) unless it was trained for the same label and on the same
    feature columns as this run's `spec`: scores of other columns are not comparable.
    """
    problem = artifacts.model_problem(record["run_id"], record["variant"])
    if problem:
        raise ChampionUnusable(problem)
    run = artifacts.run(record["run_id"])
    path = run.model(record["variant"])
    manifest = store.read_json(run.manifest)
    try:
        threshold = float(manifest["config"]["threshold"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ChampionUnusable(f"its run's manifest has no valid threshold ({exc!r})") from None
    if not 0 < threshold < 1:
        raise ChampionUnusable(f"its run's manifest has threshold {threshold}, not in (0, 1)")
    try:
        own = recorded_spec(manifest)
    except DataError as exc:
        raise ChampionUnusable(str(exc)) from None
    different = same_task(own, spec)
    if different:
        raise ChampionUnusable(
            f"it was trained on other data: {different}; keep each data set's runs in "
            "an artifacts folder of their own (--artifacts-dir)"
        )
    try:
        return store.load_model(path), threshold
    except Exception as exc:  # Keras raises many kinds for a file it cannot load
        raise ChampionUnusable(f"its model file {path} cannot be loaded ({exc})") from None


@task(name="score_champion")
def score_champion(cfg: RetrainConfig, run: RunPaths, spec: DataSpec) -> dict[str, Any] | None:
    """Return the current champion scored on this run's test split, None if there is none."""
    artifacts = ArtifactStore(cfg.artifacts_dir)
    try:
        record = artifacts.champion()
    except StateFileError as exc:
        _logger().warning("cannot score the champion: %s", exc)
        return {"error": str(exc)}
    if record is None:
        return None
    incumbent = {
        "run_id": record["run_id"],
        "variant": record.get("variant"),
        "recorded_metric": record.get("metric"),
        "recorded_score": record.get("score"),
        "score": None,
    }
    test = store.read_parquet(run.test)
    y = spec.target(test)
    try:
        model, threshold = load_champion_model(artifacts, record, spec)
        try:
            # Scored as the candidates were (imbalance.scoring.score): one model, one score.
            scores = score(model, test, spec)
            if not np.isfinite(scores).all():
                raise ValueError("its scores are not finite")
            # The champion's own threshold: the one `imbalance predict` would label with.
            measured = variant_metrics(y, scores, threshold)
        except Exception as exc:  # another feature schema, output shape, ...: any reason
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ChampionUnusable(
                f"it cannot be scored on this run's test rows ({type(exc).__name__}: {why})"
            ) from None
    except ChampionUnusable as exc:
        _logger().warning("cannot score the champion %s: %s", holder_text(record), exc)
        return incumbent | {"error": str(exc)}
    return incumbent | {"score": measured[cfg.selection_metric], "threshold": threshold}


@task(name="decide_champion")
def decide_champion(
    cfg: RetrainConfig, run: RunPaths, metrics: dict, incumbent: dict[str, Any] | None
) -> dict[str, Any]:
    """Return this run's proposal: whether its best variant should replace the champion."""
    decision = decide(run.run_id, metrics, cfg.selection_metric, cfg.min_improvement, incumbent)
    _logger().info("champion proposal: %s", describe_decision(decision))
    return decision


def _logger():
    return run_logger("imbalance.champion")

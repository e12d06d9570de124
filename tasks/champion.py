"""Tasks: score the current champion on this run's validation rows, and propose a decision.

The champion's model is checked against its run's manifest (sha256) and scored again
on the *new* run's validation rows, so it and the candidate are judged on the same
rows by the same metric. Whatever stops that (a damaged champion.json, a missing run,
an altered or unloadable model, non-finite scores) comes back as an `error`, and the
decision then keeps the champion: the gate fails closed. The proposal takes effect only when the
run completes (`imbalance.store.staged`).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
from prefect import task

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data.spec import DataError, DataSpec, recorded_spec, same_task
from imbalance.model.scoring import recorded_threshold, score
from imbalance.selection.bootstrap import paired_bootstrap
from imbalance.selection.champion import decide, describe_decision
from imbalance.selection.metrics import variant_metrics
from imbalance.selection.thresholds import choose_threshold
from imbalance.store import ArtifactStore, ChampionRecord, RunPaths, StateFileError
from tasks._prefect import run_logger

# Resamples of the paired bootstrap: 1,000 give the 2.5% and 97.5% percentiles to
# about ±0.005 of their own spread, in well under a second on 20,000 rows.
BOOTSTRAP_RESAMPLES = 1000


class ChampionUnusable(Exception):
    """The champion cannot be checked or scored; the message is the one-line reason."""


def load_champion_model(artifacts: ArtifactStore, record: ChampionRecord, spec: DataSpec):
    """Return (model, threshold, spec) of the champion, checked against its run's manifest.

    Refused (ChampionUnusable) unless it was trained for the same label and on the same
    feature columns as this run's `spec`: scores of other columns are not comparable.
    """
    problem = artifacts.model_problem(record.run_id, record.variant)
    if problem:
        raise ChampionUnusable(problem)
    run = artifacts.run(record.run_id)
    path = run.model(record.variant)
    manifest = store.read_json(run.manifest)
    try:
        threshold = recorded_threshold(manifest, record.variant)
    except (KeyError, TypeError, ValueError) as exc:
        raise ChampionUnusable(f"its run's manifest has no valid threshold ({exc!r})") from None
    if not 0 < threshold <= 1:
        raise ChampionUnusable(f"its run's manifest has threshold {threshold}, not in (0, 1]")
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
    """Return the current champion scored on this run's validation rows (None: no champion).

    With its `scores` on all of them: its threshold is chosen on the rows outside the
    gate, as the candidate's was, and the two are compared on the gate rows
    (`decide_champion`). `score`: its selection metric on the gate rows at its own
    threshold. A gate without a positive row leaves the metric undefined; the gate
    then refuses for want of positives.
    """
    artifacts = ArtifactStore(cfg.storage.artifacts_dir)
    try:
        record = artifacts.champion()
    except StateFileError as exc:
        _logger().warning("cannot score the champion: %s", exc)
        return {"error": str(exc)}
    if record is None:
        return None
    incumbent = {
        "run_id": record.run_id,
        "variant": record.variant,
        "recorded_metric": record.metric,
        "recorded_score": record.score,
        "score": None,
    }
    train, held = store.read_training_part(run)
    rows = train[held]
    _, gate = store.read_validation_parts(run, len(train))
    on_gate = gate[held]  # the gate rows among the validation rows, in their order
    y = spec.target(rows)
    try:
        model, threshold = load_champion_model(artifacts, record, spec)
        try:
            # Scored from raw rows by its saved model, as `imbalance predict` would.
            scores = score(model, rows, spec)
            if not np.isfinite(scores).all():
                raise ValueError("its scores are not finite")
            # The champion's own threshold: the one `imbalance predict` would label with;
            # on the gate rows, where the candidate is compared with it. A gate without
            # both classes measures nothing (the gate then refuses for want of positives).
            gate_y = y[on_gate]
            both = 0 < gate_y.sum() < len(gate_y)
            measured = variant_metrics(gate_y, scores[on_gate], threshold) if both else {}
        except Exception as exc:  # another feature schema, output shape, ...: any reason
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ChampionUnusable(
                f"it cannot be scored on this run's rows ({type(exc).__name__}: {why})"
            ) from None
    except ChampionUnusable as exc:
        _logger().warning("cannot score the champion %s: %s", record.holder, exc)
        return incumbent | {"error": str(exc)}
    return incumbent | {
        "score": measured.get(cfg.selection.metric),
        "threshold": threshold,
        "scores": scores,
    }


@task(name="decide_champion")
def decide_champion(
    cfg: RetrainConfig,
    run: RunPaths,
    spec: DataSpec,
    selection: dict,
    incumbent: dict[str, Any] | None,
) -> dict[str, Any]:
    """Return this run's proposal: whether its chosen variant should replace the champion.

    The evidence: the candidate's model for choosing (blind to these rows) and the
    champion scored on the same gate rows (validation rows no choice was made on),
    their difference in the selection metric with a paired bootstrap interval
    (`imbalance.selection.bootstrap.paired_bootstrap`).
    """
    metric = cfg.selection.metric
    validation = {
        "variants": {v: {metric: selection["configurations"][v][metric][0]}
                     for v in selection["variants"]}
    }  # fmt: skip
    gate_positives = None
    if incumbent is not None and incumbent.get("scores") is not None:
        incumbent = dict(incumbent)
        scores = incumbent.pop("scores")
        labels, held = store.read_training_part(run, columns=[spec.label])
        _, gate = store.read_validation_parts(run, len(labels))
        on_gate = gate[held]  # `scores` are over the validation rows, in their order
        y = spec.target(labels[held])
        # The candidate's threshold was chosen on the validation rows outside the gate:
        # for a metric at a threshold, the champion's is chosen on them the same way,
        # so neither side is the more optimistic (its own threshold came from other rows).
        own = choose_threshold(
            y[~on_gate], scores[~on_gate], cfg.selection.threshold_policy,
            cfg.selection.threshold_target, cfg.selection.threshold,
        ).threshold  # fmt: skip
        gate_positives = int(y[on_gate].sum())
        if 0 < gate_positives < on_gate.sum():  # both classes: the bootstrap can resample
            comparison = paired_bootstrap(
                y[on_gate],
                selection["candidate_scores"],
                scores[on_gate],
                metric,
                thresholds=(selection["candidate_threshold"], own),
                resamples=BOOTSTRAP_RESAMPLES,
                seed=cfg.holdout.seed,
            )
            incumbent["comparison"] = asdict(comparison)
    decision = decide(
        run.run_id,
        validation,
        metric,
        cfg.gate.min_improvement,
        incumbent,
        min_positives=cfg.gate.min_positives,
        eligible=cfg.gate.promote,
        gate_positives=gate_positives,
    )
    _logger().info("champion proposal: %s", describe_decision(decision))
    return decision


def _logger():
    return run_logger("imbalance.selection.champion")

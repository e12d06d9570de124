"""Tasks: score the champion and the candidate on this run's gate rows, and propose a decision.

Both are scored by their saved final models from the raw gate rows, as `imbalance
predict` would, at their own thresholds: rows that no model of any run trained on
(`imbalance.data.split`). The champion's model is checked against its run's manifest
(sha256) first. Whatever stops that (a damaged champion.json, a missing run, an
altered or unloadable model, non-finite scores) comes back as an `error`, and the
decision then keeps the champion: the gate fails closed. The proposal takes effect
only when the run completes (`imbalance.store.staged`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from prefect import task

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data.spec import DataError, DataSpec, recorded_spec, same_task
from imbalance.model.scoring import recorded_threshold, score
from imbalance.selection.bootstrap import paired_bootstrap
from imbalance.selection.champion import decide, describe_decision
from imbalance.selection.decision import Candidate, Decision, Incumbent
from imbalance.selection.metrics import variant_metrics
from imbalance.selection.records import Selection
from imbalance.store import ArtifactStore, ChampionRecord, RunFacts, RunPaths, StateFileError
from tasks._prefect import run_logger

# Resamples of the paired bootstrap: 1,000 give the 2.5% and 97.5% percentiles to
# about ±0.005 of their own spread, in well under a second on 20,000 rows.
BOOTSTRAP_RESAMPLES = 1000


class ChampionUnusable(Exception):
    """The champion cannot be checked or scored; the message is the one-line reason."""


def load_champion_model(artifacts: ArtifactStore, record: ChampionRecord, spec: DataSpec):
    """Return (model, threshold) of the champion, checked against its run's manifest.

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


@dataclass(frozen=True)
class ScoredChampion:
    """The champion as the gate saw it, and its scores on the gate rows (None: not scored)."""

    incumbent: Incumbent
    scores: np.ndarray | None = None


@task(name="score_champion")
def score_champion(cfg: RetrainConfig, run: RunPaths, spec: DataSpec) -> ScoredChampion | None:
    """Return the current champion scored on this run's gate rows (None: no champion).

    From the raw rows by its saved model, at its own recorded threshold: what
    `imbalance predict` would do. Also how many of the gate rows its run trained on,
    from its run's recorded row keys (None for a run from before keys were kept).
    """
    artifacts = ArtifactStore(cfg.storage.artifacts_dir)
    try:
        record = artifacts.champion()
    except StateFileError as exc:
        _logger().warning("cannot score the champion: %s", exc)
        return ScoredChampion(Incumbent(error=str(exc)))
    if record is None:
        return None
    incumbent = Incumbent(
        run_id=record.run_id,
        variant=record.variant,
        recorded_metric=record.metric,
        recorded_score=record.score,
    )
    gate = store.read_parquet(run.gate)
    try:
        model, threshold = load_champion_model(artifacts, record, spec)
        try:
            scores = score(model, gate, spec) if len(gate) else np.zeros(0, np.float32)
            if not np.isfinite(scores).all():
                raise ValueError("its scores are not finite")
        except Exception as exc:  # another feature schema, output shape, ...: any reason
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ChampionUnusable(
                f"it cannot be scored on this run's rows ({type(exc).__name__}: {why})"
            ) from None
    except ChampionUnusable as exc:
        _logger().warning("cannot score the champion %s: %s", record.holder, exc)
        return ScoredChampion(Incumbent(**{**_fields(incumbent), "error": str(exc)}))
    champion_run = artifacts.run(record.run_id)
    try:
        facts = store.read_record(champion_run.manifest).facts
    except StateFileError:  # its model checked out, its record does not: its data unknown
        facts = RunFacts()  # so not "older data": the candidate must then be superior
    y = spec.target(gate)
    both = 0 < y.sum() < len(y)
    measured = variant_metrics(y, scores, threshold) if both else {}
    scored = Incumbent(
        **_fields(incumbent),
        score=measured.get(cfg.selection.metric),
        threshold=threshold,
        as_of=facts.as_of,
        trained_rows=trained_rows(facts),
        trained_on_gate=_trained_on(champion_run, run),
    )
    return ScoredChampion(scored, scores)


def trained_rows(facts: RunFacts) -> str | None:
    """Return the digest of a run's training rows' keys (None: a run before keys were kept)."""
    try:
        return facts.parts["parts"]["train"]["sha256"]
    except (TypeError, KeyError):
        return None


def _fields(incumbent: Incumbent) -> dict:
    return {
        "run_id": incumbent.run_id,
        "variant": incumbent.variant,
        "recorded_metric": incumbent.recorded_metric,
        "recorded_score": incumbent.recorded_score,
    }


def _trained_on(champion_run: RunPaths, run: RunPaths) -> int | None:
    """Return how many of this run's gate rows the champion's run trained on (None: unknown)."""
    try:
        trained = store.read_keys(champion_run, "train")
    except (OSError, KeyError, ValueError):  # a run from before keys were recorded
        return None
    return int(np.isin(store.read_keys(run, "gate"), trained).sum())


@task(name="decide_champion")
def decide_champion(
    cfg: RetrainConfig,
    run: RunPaths,
    spec: DataSpec,
    selection: Selection,
    scored: ScoredChampion | None,
    facts: RunFacts,
) -> Decision:
    """Return this run's proposal: whether its chosen variant should replace the champion.

    The evidence: the candidate's final model (saved in this run) and the champion's,
    scored on the same gate rows, their difference in the selection metric with a
    paired bootstrap interval (`imbalance.selection.bootstrap.paired_bootstrap`).
    """
    metric = cfg.selection.metric
    gate = store.read_parquet(run.gate)
    y = spec.target(gate)
    positives = int(y.sum())
    variant = selection.candidate
    threshold = selection.thresholds()[variant]
    candidate_scores = None
    if len(gate):
        candidate_scores = score(store.load_model(run.model(variant)), gate, spec)
    both = 0 < positives < len(y)
    gate_score = None
    if both and candidate_scores is not None:
        gate_score = variant_metrics(y, candidate_scores, threshold).get(metric)
    candidate = Candidate(
        run_id=run.run_id,
        variant=variant,
        score=float(selection.score(variant)),
        gate_score=gate_score,
        threshold=threshold,
        as_of=facts.as_of,
        trained_rows=trained_rows(facts),
    )
    incumbent = None if scored is None else scored.incumbent
    comparison = None
    if both and scored is not None and scored.scores is not None and candidate_scores is not None:
        comparison = paired_bootstrap(
            y,
            candidate_scores,
            scored.scores,
            metric,
            thresholds=(threshold, incumbent.threshold),
            resamples=BOOTSTRAP_RESAMPLES,
            seed=cfg.holdout.seed,
        )
    decision = decide(
        candidate,
        incumbent,
        comparison,
        metric=metric,
        min_improvement=cfg.gate.min_improvement,
        margin=cfg.gate.margin,
        min_positives=cfg.gate.min_positives,
        gate_rows=len(gate),
        gate_positives=positives,
        eligible=cfg.gate.promote,
        more_rows=more_rows_hint(cfg, len(gate), positives),
    )
    _logger().info("champion proposal: %s", describe_decision(decision))
    return decision


def more_rows_hint(cfg: RetrainConfig, rows: int, positives: int) -> str:
    """Return what the user can change when the gate has too few positive rows."""
    if positives >= cfg.gate.min_positives:
        return ""
    share = cfg.gate.share
    rate = positives / rows if rows and positives else None
    need = "" if rate is None else f" (about {cfg.gate.min_positives / rate:,.0f} gate rows)"
    return (
        f"{need}: raise gate.share (now {share:g}) or give more rows, or lower "
        "gate.min_positives (a comparison on fewer positives is noise)"
    )


def _logger():
    return run_logger("imbalance.selection.champion")

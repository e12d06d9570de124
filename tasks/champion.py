"""Pick the run's best variant and promote it only if it beats the champion on the same rows.

The champion's model is scored again on the *new* run's test split, so both are judged
on the same rows by the same metric. The decision is a plain dict (kept in the report,
the manifest and the Prefect artifacts); champion.json changes only after the run is
complete, so it never names a run that failed later.
"""

from __future__ import annotations

from typing import Any

from prefect import task

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.provenance import utc_now
from imbalance.store import ArtifactStore, RunPaths
from tasks._logging import run_logger

# Scores this close count as equal: a rerun of the champion's own config must not
# replace it over the last bits of a float.
TIE = 1e-9


def best_variant(metrics: dict, metric: str) -> tuple[str, float] | None:
    """Return (variant, score) of the highest `metric`; the first listed wins a tie.

    None when no variant has the metric (a test split with one class has no AUC).
    """
    scored = [
        (name, float(m[metric]))
        for name, m in metrics["variants"].items()
        if m.get(metric) is not None
    ]
    return max(scored, key=lambda item: item[1]) if scored else None


def decide(
    run_id: str,
    metrics: dict,
    metric: str,
    min_improvement: float,
    incumbent: dict | None,
) -> dict[str, Any]:
    """Return the promotion decision of run `run_id` against the scored `incumbent`.

    `incumbent` is what `score_champion` gives back: None before the first promotion,
    else the champion's run, variant and its `score` on this run's test split (or an
    `error` if its model could not be scored). The candidate is promoted if there is
    no champion, if the champion cannot be scored, or if it beats the champion's score
    by more than a tie and by at least `min_improvement`.
    """
    best = best_variant(metrics, metric)
    candidate = {"run_id": run_id, "variant": best[0], "score": best[1]} if best else None
    decision: dict[str, Any] = {
        "metric": metric,
        "min_improvement": min_improvement,
        "candidate": candidate,
        "champion": incumbent,
        "improvement": None,
    }
    if candidate is None:
        return decision | _verdict(False, f"no variant has a {metric} on this test split")
    if incumbent is None:
        return decision | _verdict(True, "no champion yet: the first candidate is promoted")
    held = f"{incumbent['run_id']}/{incumbent['variant']}"
    if incumbent.get("score") is None:
        why = incumbent.get("error") or f"no {metric} on this test split"
        return decision | _verdict(True, f"the champion {held} could not be scored ({why})")
    improvement = candidate["score"] - incumbent["score"]
    decision["improvement"] = improvement
    # The tolerance keeps 0.35 - 0.30 (= 0.04999...) from failing a 0.05 bar.
    if improvement > TIE and improvement >= min_improvement - TIE:
        return decision | _verdict(
            True, f"beats the champion {held} by {improvement:+.4f} (needed {min_improvement})"
        )
    if abs(improvement) <= TIE:
        return decision | _verdict(False, f"ties with the champion {held}, which stays")
    return decision | _verdict(
        False, f"does not beat the champion {held} by {min_improvement} ({improvement:+.4f})"
    )


def _verdict(promoted: bool, reason: str) -> dict[str, Any]:
    return {"promoted": promoted, "reason": reason}


def champion_record(decision: dict[str, Any], when: str) -> dict[str, Any]:
    """Return the content of champion.json for a promoting `decision`."""
    candidate = decision["candidate"]
    return {
        "run_id": candidate["run_id"],
        "variant": candidate["variant"],
        "metric": decision["metric"],
        "score": candidate["score"],
        "when": when,
    }


def describe_decision(decision: dict[str, Any]) -> str:
    """Return one sentence for the report: who was compared, both scores, the outcome."""
    metric, candidate, champion = decision["metric"], decision["candidate"], decision["champion"]
    parts = []
    if candidate:
        parts.append(f"Candidate: {candidate['variant']}, {metric} {candidate['score']:.4f}.")
    if champion and champion.get("score") is not None:
        recorded = champion.get("recorded_score")
        same_metric = recorded is not None and champion.get("recorded_metric") == metric
        then = f" (on its own test split: {recorded:.4f})" if same_metric else ""
        parts.append(
            f"Champion {champion['run_id']}/{champion['variant']} on this test split: "
            f"{metric} {champion['score']:.4f}{then}."
        )
    outcome = "Promoted" if decision["promoted"] else "Not promoted"
    parts.append(f"{outcome}: {decision['reason']}.")
    return " ".join(parts)


# --- tasks ------------------------------------------------------------------------------


@task(name="score_champion")
def score_champion(cfg: RetrainConfig, run: RunPaths) -> dict[str, Any] | None:
    """Return the current champion scored on this run's test split, or None if there is none.

    Loads a Keras model, so the flow submits it to the training processes. A champion
    that cannot be scored (its run deleted by hand, its model unreadable) comes back
    with an `error` instead of failing the run.
    """
    from imbalance.scoring import features_and_labels, score
    from tasks.evaluate import variant_metrics

    record = ArtifactStore(cfg.artifacts_dir).champion()
    if record is None:
        return None
    incumbent = {
        "run_id": record["run_id"],
        "variant": record["variant"],
        "recorded_metric": record.get("metric"),
        "recorded_score": record.get("score"),
        "score": None,
    }
    x, y = features_and_labels(store.read_parquet(run.test))
    try:
        champion_run = ArtifactStore(cfg.artifacts_dir).run(record["run_id"])
        threshold = store.read_json(champion_run.manifest)["config"]["threshold"]
        # Scored as the candidates were (imbalance.scoring.score): one model, one score.
        scores = score(store.load_model(champion_run.model(record["variant"])), x)
    except Exception as exc:  # any unreadable champion: the decision records why
        _logger().warning("cannot score the champion %s: %s", record, exc)
        return incumbent | {"error": f"{type(exc).__name__}: {exc}"}
    # The champion's own threshold: the one `imbalance predict` would label with.
    measured = variant_metrics(y.astype(int), scores, threshold)
    return incumbent | {"score": measured[cfg.selection_metric], "threshold": threshold}


@task(name="decide_champion")
def decide_champion(
    cfg: RetrainConfig, run: RunPaths, metrics: dict, incumbent: dict[str, Any] | None
) -> dict[str, Any]:
    """Return whether this run's best variant replaces the champion, with both scores."""
    decision = decide(run.run_id, metrics, cfg.selection_metric, cfg.min_improvement, incumbent)
    _logger().info("champion: %s", describe_decision(decision))
    return decision


@task(name="promote_champion")
def promote_champion(cfg: RetrainConfig, decision: dict[str, Any]) -> bool:
    """Point champion.json at the candidate if the decision says so; return whether it did.

    Call only once the run is complete. If another run changed the champion since this
    one was compared against it, the comparison is stale and nothing is promoted.
    """
    if not decision["promoted"]:
        return False
    artifacts = ArtifactStore(cfg.artifacts_dir)
    with artifacts.locked():  # compare and set, so two runs finishing together can't both win
        if _holder(artifacts.champion()) != _holder(decision["champion"]):
            _logger().warning(
                "champion changed while %s ran; not promoting", decision["candidate"]["run_id"]
            )
            return False
        when = utc_now().isoformat(timespec="seconds")
        artifacts.set_champion(champion_record(decision, when))
    return True


def _logger():
    return run_logger("imbalance.champion")


def _holder(record: dict[str, Any] | None) -> tuple[str, str] | None:
    return (record["run_id"], record["variant"]) if record else None

"""The champion decision: pure functions of metrics and records, no I/O.

A run proposes (`decide`) while it is staged; the proposal takes effect only under
the store's lock, against the champion on disk at that moment (`settle`); only the
settled decision is written into the report, the manifest and the history
(`imbalance.store.staged`). A champion that cannot be checked or scored is never
replaced on that ground: the gate fails closed.
"""

from __future__ import annotations

from typing import Any

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
    *,
    min_positives: int = 1,
    eligible: bool = True,
    gate_positives: int | None = None,
) -> dict[str, Any]:
    """Return the proposal of run `run_id` against the scored `incumbent` (not yet settled).

    `metrics` are the run's validation results ({"variants": {name: {metric: mean}}});
    `incumbent` is None when there is no champion yet; else the champion's run,
    variant and `score` on this run's gate rows (validation rows no choice was made
    on), with the paired bootstrap `comparison` of the candidate against it there, or
    an `error` saying why it could not be checked or scored. The candidate is proposed if the run is
    `eligible` and there is no champion, or if the comparison rests on at least
    `min_positives` positive rows and the lower end of its interval exceeds
    `min_improvement`: evidence, not a point estimate. A champion with an `error` is
    kept (fail closed). `gate_positives`: the positive rows of the gate; without a
    comparison (a gate too small to resample), fewer than `min_positives` refuse.
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
    if not eligible:
        return decision | verdict(False, "this run is not eligible for promotion (promote off)")
    if candidate is None:
        return decision | verdict(False, f"no variant has a {metric} on the validation rows")
    if incumbent is None:
        return decision | verdict(True, "no champion yet: the first candidate is promoted")
    held = holder_text(incumbent)
    if incumbent.get("error"):
        return decision | verdict(
            False,
            f"the champion {held} cannot be compared ({incumbent['error']}); nothing is "
            "promoted until it is repaired or rolled back (`imbalance champion --rollback`)",
        )
    comparison = incumbent.get("comparison")
    if comparison is None and gate_positives is not None and gate_positives < min_positives:
        return decision | verdict(
            False,
            f"cannot tell against the champion {held}: {gate_positives} positive gate "
            f"row(s), fewer than the {min_positives} a comparison needs",
        )
    if comparison is not None:
        return decision | _with_evidence(comparison, held, min_improvement, min_positives)
    if incumbent.get("score") is None:
        return decision | verdict(False, f"the champion {held} has no {metric} to compare")
    improvement = candidate["score"] - incumbent["score"]
    decision["improvement"] = improvement
    # The tolerance keeps 0.35 - 0.30 (= 0.04999...) from failing a 0.05 bar.
    if improvement > TIE and improvement >= min_improvement - TIE:
        return decision | verdict(
            True, f"beats the champion {held} by {improvement:+.4f} (needed {min_improvement})"
        )
    if abs(improvement) <= TIE:
        return decision | verdict(False, f"ties with the champion {held}, which stays")
    return decision | verdict(
        False, f"does not beat the champion {held} by {min_improvement} ({improvement:+.4f})"
    )


def _with_evidence(
    comparison: dict[str, Any], held: str, min_improvement: float, min_positives: int
) -> dict[str, Any]:
    """Return the verdict of a paired bootstrap comparison (and the difference it found)."""
    difference, low, high = comparison["difference"], comparison["low"], comparison["high"]
    positives, rows = comparison["positives"], comparison["rows"]
    level = f"{100 * comparison['confidence']:g}%"
    measured = (
        f"{comparison['metric']} {comparison['candidate']:.4f} (the candidate's model for "
        f"choosing) against {comparison['incumbent']:.4f}, {difference:+.4f} ({level} "
        f"interval {low:+.4f} to {high:+.4f}, {rows:,} gate rows, {positives} positive)"
    )
    found = {"improvement": difference, "interval": [low, high]}
    if positives < min_positives:
        return found | verdict(
            False,
            f"cannot tell against the champion {held}: {positives} positive gate "
            f"row(s), fewer than the {min_positives} a comparison needs ({measured})",
        )
    # The tolerance keeps an interval ending at 0.05 - 1e-17 from failing a 0.05 bar.
    if low > min_improvement - TIE and low > TIE:
        return found | verdict(True, f"beats the champion {held}: {measured}")
    return found | verdict(
        False,
        f"no evidence it beats the champion {held} by more than {min_improvement}: {measured}",
    )


def settle(proposal: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    """Return the decision that takes effect, given the champion on disk under the lock.

    A proposal made against one champion is void if another run has replaced it
    since (the comparison is stale): then nothing is promoted, and the reason says so.
    """
    if not proposal["promoted"]:
        return proposal
    if current is not None and current.get("error"):
        return proposal | verdict(False, f"{current['error']}; not promoted")
    compared = proposal["champion"]
    if holder(current) != holder(compared):
        now = holder_text(current) if current else "none"
        return proposal | verdict(
            False,
            f"the champion changed while this run trained (compared with "
            f"{holder_text(compared) if compared else 'none'}, now {now}); not promoted",
        )
    return proposal


def verdict(promoted: bool, reason: str) -> dict[str, Any]:
    return {"promoted": promoted, "reason": reason}


def holder(record: dict[str, Any] | None) -> tuple[str, str] | None:
    """Return (run id, variant) of a champion record, or None."""
    if not record or "run_id" not in record:
        return None
    return record["run_id"], record.get("variant")


def holder_text(record: dict[str, Any]) -> str:
    return f"{record.get('run_id', '?')}/{record.get('variant', '?')}"


def describe_decision(decision: dict[str, Any]) -> str:
    """Return one sentence for the report: who was compared, both scores, the outcome."""
    metric, candidate, champion = decision["metric"], decision["candidate"], decision["champion"]
    parts = []
    if candidate:
        parts.append(
            f"Candidate: {candidate['variant']}, validation {metric} {candidate['score']:.4f}."
        )
    if champion and champion.get("score") is not None:
        recorded = champion.get("recorded_score")
        same_metric = recorded is not None and champion.get("recorded_metric") == metric
        then = f" (when chosen: {recorded:.4f})" if same_metric else ""
        parts.append(
            f"Champion {holder_text(champion)} on this run's gate rows: "
            f"{metric} {champion['score']:.4f}{then}."
        )
    outcome = "Promoted" if decision["promoted"] else "Not promoted"
    parts.append(f"{outcome}: {decision['reason']}.")
    return " ".join(parts)

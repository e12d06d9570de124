"""The champion decision: pure functions of the records, no I/O.

Both models are scored by their final models on the run's gate rows, which no model of
any run trains, chooses or calibrates on (`imbalance.data.split`). The rule, in order:

1. a run that is not eligible, or has no candidate, promotes nothing;
2. with no champion yet, the candidate is promoted;
3. a champion that cannot be checked or scored is kept (the gate fails closed);
4. fewer than `min_positives` positive gate rows: refused, saying how many there are;
5. *superior*: promoted if the lower end of the 95% paired-bootstrap interval of the
   difference (candidate - champion) is above `min_improvement`;
6. *non-inferior on newer data*: promoted if the candidate's data is newer than the
   champion's (a later as-of time and other rows) and the lower end is above -`margin`:
   a model of today's data that is not measurably worse replaces one of older data;
7. otherwise the champion stays.

A run proposes (`decide`) while it is staged; the proposal takes effect only under
the store's lock, against the champion on disk at that moment (`settle`).
"""

from __future__ import annotations

from datetime import datetime

from imbalance.selection.decision import Candidate, Comparison, Decision, Incumbent

# An interval's end this close to a bar counts as on it: 0.05 - 1e-17 must not fail 0.05.
TIE = 1e-9


def decide(
    candidate: Candidate | None,
    incumbent: Incumbent | None,
    comparison: Comparison | None,
    *,
    metric: str,
    min_improvement: float,
    margin: float,
    min_positives: int,
    gate_rows: int,
    gate_positives: int,
    eligible: bool = True,
    more_rows: str = "",
) -> Decision:
    """Return the proposal of `candidate` against the scored `incumbent` (not yet settled).

    `comparison`: the paired bootstrap of both final models on the gate rows (None
    when there is no champion, it could not be scored, or the gate lacks a class);
    `more_rows`: what the user can change when the gate has too few positives.
    """
    base = Decision(
        metric=metric,
        min_improvement=min_improvement,
        margin=margin,
        candidate=candidate,
        champion=incumbent,
        promoted=False,
        reason="",
        comparison=comparison,
        gate_rows=gate_rows,
        gate_positives=gate_positives,
        min_positives=min_positives,
    )

    def outcome(promoted: bool, rule: str, reason: str) -> Decision:
        return base.with_verdict(promoted, reason, rule)

    if not eligible:
        return outcome(False, "refused", "this run is not eligible for promotion (promote off)")
    if candidate is None:
        return outcome(False, "refused", f"no variant has a {metric} on the validation rows")
    if incumbent is None:
        return outcome(True, "first", "no champion yet: the first candidate is promoted")
    held = incumbent.text()
    if incumbent.error:
        return outcome(
            False,
            "kept",
            f"the champion {held} cannot be compared ({incumbent.error}); nothing is "
            "promoted until it is repaired or rolled back (`imbalance champion --rollback`)",
        )
    if gate_positives < min_positives or comparison is None:
        return outcome(
            False,
            "refused",
            f"cannot tell against the champion {held}: the gate has {gate_positives} positive "
            f"row(s) of {gate_rows:,}, and a comparison needs {min_positives}{more_rows}",
        )
    measured = describe_comparison(comparison)
    if comparison.low > min_improvement - TIE and comparison.low > TIE:
        return outcome(True, "superior", f"better than the champion {held}: {measured}")
    newer = newer_data(candidate, incumbent)
    if newer and comparison.low > -margin + TIE:
        return outcome(
            True,
            "non-inferior",
            f"trained on newer data ({newer}) and not worse than the champion {held} by "
            f"more than {margin:g}: {measured}",
        )
    if newer:
        why = f"newer data, but it may be worse than the champion {held} by more than {margin:g}"
    elif comparison.high < -TIE:
        why = f"worse than the champion {held}"
    else:
        why = f"not better than the champion {held} by more than {min_improvement:g}"
    return outcome(False, "kept", f"{why}: {measured}")


def newer_data(candidate: Candidate, incumbent: Incumbent) -> str:
    """Return why the candidate's data is newer than the champion's ('' if not, or unknown).

    Newer: a later as-of time and other training rows (another digest of their keys:
    the same rows read from another file are not newer). Unknown counts as not newer,
    so the candidate must then be superior: the gate never promotes on a guess.
    """
    if not (candidate.as_of and incumbent.as_of):
        return ""
    if not (candidate.trained_rows and incumbent.trained_rows):
        return ""
    if candidate.trained_rows == incumbent.trained_rows:
        return ""
    try:
        later = datetime.fromisoformat(candidate.as_of) > datetime.fromisoformat(incumbent.as_of)
    except (TypeError, ValueError):  # naive against aware, or not a time: unknown
        return ""
    return f"as of {candidate.as_of}, the champion's {incumbent.as_of}" if later else ""


def describe_comparison(comparison: Comparison) -> str:
    c = comparison
    level = f"{100 * c.confidence:g}%"
    return (
        f"{c.metric} {c.candidate:.4f} against {c.incumbent:.4f} on the gate rows, "
        f"{c.difference:+.4f} ({level} interval {c.low:+.4f} to {c.high:+.4f}, "
        f"{c.rows:,} rows, {c.positives} positive)"
    )


def settle(proposal: Decision, current: Incumbent | None) -> Decision:
    """Return the decision that takes effect, given the champion on disk under the lock.

    A proposal made against one champion is void if another run has replaced it
    since (the comparison is stale): then nothing is promoted, and the reason says so.
    `current` is None when there is no champion, with an `error` when champion.json
    cannot be read.
    """
    if not proposal.promoted:
        return proposal
    if current is not None and current.error:
        return proposal.with_verdict(False, f"{current.error}; not promoted", "kept")
    compared = proposal.champion
    now = None if current is None else current.holder
    before = None if compared is None else compared.holder
    if now != before:
        return proposal.with_verdict(
            False,
            f"the champion changed while this run trained (compared with "
            f"{compared.text() if compared else 'none'}, now "
            f"{current.text() if current else 'none'}); not promoted",
            "kept",
        )
    return proposal


def describe_decision(decision: Decision) -> str:
    """Return one sentence for the report: who was compared, both scores, the outcome."""
    parts = []
    candidate, champion = decision.candidate, decision.champion
    if candidate:
        parts.append(
            f"Candidate: {candidate.variant}, validation {decision.metric} {candidate.score:.4f}."
        )
    if champion and champion.run_id and not champion.error and champion.trained_on_gate:
        parts.append(
            f"Its run trained on {champion.trained_on_gate:,} of the gate rows (another "
            "gate rule): the comparison favours it."
        )
    outcome = "Promoted" if decision.promoted else "Not promoted"
    parts.append(f"{outcome}: {decision.reason}.")
    return " ".join(parts)

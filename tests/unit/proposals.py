"""A champion proposal for the store's tests: promoting, made by the real `decide`.

The store's tests need a decision to carry through completing a run, not the gate's
arithmetic (tests/unit/test_champion.py has that): with no champion the candidate is
the first; against one, a comparison on the gate rows that shows it clearly better.
"""

from __future__ import annotations

from imbalance.selection.champion import decide
from imbalance.selection.decision import Candidate, Comparison, Decision, Incumbent

GATE_ROWS, GATE_POSITIVES = 2_000, 60


def proposal(
    run_id: str,
    incumbent: str | None = None,
    *,
    variant: str = "manual",
    score: float = 0.9,
    incumbent_score: float = 0.3,
    incumbent_variant: str = "manual",
) -> Decision:
    """Return `run_id`'s proposal against the champion run `incumbent` (None: no champion)."""
    champion = comparison = None
    if incumbent is not None:
        champion = Incumbent(
            run_id=incumbent, variant=incumbent_variant, score=incumbent_score, threshold=0.5
        )
        difference = score - incumbent_score
        comparison = Comparison(
            "pr_auc", score, incumbent_score, difference, difference / 2, difference * 1.5,
            0.95, 1000, GATE_POSITIVES, GATE_ROWS,
        )  # fmt: skip
    return decide(
        Candidate(run_id, variant, score, gate_score=score, threshold=0.5),
        champion,
        comparison,
        metric="pr_auc",
        min_improvement=0.0,
        margin=0.02,
        min_positives=30,
        gate_rows=GATE_ROWS,
        gate_positives=GATE_POSITIVES,
    )

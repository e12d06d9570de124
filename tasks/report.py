"""Task: write report.md into the run."""

from __future__ import annotations

from prefect import task

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data import SplitCounts
from imbalance.report.render import render_report
from imbalance.selection.records import Decision, Selection
from imbalance.store import RunPaths


@task(name="write_report")
def write_report(
    cfg: RetrainConfig,
    run: RunPaths,
    counts: SplitCounts,
    metrics: dict,
    decision: Decision | None = None,
    plots: list[str] | None = None,
    data: dict | None = None,
    selection: Selection | None = None,
    nightly: dict | None = None,
) -> str:
    """Write report.md into the run; return its markdown."""
    text = render_report(
        run.run_id, cfg, counts, metrics, decision, plots, data, selection, nightly
    )
    store.write_text(run.report, text)
    return text

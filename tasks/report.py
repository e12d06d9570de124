"""Task: write report.md into the run."""

from __future__ import annotations

from prefect import task

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data import SplitCounts
from imbalance.report.plots import png_bytes, track_figure
from imbalance.report.render import render_report
from imbalance.selection.decision import Decision
from imbalance.selection.records import Selection
from imbalance.store import ArtifactStore, GateScore, RunPaths, StateFileError


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
    """Write report.md into the run; return its markdown.

    With a champion scored on this night's gate rows, also plots/track.png: its track
    record over the nights so far (champion-scores.jsonl) and tonight's scores.
    """
    plots = list(plots or [])
    track = _track_plot(cfg, run, decision)
    if track:
        plots.append(track)
    text = render_report(
        run.run_id, cfg, counts, metrics, decision, plots, data, selection, nightly
    )
    store.write_text(run.report, text)
    return text


def _track_plot(cfg: RetrainConfig, run: RunPaths, decision: Decision | None) -> str | None:
    """Write plots/track.png; return its path in the run (None: nothing to draw)."""
    tonight = None if decision is None else GateScore.of(decision, None, "tonight")
    if tonight is None:
        return None
    try:
        nights = ArtifactStore(cfg.storage.artifacts_dir).champion_scores()
    except StateFileError:
        nights = []
    path = run.root / "plots" / "track.png"
    store.write_bytes(path, png_bytes(track_figure([*nights, tonight])))
    return str(path.relative_to(run.root))

"""Task: draw the run's charts into plots/ as PNG files."""

from __future__ import annotations

from prefect import task

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.report.plots import png_bytes, run_figures
from imbalance.selection.calibration import maps_from_json
from imbalance.selection.records import Selection
from imbalance.store import RunPaths


@task(name="draw_plots")
def draw_plots(
    cfg: RetrainConfig, run: RunPaths, metrics: dict, selection: Selection | None = None
) -> list[str]:
    """Write the run's charts as PNGs under plots/; return their paths relative to the run."""
    predictions = store.read_parquet(run.predictions)
    losses = {v: store.read_json(run.history(v))["loss"] for v in metrics["variants"]}
    # The reliability diagram: each variant's calibrated probabilities (calibration.json).
    maps = maps_from_json(store.read_json(run.calibration)) if run.calibration.exists() else {}
    probabilities = {
        v: maps[v].apply(predictions[v].to_numpy()) for v in metrics["variants"] if v in maps
    }
    written = []
    figures = run_figures(predictions, losses, metrics, selection, probabilities)
    for name, figure in figures.items():
        path = store.write_bytes(run.plot(name), png_bytes(figure))
        written.append(path.relative_to(run.root).as_posix())
    return written

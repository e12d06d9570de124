"""The run's charts: which are drawn, that they are PNGs, and that pyplot stays out of it."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data import SplitCounts
from imbalance.report.plots import png_bytes, run_figures
from imbalance.report.render import render_report
from imbalance.selection.metrics import predictions_schema, variant_metrics
from imbalance.store import ArtifactStore
from tasks.plots import draw_plots

VARIANTS = ["baseline", "balanced", "manual"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _predictions(rows: int = 2_000, minority: float = 0.02, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = (rng.random(rows) < minority).astype(np.int8)
    frame = pd.DataFrame({"x1": rng.normal(size=rows), "x2": rng.normal(size=rows), "label": label})
    for shift, name in enumerate(VARIANTS):
        frame[name] = np.clip(rng.random(rows) * 0.5 + label * 0.1 * shift, 0, 1).astype("float32")
    return frame


def _metrics(predictions: pd.DataFrame) -> dict:
    y = predictions["label"].to_numpy()
    return {
        "threshold": 0.5,
        "variants": {
            v: variant_metrics(y, predictions[v].to_numpy(), 0.5)
            | {"class_weight": None, "train_seconds": 0.1}
            for v in VARIANTS
        },
    }


LOSSES = {v: [0.9, 0.5, 0.4] for v in VARIANTS}


def test_every_chart_is_drawn_and_renders_as_png():
    predictions = _predictions()
    figures = run_figures(predictions, LOSSES, _metrics(predictions))
    assert list(figures) == ["roc", "pr", "loss", *(f"confusion-{v}" for v in VARIANTS)]
    for figure in figures.values():
        assert png_bytes(figure).startswith(PNG_MAGIC)
    legend = [t.get_text() for t in figures["roc"].axes[0].get_legend().get_texts()]
    assert [t.split(" ")[0] for t in legend] == [*VARIANTS, "chance"]


def test_a_test_split_with_one_class_gets_no_curves_but_the_rest():
    predictions = _predictions()
    predictions["label"] = 0
    figures = run_figures(predictions, LOSSES, _metrics(predictions))
    assert "roc" not in figures and "pr" not in figures
    assert "loss" in figures and "confusion-manual" in figures


@pytest.fixture
def run_with_predictions(tmp_path):
    artifacts = ArtifactStore(tmp_path)
    run = artifacts.start_run("20260101T000000Z-plots")
    predictions = _predictions()
    store.write_parquet(run.predictions, predictions, predictions_schema(VARIANTS), {})
    for v in VARIANTS:
        store.write_json(run.history(v), {"variant": v, "loss": LOSSES[v]})
    return run, _metrics(predictions)


def test_draw_plots_writes_each_png_into_the_run_and_the_report_links_them(run_with_predictions):
    run, metrics = run_with_predictions
    cfg = RetrainConfig()
    written = draw_plots.fn(cfg, run, metrics)
    assert written == [
        "plots/roc.png",
        "plots/pr.png",
        "plots/loss.png",
        *(f"plots/confusion-{v}.png" for v in VARIANTS),
    ]
    for rel in written:
        assert (run.root / rel).read_bytes().startswith(PNG_MAGIC)
    assert sorted(p.name for p in run.plots.iterdir()) == sorted(r.split("/")[1] for r in written)
    counts = SplitCounts(8_000, 80, 2_000, 40)
    report = render_report(run.run_id, cfg, counts, metrics, plots=written)
    for rel in written:
        assert f"]({rel})" in report


def test_a_missing_loss_history_fails_the_task_and_writes_no_partial_chart(run_with_predictions):
    run, metrics = run_with_predictions
    run.history("manual").unlink()
    with pytest.raises(FileNotFoundError, match="manual.history.json"):
        draw_plots.fn(RetrainConfig(), run, metrics)
    assert not run.plots.exists()


def test_plotting_never_imports_pyplot_nor_sets_a_global_backend():
    code = (
        "import sys, matplotlib; backend = matplotlib.rcParams._get_backend_or_none();"
        "from imbalance.report.plots import loss_figure, png_bytes;"
        "png_bytes(loss_figure({'a': [1.0, 0.5]}));"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported';"
        "assert matplotlib.rcParams._get_backend_or_none() == backend, 'backend changed'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_ui_report_carries_its_plots_inline(tmp_path):
    # The UI's browser cannot open the run folder: a relative link is a broken image.
    import base64

    from imbalance.store import RunPaths
    from tasks.publish import report_with_inline_plots

    run = RunPaths(tmp_path / "run")
    png = b"\x89PNG\r\n\x1a\n fake"
    store.write_bytes(run.plot("roc"), png)
    store.write_text(run.report, "# r\n\n![roc](plots/roc.png)\n![pr](plots/pr.png)\n")
    text = report_with_inline_plots(run)
    assert f"![roc](data:image/png;base64,{base64.b64encode(png).decode()})" in text
    assert "![pr](plots/pr.png)" in text  # a missing file stays a link, nothing invented
    assert "](plots/roc.png)" not in text


def test_the_reliability_diagram_and_calibration_table_are_drawn_from_probabilities():
    from imbalance.report.render import calibration_text
    from imbalance.selection.calibration import calibration_metrics, fit_calibration

    frame = _predictions()
    y = frame["label"].to_numpy()
    maps = {v: fit_calibration(frame[v].to_numpy(), y) for v in VARIANTS}
    probabilities = {v: maps[v].apply(frame[v].to_numpy()) for v in VARIANTS}
    metrics = {
        "train_prevalence": float(y.mean()),
        "variants": {
            v: variant_metrics(y, frame[v].to_numpy(), 0.5)
            | calibration_metrics(y, frame[v].to_numpy(), maps[v], float(y.mean()))
            | {"calibration": "platt", "threshold": 0.5}
            for v in VARIANTS
        },
    }
    figures = run_figures(frame, {v: [0.5, 0.4] for v in VARIANTS}, metrics, None, probabilities)
    assert png_bytes(figures["reliability"]).startswith(PNG_MAGIC)
    assert "reliability" not in run_figures(frame, {v: [0.5] for v in VARIANTS}, metrics)
    table = "\n".join(calibration_text(metrics))
    assert table.startswith("## Calibration") and table.count("| platt |") == len(VARIANTS)

"""A run's results in the Prefect UI: report, metrics table, links and training progress.

Publishing is a courtesy, never a reason to fail a run: without a flow or task run
context (a function called on its own) or when the API does not answer, each
function logs a warning and returns None.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any
from uuid import UUID

from imbalance import store
from imbalance.report import render as report
from imbalance.store import RunPaths
from tasks._prefect import (
    PROGRESS_KEY,
    publish_safely,
    run_logger,
    set_progress,
    start_training_progress,
)

REPORT_KEY = "retrain-report"
METRICS_KEY = "retrain-metrics"
RUN_DIR_KEY = "retrain-run-dir"
DRIFT_KEY = "retrain-drift"
METRIC_COLUMNS = report.TABLE_COLUMNS  # the report's table and the UI's show the same columns
TABLE_COLUMNS = ["variant", *METRIC_COLUMNS, "tn", "fp", "fn", "tp"]


def model_key(variant: str) -> str:
    """Return the artifact key of a variant's saved model (lowercase, digits, dashes)."""
    return "retrain-model-" + "".join(c if c.isalnum() else "-" for c in variant.lower())


def file_link(path: Path) -> str:
    """Return the file:// address of `path`, absolute."""
    return path.resolve().as_uri()


def metrics_rows(metrics: dict) -> list[dict[str, Any]]:
    """Return one table row per variant, then per reference model: metrics, tn, fp, fn, tp."""
    named = [*metrics["variants"].items()]
    named += [(report.reference_label(n, m), m) for n, m in metrics.get("reference", {}).items()]
    rows = []
    for name, m in named:
        (tn, fp), (fn, tp) = m.get("confusion_matrix") or ((None, None), (None, None))
        row = {"variant": name, **{c: m.get(c) for c in METRIC_COLUMNS}}
        rows.append(row | {"tn": tn, "fp": fp, "fn": fn, "tp": tp})
    return rows


def drift_rows(drift: dict) -> list[dict[str, str]]:
    """Return the drift table's rows (feature, kind, PSI, KS, p-value, level) for the UI.

    Not compared (no champion yet, its data unreadable): one row that says why.
    """
    from imbalance.monitoring.drift import ROW_HEADER, DriftReport

    if drift.get("status") != "compared":
        return [
            dict.fromkeys(ROW_HEADER, "")
            | {"feature": "(not compared)", "level": drift_text(drift)}
        ]
    return [dict(zip(ROW_HEADER, row, strict=True)) for row in DriftReport.from_json(drift).rows()]


def drift_text(drift: dict) -> str:
    if drift.get("status") == "compared":
        return f"against champion run {drift['against']}'s: {drift['summary']}"
    return f"not compared: {drift.get('reason', drift.get('status'))}"


def _logger() -> logging.Logger | logging.LoggerAdapter:
    return run_logger("imbalance.publish")


def report_with_inline_plots(run: RunPaths) -> str:
    """Return report.md with each plot link replaced by the PNG itself, as a data URI.

    The browser showing the UI cannot open files of the run folder (a relative link
    renders as a broken image); Prefect's UI does render data:image/png URIs (FACTS.md).
    """
    import base64

    def inline(match: re.Match) -> str:
        path = run.root / match.group(2)
        if not path.is_file():
            return match.group(0)
        encoded = base64.b64encode(path.read_bytes()).decode()
        return f"![{match.group(1)}](data:image/png;base64,{encoded})"

    return re.sub(r"!\[([^\]]*)\]\((plots/[^)]+\.png)\)", inline, run.report.read_text())


def publish_run(run: RunPaths, progress_id: UUID | None = None) -> dict[str, UUID] | None:
    """Publish a complete run's report, metrics and links; return artifact ids by key."""
    from prefect.artifacts import (
        create_link_artifact,
        create_markdown_artifact,
        create_table_artifact,
    )

    def publish() -> dict[str, UUID]:
        metrics = store.read_json(run.metrics)
        ids = {
            REPORT_KEY: create_markdown_artifact(
                report_with_inline_plots(run),
                key=REPORT_KEY,
                description=f"Report of run {run.run_id}",
            ),
            METRICS_KEY: create_table_artifact(
                metrics_rows(metrics),
                key=METRICS_KEY,
                description=f"Minority-class metrics of run {run.run_id}, one row per variant "
                "and per reference model",
            ),
            RUN_DIR_KEY: create_link_artifact(
                file_link(run.root),
                link_text=str(run.root.resolve()),
                key=RUN_DIR_KEY,
                description=f"Folder of run {run.run_id}",
            ),
        }
        drift = store.read_record(run.manifest).facts.drift or {}
        if drift:  # also when not compared: the key's latest table is this run's
            ids[DRIFT_KEY] = create_table_artifact(
                drift_rows(drift),
                key=DRIFT_KEY,
                description=f"Drift of run {run.run_id}'s training data: {drift_text(drift)}",
            )
        for variant in metrics["variants"]:
            if run.model(variant).is_file():
                ids[model_key(variant)] = create_link_artifact(
                    file_link(run.model(variant)),
                    link_text=str(run.model(variant).resolve()),
                    key=model_key(variant),
                    description=f"Model `{variant}` of run {run.run_id}",
                )
        if progress_id is not None:
            set_progress(progress_id, 100.0, "Training complete")
        return ids

    return publish_safely(f"the results of run {run.run_id}", publish)


__all__ = ["PROGRESS_KEY", "publish_run", "start_training_progress"]

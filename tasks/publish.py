"""A run's results in the Prefect UI: report, metrics table, links and training progress.

Publishing is a courtesy, never a reason to fail a run: without a flow or task run
context (a function called on its own) or when the API does not answer, each
function logs a warning and returns None.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from imbalance import store
from imbalance.store import RunPaths
from tasks import report
from tasks._logging import run_logger

REPORT_KEY = "retrain-report"
METRICS_KEY = "retrain-metrics"
RUN_DIR_KEY = "retrain-run-dir"
PROGRESS_KEY = "retrain-progress"
METRIC_COLUMNS = report.TABLE_COLUMNS  # the report's table and the UI's show the same columns
TABLE_COLUMNS = ["variant", *METRIC_COLUMNS, "tn", "fp", "fn", "tp"]
# Per-epoch calls can come every few milliseconds; the UI needs no more than one a second.
PROGRESS_INTERVAL_SECONDS = 1.0

T = TypeVar("T")
_last_progress_update: dict[tuple[UUID, str], float] = {}


def model_key(variant: str) -> str:
    """Return the artifact key of a variant's saved model (lowercase, digits, dashes)."""
    return "retrain-model-" + "".join(c if c.isalnum() else "-" for c in variant.lower())


def file_link(path: Path) -> str:
    """Return the file:// address of `path`, absolute."""
    return path.resolve().as_uri()


def metrics_rows(metrics: dict) -> list[dict[str, Any]]:
    """Return one table row per variant: minority-class metrics, then tn, fp, fn, tp."""
    rows = []
    for name, m in metrics["variants"].items():
        (tn, fp), (fn, tp) = m["confusion_matrix"]
        row = {"variant": name, **{c: m.get(c) for c in METRIC_COLUMNS}}
        rows.append(row | {"tn": tn, "fp": fp, "fn": fn, "tp": tp})
    return rows


def progress_percent(epochs_done: int, total_epochs: int) -> float:
    """Return epochs done as a percentage of the total, within 0-100."""
    if total_epochs <= 0:
        return 100.0
    return round(min(100.0, max(0.0, 100.0 * epochs_done / total_epochs)), 1)


def _logger() -> logging.Logger | logging.LoggerAdapter:
    return run_logger("imbalance.publish")


def _in_a_run() -> bool:
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def _publish(what: str, publish: Callable[[], T]) -> T | None:
    """Return `publish()`, or None with a warning when there is no run or the API fails."""
    if not _in_a_run():
        _logger().warning("not publishing %s: no Prefect flow or task run here", what)
        return None
    try:
        return publish()
    except Exception as exc:  # an artifact is never worth failing the run for
        _logger().warning("could not publish %s: %s: %s", what, type(exc).__name__, exc)
        return None


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
                run.report.read_text(), key=REPORT_KEY, description=f"Report of run {run.run_id}"
            ),
            METRICS_KEY: create_table_artifact(
                metrics_rows(metrics),
                key=METRICS_KEY,
                description=f"Minority-class metrics of run {run.run_id}, one row per variant",
            ),
            RUN_DIR_KEY: create_link_artifact(
                file_link(run.root),
                link_text=str(run.root.resolve()),
                key=RUN_DIR_KEY,
                description=f"Folder of run {run.run_id}",
            ),
        }
        for variant in metrics["variants"]:
            if run.model(variant).is_file():
                ids[model_key(variant)] = create_link_artifact(
                    file_link(run.model(variant)),
                    link_text=str(run.model(variant).resolve()),
                    key=model_key(variant),
                    description=f"Model `{variant}` of run {run.run_id}",
                )
        if progress_id is not None:
            _set_progress(progress_id, 100.0, "Training complete")
        return ids

    return _publish(f"the results of run {run.run_id}", publish)


def start_training_progress(total_epochs: int) -> UUID | None:
    """Create the run's training progress artifact at 0%; return its id."""
    from prefect.artifacts import create_progress_artifact

    return _publish(
        "the training progress",
        lambda: create_progress_artifact(
            0.0, key=PROGRESS_KEY, description=_progress_text(0, total_epochs)
        ),
    )


def report_training_progress(
    artifact_id: UUID | None, run: RunPaths, variant: str, epochs_done: int, total_epochs: int
) -> None:
    """Record `variant`'s epochs done and show the sum over all variants in the artifact.

    Variants train in threads (or processes, with another task runner), so each keeps
    its count in a file of the run's scratch folder and every update sums the files.
    Updates come at most once a second per variant; the flow sets 100% when training
    is over (`publish_run`).
    """
    if artifact_id is None:
        return
    # The count is always recorded (a file write is cheap), so the sum stays right;
    # only the calls to the API are spaced out.
    store.write_json(run.progress(variant), {"variant": variant, "epochs_done": epochs_done})
    now = time.monotonic()
    last = _last_progress_update.get((artifact_id, variant))
    if last is not None and now - last < PROGRESS_INTERVAL_SECONDS:
        return
    _last_progress_update[(artifact_id, variant)] = now

    def publish() -> None:
        done = sum(int(store.read_json(p)["epochs_done"]) for p in run.progress_files())
        _set_progress(
            artifact_id, progress_percent(done, total_epochs), _progress_text(done, total_epochs)
        )

    _publish("the training progress", publish)


def _progress_text(done: int, total: int) -> str:
    return f"Training: {done} of {total} epochs over all variants"


def _set_progress(artifact_id: UUID, percent: float, description: str) -> None:
    from prefect.artifacts import update_progress_artifact

    update_progress_artifact(artifact_id, percent, description=description)

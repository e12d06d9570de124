"""Prefect helpers the tasks share: the run's logger, best-effort publishing, training progress.

Publishing is a courtesy, never a reason to fail a run: without a flow or task run
context (a function called on its own) or when the API does not answer, each
function logs a warning and returns None.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from imbalance import store
from imbalance.store import RunPaths


def run_logger(fallback: str) -> logging.Logger | logging.LoggerAdapter:
    """Return the run's logger; outside a run (a task's `.fn` in a test) the `fallback` one."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_logger, get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return get_logger(fallback)


PROGRESS_KEY = "retrain-progress"
# Per-epoch calls can come every few milliseconds; the UI needs no more than one a second.
PROGRESS_INTERVAL_SECONDS = 1.0

T = TypeVar("T")
_last_progress_update: dict[tuple[UUID, str], float] = {}


def _in_a_run() -> bool:
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def publish_safely(what: str, publish: Callable[[], T]) -> T | None:
    """Return `publish()`, or None with a warning when there is no run or the API fails."""
    if not _in_a_run():
        run_logger("imbalance.publish").warning(
            "not publishing %s: no Prefect flow or task run here", what
        )
        return None
    try:
        return publish()
    except Exception as exc:  # an artifact is never worth failing the run for
        run_logger("imbalance.publish").warning(
            "could not publish %s: %s: %s", what, type(exc).__name__, exc
        )
        return None


def progress_percent(epochs_done: int, total_epochs: int) -> float:
    """Return epochs done as a percentage of the total, within 0-100."""
    if total_epochs <= 0:
        return 100.0
    return round(min(100.0, max(0.0, 100.0 * epochs_done / total_epochs)), 1)


def start_training_progress(total_epochs: int) -> UUID | None:
    """Create the run's training progress artifact at 0%; return its id."""
    from prefect.artifacts import create_progress_artifact

    return publish_safely(
        "the training progress",
        lambda: create_progress_artifact(
            0.0, key=PROGRESS_KEY, description=_progress_text(0, total_epochs)
        ),
    )


def report_training_progress(
    artifact_id: UUID | None, run: RunPaths, variant: str, epochs_done: int, total_epochs: int
) -> None:
    """Record a training task's epochs done and show the sum over all tasks in the artifact.

    Chunks of models may train at once (in threads, or on Dask workers that share
    the run's folder), so each keeps its count in a file of the run's scratch folder,
    named by `variant` (its first model), and every update sums the files.
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
        set_progress(
            artifact_id, progress_percent(done, total_epochs), _progress_text(done, total_epochs)
        )

    publish_safely("the training progress", publish)


def _progress_text(done: int, total: int) -> str:
    return f"Training: {done} of {total} epochs over all variants"


def set_progress(artifact_id: UUID, percent: float, description: str) -> None:
    from prefect.artifacts import update_progress_artifact

    update_progress_artifact(artifact_id, percent, description=description)


def _publish_logger() -> logging.Logger | logging.LoggerAdapter:
    return run_logger("imbalance.publish")

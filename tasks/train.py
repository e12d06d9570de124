"""Train one variant (in a thread of the flow): build, fit, save the model, score the test split."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import numpy as np
import pandas as pd
import pyarrow as pa
from prefect import get_run_logger, task

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.scoring import features_and_labels, score
from imbalance.store import RunPaths
from imbalance.tf import load_keras

SCORES_SCHEMA = pa.schema([("score", pa.float32())])


@dataclass(frozen=True)
class TrainedVariant:
    """What training hands to evaluation: small values and the files it wrote."""

    name: str
    class_weight: dict[int, float] | None
    losses: list[float]
    train_seconds: float  # from its turn on the trainer to the trained model, waits excluded
    us_per_step: float | None  # after the first compiled call: see _steady_us_per_step


def prepare_training() -> None:
    """Import TensorFlow in the calling thread, before training tasks start in others.

    The import points file descriptor 2 at /dev/null for ~3 s to drop TensorFlow's
    start-up noise (`imbalance.tf`); done while other threads run, it would swallow
    their log lines too. A no-op once imported.
    """
    load_keras()


def fit_variant(
    cfg: RetrainConfig,
    x: np.ndarray,
    y: np.ndarray,
    class_weight: dict[int, float] | None,
    on_epochs_done: Callable[[int], None] | None = None,
):
    """Return (model, per-epoch losses) of one variant trained with the configured trainer.

    Every variant starts from the same weights and shuffles the same way (`train_seed`),
    so the only difference between them is the class weighting, and a variant trained
    alone, in parallel or in another run gives the same model.
    """
    from tasks.model import build_model

    model = build_model(cfg.hidden_units, cfg.learning_rate, seed=cfg.train_seed)
    if cfg.trainer == "fit":
        from tasks.model import train_with_fit as trainer
    else:
        from tasks.fused import train_fused as trainer
    losses = trainer(
        model,
        x,
        y,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        class_weight=class_weight,
        shuffle=True,
        seed=cfg.train_seed,
        on_epochs_done=on_epochs_done,
    )
    return model, losses


@task(name="train_variant", task_run_name="train-{variant}")
def train_variant(
    cfg: RetrainConfig,
    run: RunPaths,
    variant: str,
    class_weight: dict[int, float] | None,
    progress_id: UUID | None = None,
) -> TrainedVariant:
    """Train `variant`, save its model and test scores into the run, return a summary."""
    from tasks.publish import report_training_progress

    logger = get_run_logger()
    x, y = features_and_labels(store.read_parquet(run.train))
    total = cfg.epochs * len(cfg.variants)
    marks: list[tuple[float, int]] = []  # (time, epochs done) after each compiled call
    turns: list[tuple[float, int]] = []  # when training began: variants may wait for the trainer

    def on_epochs_done(done: int) -> None:
        (marks if done else turns).append((time.perf_counter(), done))
        if done == cfg.epochs or done % max(1, cfg.epochs // 5) == 0:
            logger.info("%s: %d of %d epochs", variant, done, cfg.epochs)
        report_training_progress(progress_id, run, variant, done, total)

    started = time.perf_counter()
    model, losses = fit_variant(cfg, x, y, class_weight, on_epochs_done)
    seconds = time.perf_counter() - (turns[0][0] if turns else started)
    store.save_model(run.model(variant), model)
    store.write_json(run.history(variant), {"variant": variant, "loss": losses})
    x_test, _ = features_and_labels(store.read_parquet(run.test))
    scores = pd.DataFrame({"score": score(model, x_test)})
    store.write_parquet(run.scores(variant), scores, SCORES_SCHEMA, {"variant": variant})
    steps_per_epoch = -(-len(x) // cfg.batch_size)
    return TrainedVariant(
        variant,
        class_weight,
        losses,
        round(seconds, 3),
        _steady_us_per_step(marks, steps_per_epoch),
    )


def _steady_us_per_step(marks: list[tuple[float, int]], steps_per_epoch: int) -> float | None:
    """Return µs per step between the first and the last progress mark.

    The first call of a trainer carries its one-off costs (XLA compiling the loop,
    TensorFlow warming up); the steps after it show the trainer's own speed.
    """
    if len(marks) < 2:
        return None
    (t0, e0), (t1, e1) = marks[0], marks[-1]
    return round(1e6 * (t1 - t0) / ((e1 - e0) * steps_per_epoch), 1)

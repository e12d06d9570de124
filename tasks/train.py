"""Tasks: train the run's models together, then save each as a Keras model and score it."""

from __future__ import annotations

from uuid import UUID

import pandas as pd
import pyarrow as pa
from prefect import get_run_logger, task

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data.preprocess import Preprocessing, transform
from imbalance.model.scoring import score
from imbalance.model.tf import load_keras
from imbalance.model.training import (
    Member,
    TrainedMember,
    TrainedVariant,
    keras_model,
    train_members,
)
from imbalance.store import RunPaths
from tasks._prefect import report_training_progress

SCORES_SCHEMA = pa.schema([("score", pa.float32())])


def prepare_training() -> None:
    """Import TensorFlow in the calling thread, before tasks start in others.

    The import points file descriptor 2 at /dev/null for ~3 s to drop TensorFlow's
    start-up noise (`imbalance.model.tf`); done while other threads run, it would
    swallow their log lines too. A no-op once imported.
    """
    load_keras()


@task(name="train_models")
def train_models(
    cfg: RetrainConfig,
    run: RunPaths,
    members: list[Member],
    prep: Preprocessing,
    progress_id: UUID | None = None,
    n_models: int | None = None,
    epochs: dict[str, int] | None = None,
    stop_early: bool = False,
) -> list[TrainedMember]:
    """Train `members` on the run's training split; return their weights and losses.

    The rows are preprocessed once here (`transform`: what the saved model's own
    layers will do), and only the dense layers train, in the compiled loop. Blind
    members weigh the validation rows 0. `n_models`: the run's models in all (progress).
    `stop_early`: each member stops when its loss on the validation rows has not improved
    for `training.patience` epochs, and keeps its best epoch's weights (blind members
    only: they never train on those rows). `epochs`: each member's own epoch count by
    name (a final model trains for the epochs its blind twin needed).
    """
    logger = get_run_logger()
    train, ignore = store.read_training_part(run)
    x, y = transform(train, prep), prep.spec.target(train).astype("float32")
    options = {}
    if stop_early:
        options["validation"] = (x[ignore], y[ignore])
    if epochs is not None:
        options["epochs"] = [epochs.get(m.name, cfg.training.epochs) for m in members]
    total = cfg.training.epochs * len(members)
    final = [m.name for m in members if not m.blind]
    blind = len(members) - len(final)
    # The final models by name; the blind ones (name@seed) only counted: 30 names is noise.
    names = ", ".join(final) + (f" + {blind} for choosing" if blind else "")

    def on_epochs_done(done: int) -> None:
        if done == total or done % max(1, total // 5) == 0:
            logger.info("%s: %d of %d epochs", names, done, total)
        # Chunks may train at once (on a cluster): each counts under its first model's name.
        overall = cfg.training.epochs * (n_models or len(members))
        report_training_progress(progress_id, run, members[0].name, done, overall)

    logger.info(
        "training %d models with the %s trainer: %s", len(members), cfg.training.trainer, names
    )
    return train_members(cfg, x, y, members, on_epochs_done, ignore=ignore, **options)


@task(name="save_variant", task_run_name="save-{trained.name}")
def save_variant(
    cfg: RetrainConfig,
    run: RunPaths,
    trained: TrainedMember,
    prep: Preprocessing,
    threshold: float | None = None,
    calibration: dict | None = None,
) -> TrainedVariant:
    """Save a trained variant's model and history into the run, score the test split.

    The test rows are scored raw, by the saved model itself (its preprocessing layers
    included), exactly as `imbalance predict` will score new rows. The model file
    keeps its threshold (chosen on validation), variant and run with it, and its
    calibration map (fitted on its blind twin's validation scores) when it has one.
    """
    model = keras_model(cfg, trained, prep)
    metadata = {
        "run_id": run.run_id,
        "variant": trained.name,
        "threshold": threshold,
        "threshold_policy": cfg.selection.threshold_policy,
        "class_weight": trained.class_weight,
        "label": {"column": prep.spec.label, "positive": prep.spec.positive},
    }
    if calibration is not None:
        metadata["calibration"] = calibration
    store.save_model(run.model(trained.name), model, metadata)
    store.write_json(run.history(trained.name), {"variant": trained.name, "loss": trained.losses})
    scores = pd.DataFrame({"score": score(model, store.read_parquet(run.test), prep.spec)})
    store.write_parquet(run.scores(trained.name), scores, SCORES_SCHEMA, {"variant": trained.name})
    return TrainedVariant(
        trained.name,
        trained.class_weight,
        trained.losses,
        trained.train_seconds,
        trained.us_per_step,
        trained.epochs_run,
    )

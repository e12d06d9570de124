"""Task: the run's choices on the validation rows (thresholds, the tuned weight, the variant)."""

from __future__ import annotations

from prefect import task

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data.preprocess import Preprocessing, transform
from imbalance.model.training import TrainedMember
from imbalance.selection.choices import choose
from imbalance.selection.records import Selection
from imbalance.selection.references import References, fit_references
from imbalance.store import RunPaths
from tasks._prefect import run_logger


@task(name="choose_on_validation")
def choose_on_validation(
    cfg: RetrainConfig, run: RunPaths, prep: Preprocessing, trained: list[TrainedMember]
) -> Selection:
    """Score the blind models on the validation rows; write selection.json; return the choices."""
    train, held = store.read_training_part(run)
    rows = train[held]
    selection = choose(cfg, trained, transform(rows, prep), prep.spec.target(rows))
    store.write_json(run.selection, selection.to_json())
    logger = run_logger("imbalance.selection.choices")
    for name in selection.variants:
        c = selection.configurations[name]
        mean, std = c.spread(cfg.selection.metric)
        logger.info(
            "%s: validation %s %.4f ± %.4f over %d seed(s); threshold %.4f",
            name, cfg.selection.metric, mean, std, len(c.seeds), c.threshold,
        )  # fmt: skip
    logger.info("chosen on validation: %s", selection.candidate)
    return selection


@task(name="fit_references")
def reference_metrics(
    cfg: RetrainConfig, run: RunPaths, prep: Preprocessing, weights: dict
) -> References:
    """Fit the reference models and score them on the test part (metrics and test scores).

    As the networks: a fit blind to the validation rows gives each its threshold, the
    fit on the whole training part (the final networks' rows) is what the test scores.
    """
    train, held = store.read_training_part(run)
    test = store.read_parquet(run.test)
    target = prep.spec.target

    def part(rows):
        return transform(rows, prep), target(rows)

    return fit_references(
        cfg, weights, part(train[~held]), part(train[held]), part(train), part(test)
    )

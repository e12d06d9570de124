"""Task: the run's choices on the validation rows (thresholds, the tuned weight, the variant)."""

from __future__ import annotations

from prefect import task

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data.preprocess import Preprocessing, transform
from imbalance.model.training import TrainedMember
from imbalance.selection.calibration import calibrations, maps_to_json
from imbalance.selection.choices import choose, sweep_name
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


@task(name="calibrate_on_validation")
def calibrate_on_validation(
    cfg: RetrainConfig,
    run: RunPaths,
    prep: Preprocessing,
    trained: list[TrainedMember],
    selection: Selection,
) -> dict[str, dict]:
    """Fit each configuration's calibration map on its twin's validation scores.

    The `training.seed` blind twin never trained on the validation rows (as for its
    threshold); the final model takes its map. Writes calibration.json; returns the
    maps as JSON by configuration name (`tuned` included when swept).
    """
    train, held = store.read_training_part(run)
    rows = train[held]
    tuned = None if selection.tuned_weight is None else sweep_name(selection.tuned_weight)
    maps = maps_to_json(
        calibrations(cfg, trained, transform(rows, prep), prep.spec.target(rows), tuned)
    )
    store.write_json(run.calibration, maps)
    logger = run_logger("imbalance.selection.calibration")
    for name in selection.variants:
        if name in maps:
            logger.info("%s: %s calibration on %d validation rows", name,
                        maps[name]["method"], maps[name]["rows"])  # fmt: skip
    return maps


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

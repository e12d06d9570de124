"""Task: the run's choices on the validation rows (thresholds, the tuned weight, the variant)."""

from __future__ import annotations

from typing import Any

from prefect import task

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data.preprocess import Preprocessing, transform
from imbalance.model.training import TrainedMember
from imbalance.selection.choices import choose, logistic_references
from imbalance.store import RunPaths
from tasks._prefect import run_logger


@task(name="choose_on_validation")
def choose_on_validation(
    cfg: RetrainConfig, run: RunPaths, prep: Preprocessing, trained: list[TrainedMember]
) -> dict[str, Any]:
    """Score the blind models on the validation rows; write selection.json; return the choices.

    Choices are made on the validation rows outside the gate; the candidate is then
    scored on the gate rows, for the champion gate alone.
    """
    train = store.read_parquet(run.train)
    on, gate = store.read_validation_parts(run, len(train))
    rows = train[on]
    x_gate = transform(train[gate], prep) if gate.any() else None
    selection = choose(cfg, trained, transform(rows, prep), prep.spec.target(rows), x_gate)
    store.write_json(run.selection, {k: v for k, v in selection.items() if "scores" not in k})
    logger = run_logger("imbalance.selection.choices")
    for name in selection["variants"]:
        c = selection["configurations"][name]
        mean, std = c[cfg.selection.metric]
        logger.info(
            "%s: validation %s %.4f ± %.4f over %d seed(s); threshold %.4f",
            name, cfg.selection.metric, mean, std, len(c["seeds"]), c["threshold"],
        )  # fmt: skip
    logger.info("chosen on validation: %s", selection["candidate"])
    return selection


@task(name="logistic_reference")
def logistic_reference_metrics(
    cfg: RetrainConfig, run: RunPaths, prep: Preprocessing, weights: dict
) -> dict[str, Any]:
    """Return a logistic regression's test metrics per variant's class weights (reference)."""
    train, held = store.read_training_part(run)
    on, _ = store.read_validation_parts(run, len(train))  # the network's choosing rows
    test = store.read_parquet(run.test)
    target = prep.spec.target

    def part(rows):
        return transform(rows, prep), target(rows)

    return logistic_references(cfg, weights, part(train[~held]), part(train[on]), part(test))

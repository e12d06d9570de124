"""Task: score each variant on the test split; write metrics.json and predictions.parquet."""

from __future__ import annotations

import pandas as pd
from prefect import task

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data import DataSpec
from imbalance.model.scoring import LABEL
from imbalance.model.training import TrainedVariant
from imbalance.selection.calibration import Calibration, calibration_metrics
from imbalance.selection.metrics import METRICS, predictions_schema, variant_metrics
from imbalance.selection.records import Selection
from imbalance.selection.references import References, compare_with_chosen
from imbalance.store import RunPaths


@task(name="evaluate_variants")
def evaluate_variants(
    cfg: RetrainConfig,
    run: RunPaths,
    trained: list[TrainedVariant],
    spec: DataSpec,
    selection: Selection,
    references: References | None = None,
    calibration: dict[str, dict] | None = None,
) -> dict:
    """Write predictions.parquet and metrics.json for the trained variants; return the metrics.

    Each variant is measured on the test part at the threshold chosen for it on the
    validation rows (`selection`), beside its validation results: the test part only
    reports. predictions.parquet has the test rows' 0/1 class (`label`) and each
    variant's score, in test.parquet's row order (its columns are the user's: no clash).
    `references` (the reference models' test metrics and scores) become
    metrics["reference"], each with the paired bootstrap of the chosen variant against it
    on the test rows (`against_chosen`): reported only, never used to choose.
    `calibration`: each variant's map (JSON); its probabilities' Brier score and log loss
    on the test part sit beside the raw score's Brier and the constant predictor's (the
    training part's positive rate).
    """
    y_true = spec.target(store.read_parquet(run.test, columns=[spec.label]))
    prevalence = float(spec.target(store.read_parquet(run.train, columns=[spec.label])).mean())
    maps = {k: Calibration.from_json(v) for k, v in (calibration or {}).items()}
    predictions = pd.DataFrame({LABEL: y_true})
    results = {}
    for item in trained:
        scores = store.read_parquet(run.scores(item.name))["score"].to_numpy()
        predictions[item.name] = scores
        chosen = selection.configurations[item.name]
        results[item.name] = variant_metrics(y_true, scores, chosen.threshold) | {
            "threshold": chosen.threshold,
            "threshold_why": chosen.why,
            "validation": {m: list(chosen.spread(m)) for m in METRICS},
            "seeds": list(chosen.seeds),
            "class_weight": item.class_weight,
            "train_seconds": item.train_seconds,
            "us_per_step": item.us_per_step,
            "final_loss": item.losses[-1],
            "epochs": item.epochs,
        }
        results[item.name] |= calibration_metrics(
            y_true, scores, maps.get(item.name), prevalence
        ) | {"calibration": None if item.name not in maps else maps[item.name].method}
    names = [t.name for t in trained]
    thresholds = {name: results[name]["threshold"] for name in names}
    store.write_parquet(
        run.predictions, predictions, predictions_schema(names), {"thresholds": thresholds}
    )
    reference = {}
    if references is not None:
        chosen = selection.candidate
        comparisons = {}
        if chosen in results:
            chosen_scores = predictions[chosen].to_numpy()
            threshold = results[chosen]["threshold"]
            comparisons = compare_with_chosen(cfg, y_true, chosen_scores, threshold, references)
        reference = {
            name: m | {"against_chosen": comparisons.get(name)}
            for name, m in references.metrics.items()
        }
    metrics = {
        "threshold_policy": cfg.selection.threshold_policy,
        "test_rows": len(predictions),
        "chosen": selection.candidate,
        "tuned_weight": selection.tuned_weight,
        "variants": results,
        "reference": reference,
        "train_prevalence": prevalence,
    }
    store.write_json(run.metrics, metrics)
    return metrics

"""Task: score each variant on the test split; write metrics.json and predictions.parquet."""

from __future__ import annotations

import pandas as pd
from prefect import task

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data import DataSpec
from imbalance.evaluation import predictions_schema, variant_metrics
from imbalance.model.training import TrainedVariant
from imbalance.scoring import LABEL
from imbalance.store import RunPaths


@task(name="evaluate_variants")
def evaluate_variants(
    cfg: RetrainConfig, run: RunPaths, trained: list[TrainedVariant], spec: DataSpec
) -> dict:
    """Write predictions.parquet and metrics.json for the trained variants; return the metrics.

    predictions.parquet has the test rows' 0/1 class (`label`) and each variant's
    score, in test.parquet's row order (whose columns are the user's: no name clash).
    """
    y_true = spec.target(store.read_parquet(run.test, columns=[spec.label]))
    predictions = pd.DataFrame({LABEL: y_true})
    results = {}
    for item in trained:
        scores = store.read_parquet(run.scores(item.name))["score"].to_numpy()
        predictions[item.name] = scores
        results[item.name] = variant_metrics(y_true, scores, cfg.threshold) | {
            "class_weight": item.class_weight,
            "train_seconds": item.train_seconds,
            "us_per_step": item.us_per_step,
            "final_loss": item.losses[-1],
        }
    names = [t.name for t in trained]
    store.write_parquet(
        run.predictions, predictions, predictions_schema(names), {"threshold": cfg.threshold}
    )
    metrics = {"threshold": cfg.threshold, "test_rows": len(predictions), "variants": results}
    store.write_json(run.metrics, metrics)
    return metrics

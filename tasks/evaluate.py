"""Task: score each variant on the test split; write metrics.json and predictions.parquet."""

from __future__ import annotations

from prefect import task

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.evaluation import predictions_schema, variant_metrics
from imbalance.model.training import TrainedVariant
from imbalance.scoring import LABEL
from imbalance.store import RunPaths


@task(name="evaluate_variants")
def evaluate_variants(cfg: RetrainConfig, run: RunPaths, trained: list[TrainedVariant]) -> dict:
    """Write predictions.parquet and metrics.json for the trained variants; return the metrics."""
    test = store.read_parquet(run.test)
    y_true = test[LABEL].to_numpy()
    results = {}
    for item in trained:
        scores = store.read_parquet(run.scores(item.name))["score"].to_numpy()
        test[item.name] = scores
        results[item.name] = variant_metrics(y_true, scores, cfg.threshold) | {
            "class_weight": item.class_weight,
            "train_seconds": item.train_seconds,
            "us_per_step": item.us_per_step,
            "final_loss": item.losses[-1],
        }
    names = [t.name for t in trained]
    store.write_parquet(
        run.predictions, test, predictions_schema(names), {"threshold": cfg.threshold}
    )
    metrics = {"threshold": cfg.threshold, "test_rows": len(test), "variants": results}
    store.write_json(run.metrics, metrics)
    return metrics

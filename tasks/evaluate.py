"""Score each variant on the test split with sklearn's metrics; write metrics and predictions."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from prefect import task
from sklearn.metrics import (
    average_precision_score,
    classification_report,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.scoring import LABEL
from imbalance.store import RunPaths
from tasks.data import DATASET_SCHEMA
from tasks.train import TrainedVariant


def variant_metrics(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """Return minority-class precision, recall, F1, ROC/PR AUC and the confusion matrix."""
    y_pred = (scores >= threshold).astype(int)
    both_classes = len(np.unique(y_true)) == 2
    return {
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
        "roc_auc": float(roc_auc_score(y_true, scores)) if both_classes else None,
        "pr_auc": float(average_precision_score(y_true, scores)) if both_classes else None,
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist(),
        "classification_report": classification_report(
            y_true, y_pred, labels=[0, 1], digits=4, zero_division=0
        ),
    }


def predictions_schema(variants: list[str]) -> pa.Schema:
    """Return the schema of predictions.parquet: the test rows, then one score per variant."""
    return pa.schema(list(DATASET_SCHEMA) + [(v, pa.float32()) for v in variants])


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

"""Minority-class metrics of scores against labels (scikit-learn): pure functions on arrays."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from sklearn.metrics import (
    average_precision_score,
    classification_report,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from imbalance.model.scoring import LABEL

# The metrics a run reports per variant and a choice or a comparison can rest on.
METRICS: tuple[str, ...] = ("pr_auc", "roc_auc", "precision", "recall", "f1")


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
    """Return the schema of predictions.parquet: each test row's class, its score per variant."""
    return pa.schema([(LABEL, pa.int8())] + [(v, pa.float32()) for v in variants])

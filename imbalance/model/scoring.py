"""How a saved model scores rows: shared by training, the champion check and `predict`.

Kept free of Prefect so that `imbalance predict` uses the very same columns and
scoring as the flow without importing the orchestration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from imbalance.config import recorded_fields
from imbalance.data.preprocess import model_inputs

if TYPE_CHECKING:
    import keras
    import pandas as pd

    from imbalance.data.spec import DataSpec

LABEL = "label"  # the 0/1 class in predictions.parquet
PREDICT_BATCH = 65_536


def recorded_threshold(manifest: dict, variant: str) -> float:
    """Return the threshold a run chose for `variant` (runs before thresholds were chosen:
    the config's fixed one). Raises KeyError, TypeError or ValueError if there is none."""
    chosen = manifest.get("thresholds")
    if chosen is not None:
        return float(chosen[variant])
    return float(recorded_fields(manifest["config"])["selection.threshold"])


def score(model: keras.Model, frame: pd.DataFrame, spec: DataSpec) -> np.ndarray:
    """Return the model's class-1 score of each of `frame`'s raw rows.

    A model saved before models took raw columns (one (n, 2) input: the tutorial's
    x1, x2) gets them stacked, so earlier runs' models still score.
    """
    import tensorflow as tf

    inputs = model_inputs(frame, spec)
    if len(model.inputs) == 1 and len(inputs) > 1:
        inputs = [np.concatenate(inputs, axis=1)]
    # Keras's predict takes text only as tensors, not as numpy arrays of str.
    inputs = [tf.constant(x) if x.dtype.kind == "U" else x for x in inputs]
    scores = model.predict(inputs, batch_size=PREDICT_BATCH, verbose=0)
    return scores.reshape(-1).astype(np.float32)

"""The model's inputs and how a saved model scores rows: shared by training and `predict`.

Kept free of Prefect so that `imbalance predict` uses the very same columns and
scoring as the flow without importing the orchestration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras
    import pandas as pd

FEATURES = ["x1", "x2"]  # the model's inputs, in this order
LABEL = "label"
PREDICT_BATCH = 65_536


def features_and_labels(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return the float32 feature matrix and labels Keras trains on."""
    return frame[FEATURES].to_numpy(np.float32), frame[LABEL].to_numpy(np.float32)


def score(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Return the model's class-1 score of each row."""
    return model.predict(x, batch_size=PREDICT_BATCH, verbose=0).reshape(-1).astype(np.float32)

"""Reference scorers a network must beat: fitted on the same rows, scored on the same rows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.linear_model import LogisticRegression

# --- reference scorers ----------------------------------------------------------------------


def logistic_reference(
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    class_weight: dict[int, float] | None,
    seed: int = 0,
) -> Callable[[np.ndarray], np.ndarray]:
    """Return a scorer (rows -> class-1 probabilities, float32) of a fitted logistic regression.

    The model a practitioner tries first, with the same class weights as the network: if
    the network does not beat it, it has not earned its place. lbfgs on inputs already
    standardised; `seed` is passed as `random_state` (lbfgs itself draws nothing).
    """
    model = LogisticRegression(
        solver="lbfgs", max_iter=5000, class_weight=class_weight, random_state=seed
    )
    model.fit(np.asarray(x_fit), np.asarray(y_fit).ravel())

    def score(x: np.ndarray) -> np.ndarray:
        return model.predict_proba(np.asarray(x))[:, 1].astype(np.float32)

    return score

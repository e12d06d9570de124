"""Data shared by the trainer tests: the same rows for fit, fused and batched."""

import numpy as np
import pytest
from sklearn.datasets import make_classification

N_ROWS = 3000


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    """Return 3,000 imbalanced rows (~2% positives), pre-permuted so order is not by class."""
    x, y = make_classification(
        n_samples=N_ROWS,
        n_features=2,
        n_informative=2,
        n_redundant=0,
        n_clusters_per_class=1,
        weights=[0.98],
        random_state=0,
    )
    order = np.random.default_rng(0).permutation(N_ROWS)
    return x[order], y[order]

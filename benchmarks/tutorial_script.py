"""The tutorial as users write it: one plain script, three `model.fit` calls, no pipeline.

The yardstick of `make bench`; kept as close to the tutorial as Keras 3 allows
(`keras.Input` instead of `input_dim`). Prints the minority recall of each variant.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.metrics import recall_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.utils.class_weight import compute_class_weight  # noqa: E402


def main(n_samples: int = 100_000) -> None:
    x, y = make_classification(
        n_samples=n_samples,
        n_features=2,
        n_informative=2,
        n_redundant=0,
        n_repeated=0,
        n_classes=2,
        n_clusters_per_class=1,
        weights=[0.995, 0.005],
        class_sep=0.5,
        random_state=0,
    )
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=42)
    balanced = compute_class_weight("balanced", classes=np.array([0, 1]), y=y_train)
    weights = {"baseline": None, "balanced": dict(enumerate(balanced)), "manual": {0: 1, 1: 200}}
    for name, class_weight in weights.items():
        keras.utils.set_random_seed(42)
        model = keras.Sequential(
            [
                keras.Input(shape=(2,)),
                keras.layers.Dense(2, activation="relu"),
                keras.layers.Dense(2, activation="relu"),
                keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(loss="binary_crossentropy", optimizer="adam")
        model.fit(x_train, y_train, epochs=50, batch_size=100, class_weight=class_weight, verbose=0)
        y_pred = (model.predict(x_test, verbose=0).reshape(-1) > 0.5).astype(int)
        print(f"{name}: minority recall {recall_score(y_test, y_pred):.3f}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))

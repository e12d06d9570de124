"""A run's data: where it comes from, what is checked, how it is split and prepared.

- `spec`: DataSpec (label, positive value, features) and DataError, the one-line refusal.
- `generator`: the tutorial's generated data, the default source.
- `sources`: the user's files: a file, a folder, a glob or an fsspec URL (s3://...).
- `filesystem`: finding a source's files (fsspec, listing, bytes) and the errors a user causes.
- `checks`: the table checked and turned into a DataSpec, before anything trains.
- `split`: the gate's rows by a stable hash, train/test, and the validation rows.
- `preprocess`: the standardisation and one-hot statistics of the training part.

Pure functions on frames and tables, no Prefect, no TensorFlow.
"""

from imbalance.data.spec import DataError, DataSpec, Feature
from imbalance.data.split import (
    SplitCounts,
    count_split,
    in_gate,
    keys_digest,
    row_keys,
    split_frame,
    validation_rows,
)

__all__ = [
    "DataError",
    "DataSpec",
    "Feature",
    "SplitCounts",
    "count_split",
    "in_gate",
    "keys_digest",
    "row_keys",
    "split_frame",
    "validation_rows",
]

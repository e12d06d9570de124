"""Task: the class weights of the run, from its training split."""

from __future__ import annotations

from prefect import task

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data import DataSpec
from imbalance.selection.weights import class_weight_table
from imbalance.store import RunPaths


@task(name="compute_class_weights")
def compute_class_weights(
    cfg: RetrainConfig, run: RunPaths, spec: DataSpec
) -> dict[str, dict[int, float]]:
    """Compute the class weights from the training split, write weights.json, return them."""
    labels = spec.target(store.read_parquet(run.train, columns=[spec.label]))
    table = class_weight_table(labels, cfg)
    store.write_json(run.weights, table)
    return table

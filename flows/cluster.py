"""Training on a Dask cluster: a subflow whose task runner is prefect-dask's.

The retrain flow stays on threads; only its training step goes to the cluster, as
chunks of models (`train_models` tasks). A task gets paths and small values and
sends back weights and losses; the flow's process saves the models and writes the
run, so the artifact store's guarantees do not depend on the workers. A worker that
dies while it trains is replaced by Dask, which runs its task again elsewhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from prefect import flow, get_run_logger

from imbalance.config import RetrainConfig
from imbalance.data.preprocess import Preprocessing
from imbalance.model.distribution import LOCAL, ClusterUnreachable
from imbalance.model.training import Member, TrainedMember
from imbalance.store import RunPaths
from tasks.train import train_models

if TYPE_CHECKING:
    from prefect_dask import DaskTaskRunner

CONNECT_TIMEOUT = "5s"


def cluster_workers(address: str, cfg: RetrainConfig) -> int:
    """Return the number of workers at `address`, or raise ClusterUnreachable in one line."""
    if address == LOCAL:
        return cfg.training.dask_workers
    from distributed import Client

    try:
        with Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False) as client:
            return max(1, len(client.scheduler_info()["workers"]))
    except (OSError, TimeoutError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterUnreachable(
            f"the Dask scheduler at {address} did not answer within {CONNECT_TIMEOUT}: {why}"
        ) from None


def dask_runner(address: str, cfg: RetrainConfig) -> DaskTaskRunner:
    """Return prefect-dask's runner for `address`, or a temporary local cluster for `local`."""
    from prefect_dask import DaskTaskRunner

    if address == LOCAL:
        return DaskTaskRunner(
            cluster_kwargs={
                "n_workers": cfg.training.dask_workers,
                "processes": True,
                "threads_per_worker": 1,
                "host": "127.0.0.1",
                "dashboard_address": None,
            }
        )
    return DaskTaskRunner(address=address)


@flow(name="train-on-dask", log_prints=False)
def train_on_cluster(
    cfg: RetrainConfig,
    run: RunPaths,
    chunks: list[list[Member]],
    prep: Preprocessing,
    progress_id: UUID | None = None,
    n_models: int | None = None,
    epochs: dict[str, int] | None = None,
    stop_early: bool = False,
) -> list[TrainedMember]:
    """Train each chunk of models on a worker of the cluster; return them in order."""
    get_run_logger().info(
        "%d models in %d tasks on the cluster", sum(map(len, chunks)), len(chunks)
    )
    futures = [
        train_models.submit(cfg, run, chunk, prep, progress_id, n_models, epochs, stop_early)
        for chunk in chunks
    ]
    return [member for future in futures for member in future.result()]

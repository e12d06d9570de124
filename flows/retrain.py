"""The retrain flow: generate, split, weights, train x3 in threads, evaluate, report."""

from __future__ import annotations

import os
from dataclasses import asdict

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.settings import get_current_settings
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.names import generate_slug

from imbalance.config import RetrainConfig
from imbalance.lifecycle import staged_run
from imbalance.provenance import utc_now
from imbalance.variants import VARIANTS, class_weight_for
from tasks.champion import decide_champion, promote_champion, score_champion
from tasks.data import generate_dataset, split_dataset
from tasks.evaluate import evaluate_variants
from tasks.plots import draw_plots
from tasks.publish import publish_run, start_training_progress
from tasks.report import write_report
from tasks.train import prepare_training, train_variant
from tasks.weights import compute_class_weights


def flow_run_name() -> str:
    """Return a readable name that sorts by time, e.g. 20261129T020000Z-witty-otter."""
    return f"{utc_now():%Y%m%dT%H%M%SZ}-{generate_slug(2)}"


def training_task_runner() -> ThreadPoolTaskRunner:
    """Return the runner of the training tasks: threads of the flow's process, one per core.

    Threads, not processes: nothing is imported twice, and the variants share one
    compiled training loop (`tasks/fused.py`), taking turns on it while the rest of
    their work (reading data, saving, scoring) and the champion check overlap.
    A process of its own cost a variant ~8 s of imports (Prefect, TensorFlow) and
    ~1.5 s of compiling for ~0.4 s of training (README, "Reproducible, and fast").
    A variant's model is the same in any layout (`imbalance.tf.KERAS_RANDOM_STATE`,
    tested). Prefect's PREFECT_TASK_RUNNER_THREAD_POOL_MAX_WORKERS overrides the count.
    """
    configured = get_current_settings().tasks.runner.thread_pool_max_workers
    return ThreadPoolTaskRunner(max_workers=configured or os.cpu_count() or 1)


@flow(
    name="retrain",
    flow_run_name=flow_run_name,
    task_runner=training_task_runner(),
    log_prints=False,
)
def retrain(cfg: RetrainConfig = RetrainConfig()) -> str:  # noqa: B008 (Prefect reads the default)
    """Retrain the three class-weight variants and return the folder of the complete run."""
    logger = get_run_logger()
    with staged_run(cfg, flow_run.get_name() or flow_run_name()) as staged:
        run = staged.paths
        logger.info("run %s: staging in %s", run.run_id, run.root)
        rows = generate_dataset(cfg, run)
        counts = split_dataset(cfg, run)
        staged.counts = {"dataset_rows": rows, **asdict(counts)}
        weights = compute_class_weights(cfg, run)
        progress_id = start_training_progress(cfg.epochs * len(cfg.variants))
        prepare_training()  # TensorFlow's import silences fd 2: before other threads log
        incumbent = score_champion.submit(cfg, run)  # needs only the test split: beside training
        futures = [
            train_variant.submit(
                cfg, run, name, class_weight_for(VARIANTS[name], weights), progress_id
            )
            for name in cfg.variants
        ]
        trained = [future.result() for future in futures]
        metrics = evaluate_variants(cfg, run, trained)
        plots = draw_plots(cfg, run, metrics)
        decision = decide_champion(cfg, run, metrics, incumbent)
        staged.extra["champion"] = decision
        write_report(cfg, run, counts, metrics, decision, plots)
    promote_champion(cfg, decision)  # only now that the run is complete
    logger.info("run %s complete: %s", staged.final.run_id, staged.final.root)
    publish_run(staged.final, progress_id)
    return str(staged.final.root)

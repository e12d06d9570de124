"""The retrain flow: data, (skip?), split, drift, weights, train, choose, evaluate, promote."""

from __future__ import annotations

import os
from dataclasses import asdict

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.settings import get_current_settings
from prefect.states import Completed
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.names import generate_slug

from flows.cluster import cluster_workers, dask_runner, train_on_cluster
from imbalance.config import RetrainConfig
from imbalance.model.distribution import dask_address, split_into_chunks
from imbalance.monitoring.nightly import SKIPPED, as_of_record, skip_message, unchanged_since
from imbalance.selection.champion import describe_decision
from imbalance.selection.choices import final_epochs, final_members, plan_members
from imbalance.store import ArtifactStore
from imbalance.store.provenance import utc_now
from imbalance.store.staged import staged_run
from tasks.champion import decide_champion, score_champion
from tasks.choose import calibrate_on_validation, choose_on_validation, reference_metrics
from tasks.data import preprocessing, read_dataset, split_dataset, write_snapshot
from tasks.drift import drift_against_champion
from tasks.evaluate import evaluate_variants
from tasks.plots import draw_plots
from tasks.publish import publish_run, start_training_progress
from tasks.report import write_report
from tasks.train import prepare_training, save_variant, train_models
from tasks.weights import compute_class_weights


def flow_run_name() -> str:
    """Return a readable name that sorts by time, e.g. 20261129T020000Z-witty-otter."""
    return f"{utc_now():%Y%m%dT%H%M%SZ}-{generate_slug(2)}"


def training_task_runner() -> ThreadPoolTaskRunner:
    """Return the flow's task runner: threads of the flow's process, one per core.

    Threads, not processes: nothing is imported twice. The models train together in
    one task (`imbalance/model/batched.py`: one compiled loop for all of them) while
    the champion check runs beside it; saving and scoring each model overlap after.
    A process of its own cost a task ~8 s of imports (Prefect, TensorFlow) for ~1 s
    of training. Prefect's PREFECT_TASK_RUNNER_THREAD_POOL_MAX_WORKERS sets the count.
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
    """Retrain the class-weight variants and return the folder of the complete run."""
    logger = get_run_logger()
    address = dask_address(cfg.training.dask_address)
    # Before any folder exists: an unreachable scheduler fails the run in one line.
    n_workers = cluster_workers(address, cfg) if address else 1
    name = flow_run.get_name() or flow_run_name()
    attempt = flow_run.run_count or 1  # a retry runs the flow again in this process
    # The schedule's time for a scheduled run (a night that starts late keeps its date).
    as_of = cfg.as_of_time(flow_run.scheduled_start_time)
    dataset = read_dataset(cfg, as_of)  # before any folder exists: a skip leaves none
    artifacts = ArtifactStore(cfg.storage.artifacts_dir)
    if cfg.nightly.skip_unchanged:
        same = unchanged_since(artifacts, cfg, dataset.fingerprint)
        if same is not None:
            message = skip_message(same, dataset.fingerprint)
            logger.info(message)
            return Completed(name=SKIPPED, message=message, data=str(artifacts.run(same).root))
    # A retry stages a folder of its own: the failed attempt's keeps its manifest (why).
    with staged_run(cfg, name if attempt <= 1 else f"{name}-retry{attempt - 1}") as staged:
        run = staged.paths
        logger.info("run %s (as of %s): staging in %s", run.run_id, as_of_record(as_of), run.root)
        staged.learn(as_of=as_of_record(as_of))
        write_snapshot(run, dataset)
        spec, provenance = dataset.spec, dataset.provenance
        counts, parts = split_dataset(cfg, run, spec)
        staged.learn(parts=parts)
        drift = drift_against_champion.submit(cfg, run, spec)
        prep = preprocessing(run, spec)
        staged.learn(
            counts={"dataset_rows": provenance["rows"], **asdict(counts)},
            data=provenance | prep.to_json(),
        )
        weights = compute_class_weights(cfg, run, spec)
        # Final models (all training rows) and models for choosing (blind to the
        # validation rows, several seeds), all in one batched training.
        members = plan_members(cfg, weights)
        progress_id = start_training_progress(cfg.training.epochs * len(members))
        prepare_training()  # TensorFlow's import silences fd 2: before other threads log
        # The champion needs only the gate rows: it is scored beside training.
        incumbent = score_champion.submit(cfg, run, spec)
        reference = reference_metrics.submit(cfg, run, prep, weights)
        n = len(members)

        def train(group: list, **options) -> list:
            chunks = split_into_chunks(group, cfg.training.models_per_task, n_workers)
            if address:  # only training goes to the cluster: the run is written here
                runner = dask_runner(address, cfg)
                on_cluster = train_on_cluster.with_options(task_runner=runner)
                staged.learn(trained_on={"dask": address, "tasks": len(chunks)})
                return on_cluster(cfg, run, chunks, prep, progress_id, n, **options)
            futures = [
                train_models.submit(cfg, run, c, prep, progress_id, n, **options) for c in chunks
            ]
            return [member for future in futures for member in future.result()]

        if cfg.training.patience:
            # Early stopping: the blind models stop on the validation rows first; each
            # final model then trains on the whole training part for its twin's epochs.
            blind = train([m for m in members if m.blind], stop_early=True)
            epochs = final_epochs(cfg, blind)
            models = train([m for m in members if not m.blind], epochs=epochs) + blind
        else:
            models = train(members)  # finals and blind models in one batched training
        selection = choose_on_validation(cfg, run, prep, models)
        finals = final_members(selection, models)
        thresholds = selection.thresholds()
        staged.learn(thresholds=thresholds)
        # Each final model's calibration map: fitted on its blind twin's validation scores.
        calibration = calibrate_on_validation(cfg, run, prep, models, selection)
        saving = [
            save_variant.submit(cfg, run, m, prep, thresholds[m.name], calibration.get(m.name))
            for m in finals
        ]
        trained = [f.result() for f in saving]
        metrics = evaluate_variants(
            cfg, run, trained, spec, selection, reference.result(), calibration
        )
        plots = draw_plots(cfg, run, metrics, selection)
        proposal = decide_champion(cfg, run, spec, selection, incumbent, staged.facts)
        staged.learn(drift=drift.result())
        # The report is written once the proposal is settled against champion.json, and
        # is seen only with its outcome (imbalance.store.staged): it says what happened.
        final = staged.complete(
            proposal,
            lambda decision, paths: write_report(
                cfg,
                paths,
                counts,
                metrics,
                decision,
                plots,
                staged.facts.data,
                selection,
                {"as_of": staged.facts.as_of, "drift": staged.facts.drift},
            ),
        )
    logger.info("run %s complete: %s", final.run_id, final.root)
    if staged.decision is not None:
        logger.info("champion: %s", describe_decision(staged.decision))
    if staged.retention is not None:
        logger.info(staged.retention)
    publish_run(final, progress_id)
    return str(final.root)


# What the deployments run (prefect.yaml): a failed night is retried once, a minute
# later, so one transient failure does not lose it. `imbalance run` and the tests call
# `retrain` itself: a bad option there should fail at once, not again a minute later.
# A hung night is stopped after NIGHT_TIMEOUT_SECONDS (Failed, "TimedOut"), so the
# deployment's concurrency limit of one never blocks the nights after it.
NIGHT_TIMEOUT_SECONDS = 3 * 3600
retrain_with_retry = retrain.with_options(
    retries=1, retry_delay_seconds=60, timeout_seconds=NIGHT_TIMEOUT_SECONDS
)

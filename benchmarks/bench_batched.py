"""Batched training (`train_batched`) against one model at a time (`train_fused`), one run.

Rows: one model alone; the tutorial's three variants (K = 3 in one call against
three calls); a 100-model sweep (20 minority weights log-spaced 1..500 x 5 seeds)
batched against one at a time. All on the tutorial's default data (100,000 rows,
80,000 to train), 50 epochs, batch 100: 40,000 Adam steps per model. Times include
compilation: each row's `train_fused` calls share one `loop.Programs` of their
own, so each row compiles once, as a run training model by model does. Since issue
21, `train_fused` is the batched loop with one member, so the weight differences
against it measure what a member's company changes (0 measured), not a second
implementation; tests/model/test_batched.py compares members with `model.fit`.
Peak memory is the process's resident-set high-water mark after the row
(`ru_maxrss`, so never lower than an earlier row's). Then the compiled loop's time
per step at K = 10 ... 1,000 members per call (compiling left out), the machine's
float32 matmul rate and the sweep's FLOPs per step, to say where the time goes.

Writes benchmarks/results/bench_batched.json and prints a markdown table.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imbalance.config import RetrainConfig  # noqa: E402
from imbalance.data import split_frame  # noqa: E402
from imbalance.data.generator import (  # noqa: E402
    GENERATOR_SPEC,
    features_and_labels,  # noqa: E402
    make_dataset,
)
from imbalance.model import fused, loop  # noqa: E402
from imbalance.model.batched import train_batched  # noqa: E402
from imbalance.model.network import build_model  # noqa: E402

EPOCHS, BATCH, LR, HIDDEN, SHUFFLE_SEED = 50, 100, 0.001, 2, 42
VARIANTS = [None, {0: 0.5051589, 1: 48.9596083}, {0: 1.0, 1: 200.0}]
SWEEP_WEIGHTS = np.logspace(0, np.log10(500), 20)
SWEEP_SEEDS = range(5)
# Members per call for the step-time-by-K rows, each trained SCALING_EPOCHS epochs.
SCALING_K = (10, 30, 100, 300, 1000)
SCALING_EPOCHS = 5


def default_train_split() -> tuple[np.ndarray, np.ndarray]:
    """Return the tutorial's 80,000 training rows, as the flow draws and splits them."""
    cfg = RetrainConfig()
    train, _ = split_frame(make_dataset(cfg), cfg, GENERATOR_SPEC)
    return features_and_labels(train)


def peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def one_at_a_time(x, y, members: list[tuple[int, dict | None]]) -> tuple[float, list]:
    """Return the seconds taken to train each (seed, class weight) by train_fused, and weights."""
    programs = loop.Programs()  # one compile for all, as a run's one-by-one trainer does
    started = time.perf_counter()
    weights = []
    for seed, class_weight in members:
        model = build_model(HIDDEN, LR, seed=seed)
        fused.train_fused(
            model,
            x,
            y,
            epochs=EPOCHS,
            batch_size=BATCH,
            class_weight=class_weight,
            seed=SHUFFLE_SEED,
            programs=programs,
        )
        weights.append(model.get_weights())
    return time.perf_counter() - started, weights


def batched(x, y, members: list[tuple[int, dict | None]]) -> tuple[float, list]:
    """Return the seconds taken to train all (seed, class weight) pairs at once, and weights."""
    initial = [build_model(HIDDEN, LR, seed=seed).get_weights() for seed, _ in members]
    marks.clear()
    started = time.perf_counter()
    result = train_batched(
        initial,
        x,
        y,
        [cw for _, cw in members],
        epochs=EPOCHS,
        batch_size=BATCH,
        learning_rate=LR,
        seed=SHUFFLE_SEED,
        on_epochs_done=lambda done: marks.append((done, time.perf_counter())),
    )
    return time.perf_counter() - started, result.weights


# (epochs done, time) at each progress report of the last `batched` call.
marks: list[tuple[int, float]] = []


def compile_and_steady() -> dict:
    """Return the last batched call's first compiled call (trace, compile, run) and the rest."""
    (_, t0), (e1, t1), *rest = marks
    (e_end, t_end) = marks[-1]
    per_epoch = (t_end - t1) / (e_end - e1) if rest else float("nan")
    return {
        "first_call_s": round(t1 - t0, 2),
        "compile_s_estimate": round((t1 - t0) - e1 * per_epoch, 2),
        "steady_s_per_epoch": round(per_epoch, 4),
    }


def step_time_by_k(x, y) -> list[dict]:
    """Return, per K in SCALING_K, the compiled loop's time per step once compiled.

    K members (the sweep's weights and seeds, cycled) train SCALING_EPOCHS epochs,
    one compiled call each; the first call (compiling) is left out.
    """
    seeds = {s: build_model(HIDDEN, LR, seed=s).get_weights() for s in SWEEP_SEEDS}
    steps_per_epoch = -(-len(x) // BATCH)
    out = []
    for k in SCALING_K:
        picks = [(i % len(seeds), float(SWEEP_WEIGHTS[i % len(SWEEP_WEIGHTS)])) for i in range(k)]
        marks.clear()
        train_batched(
            [seeds[s] for s, _ in picks],
            x,
            y,
            [{0: 1.0, 1: w} for _, w in picks],
            epochs=SCALING_EPOCHS,
            batch_size=BATCH,
            learning_rate=LR,
            seed=SHUFFLE_SEED,
            max_members=k,
            on_epochs_done=lambda done: marks.append((done, time.perf_counter())),
        )
        (_, _), (e1, t1), *_ = marks
        e_end, t_end = marks[-1]
        step_us = 1e6 * (t_end - t1) / ((e_end - e1) * steps_per_epoch)
        out.append(
            {
                "members": k,
                "us_per_step": round(step_us, 1),
                "us_per_step_per_model": round(step_us / k, 3),
                "peak_mib": peak_mib(),
            }
        )
    return out


def member_diffs(a: list, b: list) -> list[float]:
    """Return each member's largest absolute weight difference between two trainings."""
    return [
        max(float(np.abs(u - v).max()) for u, v in zip(wa, wb, strict=True))
        for wa, wb in zip(a, b, strict=True)
    ]


def diff_summary(a: list, b: list) -> dict:
    diffs = np.array(member_diffs(a, b))
    return {
        "max_weight_diff_vs_fused": float(diffs.max()),
        "median_weight_diff_vs_fused": float(np.median(diffs)),
        "members_over_1e-5": int((diffs > 1e-5).sum()),
        "members_over_1e-3": int((diffs > 1e-3).sum()),
    }


def matmul_gflops() -> float:
    """Return the best float32 GFLOP/s of a 1024^2 matmul over a few tries (numpy, all cores)."""
    a = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(10))
    return 2 * 1024**3 / best / 1e9


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def flops_per_member_step(features: int = 2, hidden: int = HIDDEN, batch: int = BATCH) -> int:
    """Return the arithmetic of one member's step, counted from the compiled program's ops.

    Forward: each Dense a (batch, in+1) x (in+1, out) dot, 2 FLOPs per multiply-add.
    Backward: two dots per layer (the input's gradient is skipped for the first).
    Elementwise: relu and its gradient (2 per hidden value), the loss and its
    gradient (~12 per row: exp, log1p, selects, weights), Adam (~12 per parameter).
    """
    widths = [features, hidden, hidden, 1]
    layers = list(zip(widths[:-1], widths[1:], strict=True))
    forward = sum(2 * batch * (i + 1) * o for i, o in layers)
    backward = sum(2 * batch * (i + 1) * o for i, o in layers) + sum(
        2 * batch * o * i for i, o in layers[1:]
    )
    params = sum((i + 1) * o for i, o in layers)
    elementwise = 2 * 2 * batch * 2 * hidden + 12 * batch + 12 * params
    return forward + backward + elementwise


def row(name, seconds, models, steps, peak, **extra) -> dict:
    return {
        "row": name,
        "models": models,
        "wall_s": round(seconds, 2),
        "s_per_model": round(seconds / models, 3),
        "us_per_step_per_model": round(1e6 * seconds / (models * steps), 2),
        "peak_mib": peak,
        **extra,
    }


def main() -> None:
    load_at_start = os.getloadavg()
    x, y = default_train_split()
    steps = EPOCHS * -(-len(x) // BATCH)
    rows = []

    seconds, _ = one_at_a_time(x, y, [(42, None)])
    rows.append(row("one model, train_fused", seconds, 1, steps, peak_mib()))

    variants = [(42, cw) for cw in VARIANTS]
    fused_s, fused_w = one_at_a_time(x, y, variants)
    rows.append(row("3 variants, train_fused x3", fused_s, 3, steps, peak_mib()))
    batched_s, batched_w = batched(x, y, variants)
    rows.append(
        row(
            "3 variants, train_batched K=3",
            batched_s,
            3,
            steps,
            peak_mib(),
            speedup=round(fused_s / batched_s, 2),
            **diff_summary(batched_w, fused_w),
        )
    )

    sweep = [(s, {0: 1.0, 1: float(w)}) for w in SWEEP_WEIGHTS for s in SWEEP_SEEDS]
    batched_s, batched_w = batched(x, y, sweep)
    rows.append(
        row(
            "100-model sweep, train_batched K=100",
            batched_s,
            100,
            steps,
            peak_mib(),
            **compile_and_steady(),
        )
    )
    fused_s, fused_w = one_at_a_time(x, y, sweep)
    rows.append(row("100-model sweep, train_fused x100", fused_s, 100, steps, peak_mib()))
    rows[-2] |= {
        "speedup": round(fused_s / batched_s, 2),
        **diff_summary(batched_w, fused_w),
        "weight_diff_by_minority_weight": {
            f"{w:.3g}": max(member_diffs(batched_w[i * 5 : i * 5 + 5], fused_w[i * 5 : i * 5 + 5]))
            for i, w in enumerate(SWEEP_WEIGHTS)
        },
    }

    by_k = step_time_by_k(x, y)
    gflops = matmul_gflops()
    per_step = flops_per_member_step() * len(sweep)
    sweep_flops = per_step * steps
    compute = {
        "matmul_gflops_float32": round(gflops, 1),
        "sweep_flops_per_step": per_step,
        "sweep_total_gflop": round(sweep_flops / 1e9, 1),
        "sweep_seconds_at_matmul_rate": round(sweep_flops / (gflops * 1e9), 2),
        "sweep_achieved_gflops": round(sweep_flops / batched_s / 1e9, 2),
        "sweep_steady_gflops": round(
            per_step * steps / EPOCHS / rows[3]["steady_s_per_epoch"] / 1e9, 2
        ),
    }
    results = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_at_start": load_at_start,
            "load_avg_at_end": os.getloadavg(),
        },
        "job": {"train_rows": len(x), "epochs": EPOCHS, "batch": BATCH, "steps_per_model": steps},
        "rows": rows,
        "step_time_by_members": by_k,
        "compute": compute,
    }
    out = ROOT / "benchmarks" / "results" / "bench_batched.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")

    print("| row | models | wall s | s/model | µs/step/model | speed-up | peak MiB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['row']} | {r['models']} | {r['wall_s']} | {r['s_per_model']} "
            f"| {r['us_per_step_per_model']} | {r.get('speedup', '')} | {r['peak_mib']} |"
        )
    print()
    print("| members per call | µs per step (all) | µs per step per model | peak MiB |")
    print("|---|---|---|---|")
    for r in by_k:
        print(
            f"| {r['members']} | {r['us_per_step']} | {r['us_per_step_per_model']} "
            f"| {r['peak_mib']} |"
        )
    print()
    print(json.dumps(compute, indent=2))
    for r in rows:
        if "max_weight_diff_vs_fused" in r:
            diffs = {k: v for k, v in r.items() if "diff" in k or "members_over" in k}
            print(f"{r['row']}: vs train_fused {json.dumps(diffs)}")


if __name__ == "__main__":
    main()

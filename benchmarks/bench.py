"""`make bench`: the project's flow against the plain tutorial script, measured in one run.

Both are run as users run them, as separate commands, alternating, several times:
the medians and their ratio are what to read (the machines here are shared and
noisy; a ratio measured in one run is stable where absolute seconds are not).
Then the flow runs once per scaling size. Writes benchmarks/results/bench.json and
bench.md (the table the README shows).

Peak memory is the largest resident set of any single process of the command
(Linux `wait4` reports the maximum over a process and the children it waited for).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PYTHON = sys.executable
ENV = os.environ | {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"}
ENV.pop("PREFECT_API_URL", None)  # local mode, as `make run`


def measure(command: list[str]) -> dict:
    """Run `command`; return its wall seconds and peak RSS in MiB, or fail loudly."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(command)} failed:\n{output[-3000:]}")
    return {
        "seconds": round(seconds, 2),
        "peak_mib": round(usage.ru_maxrss / 1024, 1),
        "output": output,
    }


def tutorial() -> dict:
    result = measure([PYTHON, "benchmarks/tutorial_script.py"])
    result.pop("output")
    return result


def flow(n_samples: int | None = None) -> dict:
    """Run the flow as `make run` does; add its training time per Adam step."""
    with tempfile.TemporaryDirectory(prefix="bench-artifacts-") as artifacts:
        command = [PYTHON, "-m", "imbalance.cli", "run", "--artifacts-dir", artifacts]
        if n_samples:
            command += ["--n-samples", str(n_samples)]
        result = measure(command)
        run_dir = Path(artifacts, "runs")
        [run] = list(run_dir.iterdir())
        manifest = json.loads((run / "manifest.json").read_text())
        metrics = json.loads((run / "metrics.json").read_text())
    cfg, counts = manifest["config"], manifest["counts"]
    steps = cfg["epochs"] * -(-counts["train_rows"] // cfg["batch_size"])
    train = [m["train_seconds"] for m in metrics["variants"].values()]
    result.pop("output")
    return result | {
        "rows": manifest["counts"]["dataset_rows"],
        "train_seconds": train,
        "steps_per_model": steps,
        "us_per_step": round(1e6 * statistics.median(train) / steps, 1),
        "recall": {v: round(m["recall"], 3) for v, m in metrics["variants"].items()},
    }


def table(report: dict) -> str:
    t, f = report["tutorial"], report["flow"]
    lines = [
        f"Measured {report['when']} on {report['machine']} "
        f"({report['repeats']} alternating runs each; medians).",
        "",
        "| what | rows | wall s (median) | runs | per Adam step | peak RSS MiB |",
        "|---|---|---|---|---|---|",
        f"| plain tutorial script (3 × `model.fit`) | 100,000 | {t['median_seconds']:.1f} | "
        f"{', '.join(str(r['seconds']) for r in t['runs'])} | ≈{t['us_per_step']:.0f} µs | "
        f"{max(r['peak_mib'] for r in t['runs']):.0f} |",
        f"| `imbalance run` (whole flow, default config) | 100,000 | {f['median_seconds']:.1f} | "
        f"{', '.join(str(r['seconds']) for r in f['runs'])} | {f['us_per_step']:.1f} µs | "
        f"{max(r['peak_mib'] for r in f['runs']):.0f} |",
    ]
    for row in report["scaling"]:
        lines.append(
            f"| `imbalance run --n-samples {row['rows']}` | {row['rows']:,} | "
            f"{row['seconds']:.1f} | 1 | {row['us_per_step']:.1f} µs | {row['peak_mib']:.0f} |"
        )
    lines += [
        "",
        f"**Speed-up of the whole flow over the tutorial script: {report['ratio']:.1f}×** "
        f"(median against median). Per step: the tutorial's is its wall time over its "
        f"3 × 40,000 steps (an upper bound: it includes imports and data); the flow's is "
        f"the median training time of a variant over its steps (XLA compile included).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each (3)")
    parser.add_argument(
        "--scale", default="1000000,10000000", help="comma-separated row counts, '' for none"
    )
    args = parser.parse_args()

    tutorial_runs, flow_runs = [], []
    for i in range(args.repeats):
        print(f"[{i + 1}/{args.repeats}] tutorial script ...", flush=True)
        tutorial_runs.append(tutorial())
        print(f"    {tutorial_runs[-1]['seconds']} s; flow ...", flush=True)
        flow_runs.append(flow())
        print(f"    {flow_runs[-1]['seconds']} s", flush=True)
    scaling = []
    for n in [int(s) for s in args.scale.split(",") if s.strip()]:
        print(f"flow with {n:,} rows ...", flush=True)
        scaling.append(flow(n))
        print(f"    {scaling[-1]['seconds']} s, {scaling[-1]['peak_mib']} MiB", flush=True)

    t_median = statistics.median(r["seconds"] for r in tutorial_runs)
    f_median = statistics.median(r["seconds"] for r in flow_runs)
    report = {
        "when": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "repeats": args.repeats,
        "tutorial": {
            "runs": tutorial_runs,
            "median_seconds": t_median,
            "us_per_step": 1e6 * t_median / (3 * 40_000),
        },
        "flow": {
            "runs": flow_runs,
            "median_seconds": f_median,
            "us_per_step": statistics.median(r["us_per_step"] for r in flow_runs),
        },
        "scaling": scaling,
        "ratio": t_median / f_median,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = table(report)
    (RESULTS / "bench.md").write_text(markdown + "\n")
    print("\n" + markdown)


if __name__ == "__main__":
    main()

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
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PYTHON = sys.executable
ENV = os.environ | {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"}
ENV.pop("PREFECT_API_URL", None)  # local mode, as `make run`
TUTORIAL_STEPS = 3 * 50 * 800  # three models, 50 epochs of 80,000 rows in batches of 100


def measure(command: list[str], env: dict[str, str] = ENV, cwd: Path = ROOT) -> dict:
    """Run `command`; return its wall seconds and peak RSS in MiB, or fail loudly."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(command)} failed:\n{output[-3000:]}")
    return {"seconds": round(seconds, 2), "peak_mib": round(usage.ru_maxrss / 1024, 1)}


def tutorial() -> dict:
    return measure([PYTHON, "benchmarks/tutorial_script.py"])


def flow(
    n_samples: int | None = None,
    api_url: str | None = None,
    prefect_home: str | None = None,
    checkout: Path = ROOT,
) -> dict:
    """Run the flow as `make run` does (or against a running server); add per-step times.

    `checkout`: the source tree to run (another version's, for `--before`).
    """
    env = ENV | ({"PREFECT_API_URL": api_url} if api_url else {})
    env |= {"PREFECT_HOME": prefect_home} if prefect_home else {}
    env |= {"PYTHONPATH": str(checkout)} if checkout != ROOT else {}
    with tempfile.TemporaryDirectory(prefix="bench-artifacts-") as artifacts:
        command = [PYTHON, "-m", "cli", "run", "--artifacts-dir", artifacts]
        if n_samples:
            command += ["--n-samples", str(n_samples)]
        result = measure(command, env, cwd=checkout)
        [run] = list(Path(artifacts, "runs").iterdir())
        manifest = json.loads((run / "manifest.json").read_text())
        metrics = json.loads((run / "metrics.json").read_text())
    cfg, counts = manifest["config"], manifest["counts"]
    training = cfg.get("training", cfg)  # the config is in sections since issue 21, flat before
    steps = training["epochs"] * -(-counts["train_rows"] // training["batch_size"])
    variants = metrics["variants"].values()
    train = [m["train_seconds"] for m in variants]
    steady = [m["us_per_step"] for m in variants if m.get("us_per_step")]
    return result | {
        "rows": counts["dataset_rows"],
        "train_seconds": train,
        "steps_per_model": steps,
        "us_per_step": round(1e6 * statistics.median(train) / steps, 1),
        "steady_us_per_step": statistics.median(steady) if steady else None,
        "recall": {name: round(m["recall"], 3) for name, m in metrics["variants"].items()},
    }


# The version before choices were made on validation (issue 11: thresholds, the class-
# weight sweep, seeds, the evidence gate): `make run` may take at most 1.5x its time.
BEFORE_CHOOSING = "41132d4"


@contextmanager
def checkout_of(rev: str):
    """Yield a temporary git worktree of `rev` (run with this project's .venv)."""
    where = Path(tempfile.mkdtemp(prefix="bench-before-")) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", str(where), rev], cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    try:
        yield where
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(where)], cwd=ROOT,
                       capture_output=True)  # fmt: skip
        shutil.rmtree(where.parent, ignore_errors=True)


@contextmanager
def prefect_server():
    """Yield the API URL of a Prefect server on a free loopback port, as `make up` runs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    home = tempfile.mkdtemp(prefix="bench-prefect-")
    proc = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "prefect"),
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=ENV | {"PREFECT_HOME": home},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{api}/health", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    sys.exit("bench: the Prefect server did not start")
                time.sleep(0.5)
        yield api
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        shutil.rmtree(home, ignore_errors=True)


def _row(what: str, rows: int, runs: list[dict], per_step: str, steady: str) -> str:
    seconds = statistics.median(r["seconds"] for r in runs)
    each = ", ".join(str(r["seconds"]) for r in runs)
    peak = max(r["peak_mib"] for r in runs)
    return f"| {what} | {rows:,} | {seconds:.1f} | {each} | {per_step} | {steady} | {peak:.0f} |"


def _flow_row(what: str, runs: list[dict]) -> str:
    per_step = statistics.median(r["us_per_step"] for r in runs)
    steady = [r["steady_us_per_step"] for r in runs if r["steady_us_per_step"]]
    steady_text = f"{statistics.median(steady):.1f} µs" if steady else "n/a"
    return _row(what, runs[0]["rows"], runs, f"{per_step:.1f} µs", steady_text)


def table(report: dict) -> str:
    """Return the markdown the README shows."""
    tutorial_runs = report["tutorial"]
    tutorial_step = 1e6 * statistics.median(r["seconds"] for r in tutorial_runs) / TUTORIAL_STEPS
    lines = [
        f"Measured {report['when']} on {report['machine']}: {report['repeats']} alternating "
        "runs of the tutorial and of the two `imbalance run` rows, medians; the other rows "
        "ran once each.",
        "",
        "| what | rows | wall s (median) | each run | per step, all in | per step, "
        "after compiling | peak RSS MiB |",
        "|---|---|---|---|---|---|---|",
        _row(
            "plain tutorial script (3 × `model.fit`)",
            100_000,
            tutorial_runs,
            f"≤ {tutorial_step:.0f} µs",
            "n/a",
        ),
        _flow_row(
            "`make run` on a fresh machine (new Prefect database)",
            report["flow_cold"],
        ),
        _flow_row("`make run`: `imbalance run`, local mode", report["flow_local"]),
        _flow_row("`imbalance run` against a running server", report["flow_server"]),
    ]
    if report.get("flow_before"):
        lines.append(
            _flow_row(
                f"`make run` of {report['before']} (before choosing on validation)",
                report["flow_before"],
            )
        )
    lines += [
        _flow_row(f"`imbalance run --n-samples {r['rows']}`, server", [r])
        for r in report["scaling"]
    ]
    lines += [
        "",
        f"**Whole flow against the tutorial script: {report['ratio_local']:.1f}× faster in "
        f"local mode (`make run`), {report['ratio_server']:.1f}× against a running server** "
        f"(median against median, measured in this one invocation); the very first run on "
        f"a machine: {report['ratio_cold']:.1f}×.",
    ]
    if report.get("flow_before"):
        lines += [
            "",
            f"**`make run` now against {report['before']}, before choices were made on "
            f"validation: {report['ratio_before']:.2f}× its time** (median against median, "
            "alternating in this invocation; the budget is 1.5×).",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each (3)")
    parser.add_argument(
        "--scale", default="1000000,10000000", help="comma-separated row counts, '' for none"
    )
    parser.add_argument(
        "--before",
        default=BEFORE_CHOOSING,
        help=f"also run `make run` of this git revision, alternating (default {BEFORE_CHOOSING}"
        ", before choosing on validation); '' for none",
    )
    args = parser.parse_args()

    runs: dict[str, list[dict]] = {"tutorial": [], "flow_local": [], "flow_server": []}
    before = contextlib.ExitStack()
    measured = [("tutorial", tutorial), ("flow_local", flow)]
    if args.before:
        tree = before.enter_context(checkout_of(args.before))
        runs["flow_before"] = []
        measured.append(("flow_before", lambda: flow(checkout=tree)))
    scaling = []
    fresh_home = tempfile.mkdtemp(prefix="bench-fresh-prefect-")
    try:
        cold = [flow(prefect_home=fresh_home)]
    finally:
        shutil.rmtree(fresh_home, ignore_errors=True)
    print(f"fresh machine: {cold[0]['seconds']} s", flush=True)
    with before, prefect_server() as api:
        for i in range(args.repeats):
            for name, measure_one in [*measured, ("flow_server", lambda: flow(api_url=api))]:
                runs[name].append(measure_one())
                print(f"[{i + 1}/{args.repeats}] {name}: {runs[name][-1]['seconds']} s", flush=True)
        for n in [int(s) for s in args.scale.split(",") if s.strip()]:
            scaling.append(flow(n, api_url=api))
            print(
                f"{n:,} rows: {scaling[-1]['seconds']} s, {scaling[-1]['peak_mib']} MiB", flush=True
            )

    def median(name: str) -> float:
        return statistics.median(r["seconds"] for r in runs[name])

    report = {
        "when": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "repeats": args.repeats,
        **runs,
        "flow_cold": cold,
        "scaling": scaling,
        "ratio_local": median("tutorial") / median("flow_local"),
        "ratio_server": median("tutorial") / median("flow_server"),
        "ratio_cold": median("tutorial") / cold[0]["seconds"],
    }
    if args.before:
        report |= {
            "before": args.before,
            "ratio_before": median("flow_local") / median("flow_before"),
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = table(report)
    (RESULTS / "bench.md").write_text(markdown + "\n")
    print("\n" + markdown)


if __name__ == "__main__":
    main()

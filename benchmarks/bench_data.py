"""Reading, checking and snapshotting a user's file: 1,000,000 rows x 20 numeric columns.

The source: 16 float columns on scales from 1e-2 to 1e4 and 4 integer counts, plus a
Yes/No label with ~3% Yes, written once as Parquet and as CSV to a temporary folder.
Each case then runs in a fresh process (so memory is its own), a few times:
`read_source` (read the bytes, hash them, parse), `check_table` (every check, the
DataSpec, the pandas frame), and `imbalance.store.write_table` (the run's Parquet
snapshot of the table as read). Times are medians over the repeats.

Memory, two measures: `rss_peak_mib` is the process's resident-set high-water mark
(`ru_maxrss`, Python and its libraries included; `rss_start_mib` is the same after the
imports, before reading); `arrow_peak_mib` is the peak of Arrow's memory pool
(`pa.default_memory_pool().max_memory()`: the tables, parse buffers and kernels'
results, which tracemalloc cannot see). The file's bytes (a Python bytes object) and
pandas' frame are outside Arrow's pool but inside the RSS.

Writes benchmarks/results/bench_data.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROWS, FLOATS, COUNTS, POSITIVE_SHARE = 1_000_000, 16, 4, 0.03
STEPS = ("read_s", "check_s", "snapshot_s", "total_s")


def make_source(folder: Path, rows: int) -> None:
    """Write the benchmark's table as Parquet (source.parquet) and as CSV (source.csv)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    positive = rng.random(rows) < POSITIVE_SHARE
    columns = {}
    for i in range(FLOATS):
        scale = 10.0 ** (i % 7 - 2)  # 1e-2 .. 1e4
        values = rng.normal(scale * 5, scale, rows) + scale * positive
        columns[f"x{i:02d}"] = np.round(values, 4 - i % 7 + 2)
    for i in range(COUNTS):
        columns[f"n{i}"] = rng.poisson(3 + 2 * i, rows).astype(np.int64)
    columns["label"] = np.where(positive, "Yes", "No")
    table = pa.table(columns)
    pq.write_table(table, folder / "source.parquet")
    pcsv.write_csv(table, folder / "source.csv")


def run_case(path: str, out: str) -> dict:
    """Time one read, check and snapshot of `path` in this process; return the measures."""
    import pyarrow as pa

    from imbalance.config import RetrainConfig
    from imbalance.data.checks import check_table
    from imbalance.data.sources import read_source
    from imbalance.store import write_table

    start_rss = _rss_mib()
    cfg = RetrainConfig(source={"path": path, "label": "label", "positive": "Yes"})
    t0 = time.perf_counter()
    source = read_source(path)
    t1 = time.perf_counter()
    frame, spec = check_table(source, cfg)
    t2 = time.perf_counter()
    metadata = {"uri": source.uri, "sha256": source.sha256, "spec": spec.to_json()}
    write_table(Path(out), source.table, metadata)
    t3 = time.perf_counter()
    return {
        "rows": source.table.num_rows,
        "columns": source.table.num_columns,
        "file_mib": round(os.path.getsize(path) / 2**20, 1),
        "snapshot_mib": round(os.path.getsize(out) / 2**20, 1),
        "positives": int(spec.target(frame).sum()),
        "read_s": t1 - t0,
        "check_s": t2 - t1,
        "snapshot_s": t3 - t2,
        "total_s": t3 - t0,
        "rss_start_mib": start_rss,
        "rss_peak_mib": _rss_mib(),
        "arrow_peak_mib": round(pa.default_memory_pool().max_memory() / 2**20, 1),
        "arrow_pool": pa.default_memory_pool().backend_name,
    }


def _rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def measure(kind: str, path: Path, folder: Path, repeats: int) -> dict:
    """Run the case `repeats` times, each in a fresh process; return medians and peaks."""
    runs = []
    for i in range(repeats):
        out = folder / f"snapshot-{kind}-{i}.parquet"
        command = [sys.executable, __file__, "--case", str(path), "--out", str(out)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        out.unlink()
    first = runs[0]
    row = {"source": kind} | {k: first[k] for k in ("rows", "columns", "positives")}
    row |= {k: first[k] for k in ("file_mib", "snapshot_mib", "arrow_pool")}
    row |= {step: round(statistics.median(r[step] for r in runs), 3) for step in STEPS}
    row |= {f"{step}_all": [round(r[step], 3) for r in runs] for step in STEPS}
    for key in ("rss_start_mib", "rss_peak_mib", "arrow_peak_mib"):
        row[key] = max(r[key] for r in runs)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--case", help=argparse.SUPPRESS)  # one measured run (a subprocess)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--make", help=argparse.SUPPRESS)  # write the source (a subprocess)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.out)))
        return
    if args.make:
        make_source(Path(args.make), args.rows)
        return

    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        folder = Path(tmp)
        # Written by another process: a child's ru_maxrss starts at its parent's resident
        # set (fork), so this process stays small for the measured ones it starts.
        command = [sys.executable, __file__, "--make", tmp, "--rows", str(args.rows)]
        subprocess.run(command, check=True)
        paths = {"parquet": folder / "source.parquet", "csv": folder / "source.csv"}
        rows = [measure(kind, path, folder, args.repeats) for kind, path in paths.items()]

    results = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_at_start": load_at_start,
            "load_avg_at_end": os.getloadavg(),
        },
        "job": {
            "rows": args.rows,
            "numeric_columns": FLOATS + COUNTS,
            "label": "Yes/No",
            "repeats": args.repeats,
        },
        "rows": rows,
    }
    out = ROOT / "benchmarks" / "results" / "bench_data.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")

    print(
        "| source | file MiB | read s | check s | snapshot s | total s "
        "| RSS start MiB | RSS peak MiB | Arrow peak MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['source']} | {r['file_mib']} | {r['read_s']} | {r['check_s']} "
            f"| {r['snapshot_s']} | {r['total_s']} | {r['rss_start_mib']} "
            f"| {r['rss_peak_mib']} | {r['arrow_peak_mib']} |"
        )
    print(
        f"\n{args.rows:,} rows x {FLOATS + COUNTS} numeric columns + a Yes/No label; "
        f"medians of {args.repeats} fresh processes; load {load_at_start[0]:.1f} at start"
    )


if __name__ == "__main__":
    main()

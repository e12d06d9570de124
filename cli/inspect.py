"""`imbalance runs`, `show` and `compare`: read what runs left behind (no TensorFlow or Prefect)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from cli.errors import UserError
from imbalance import store
from imbalance.config import recorded_fields
from imbalance.selection.variants import VARIANTS
from imbalance.store import (
    ArtifactStore,
    ChampionRecord,
    RunNotFoundError,
    RunPaths,
    StateFileError,
)
from imbalance.store.retention import size_text  # the core says sizes as the commands do

COMPARED_METRICS = ["precision", "recall", "f1", "roc_auc", "pr_auc", "final_loss", "train_seconds"]


def add_artifacts_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--artifacts-dir",
        default="artifacts",
        metavar="DIR",
        help="folder the runs are kept in (default: artifacts)",
    )


def register(subparsers) -> None:
    runs = subparsers.add_parser(
        "runs", help="list the runs, newest first", description="List every run, newest first."
    )
    runs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_artifacts_dir(runs)
    runs.set_defaults(handler=handle_runs)

    show = subparsers.add_parser(
        "show", help="print a run's report, config and files", description="Show one run."
    )
    show.add_argument("ref", metavar="RUN", help="a run id, `latest` or `champion`")
    add_artifacts_dir(show)
    show.set_defaults(handler=handle_show)

    compare = subparsers.add_parser(
        "compare",
        help="two runs' metrics side by side",
        description="Compare the metrics of two runs: A, B and B - A.",
    )
    compare.add_argument("first", metavar="RUN_A", help="a run id, `latest` or `champion`")
    compare.add_argument("second", metavar="RUN_B", help="a run id, `latest` or `champion`")
    add_artifacts_dir(compare)
    compare.set_defaults(handler=handle_compare)


# --- shared by the commands -------------------------------------------------------------


def user_error(message: str) -> Exception:

    return UserError(message)


def open_run(artifacts: ArtifactStore, ref: str) -> tuple[RunPaths, dict[str, Any]]:
    """Return a complete run and its manifest, or raise a UserError saying why not."""
    if "/" in ref or "\\" in ref or ref.startswith("."):
        raise user_error(f"{ref!r} is not a run id (nor latest, champion)")
    if ref in artifacts.unfinished_run_ids():
        manifest, _ = _read_optional(artifacts.staging_dir / ref / store.MANIFEST)
        if manifest and manifest.get("status") == "failed":
            raise user_error(f"run {ref} is not complete: it failed: {manifest.get('error')}")
        raise user_error(f"run {ref} is not complete (still running, or killed)")
    try:
        run = artifacts.run(ref)
    except (RunNotFoundError, StateFileError) as exc:
        raise user_error(str(exc)) from None
    manifest, problem = _read_optional(run.manifest)
    if problem or not files_recorded(manifest):
        why = problem or "no list of files with sha256 and bytes"
        raise user_error(f"cannot read the manifest of {run.run_id}: {why}")
    return run, manifest


def files_recorded(manifest: Any) -> bool:
    """Return whether a manifest lists its files as {path: {sha256, bytes}}."""
    files = manifest.get("files") if isinstance(manifest, dict) else None
    return isinstance(files, dict) and all(
        isinstance(f, dict) and isinstance(f.get("sha256"), str) and isinstance(f.get("bytes"), int)
        for f in files.values()
    )


def table(rows: list[list[str]], header: list[str] | None = None) -> str:
    """Return rows (under `header`, if given) as left-aligned columns, two spaces apart."""
    lines = [header, *rows] if header else rows
    if not lines:
        return ""
    widths = [max(len(str(r[i])) for r in lines) for i in range(len(lines[0]))]
    return "\n".join(
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in lines
    )


def _number(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


# --- imbalance runs ---------------------------------------------------------------------


def _started_from_id(run_id: str) -> str | None:
    try:
        stamp = datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return stamp.isoformat(timespec="seconds")


def _read_optional(path) -> tuple[dict | None, str | None]:
    if not path.is_file():
        return None, None
    try:
        content = store.read_json(path)
    except (OSError, ValueError) as exc:
        return None, f"unreadable {path.name}: {exc}"
    if not isinstance(content, dict):
        return None, f"damaged {path.name}: not a JSON object"
    return content, None


def run_summary(run: RunPaths, complete: bool, champion: ChampionRecord | None) -> dict[str, Any]:
    """Return what `imbalance runs` shows of one run, complete or still in staging."""
    manifest, problem = _read_optional(run.manifest)
    metrics, metrics_problem = _read_optional(run.metrics)
    if manifest is None:
        status = "incomplete" if not complete else "no manifest"
    elif not complete and manifest.get("status") != "failed":
        # A run killed after its manifest was written but before the move into runs/.
        status = "incomplete"
    else:
        status = manifest.get("status", "unknown")
    manifest = manifest or {}
    variants = (metrics or {}).get("variants", {})
    holds = champion is not None and champion.run_id == run.run_id
    return {
        "run_id": run.run_id,
        "status": status,
        "started": manifest.get("started") or _started_from_id(run.run_id),
        "as_of": manifest.get("as_of"),
        "duration_seconds": manifest.get("duration_seconds"),
        "rows": manifest.get("counts", {}).get("dataset_rows"),
        "variants": {
            name: {"recall": m.get("recall"), "pr_auc": m.get("pr_auc")}
            for name, m in variants.items()
        },
        "champion": champion.variant if holds else None,
        "error": manifest.get("error") or problem or metrics_problem,
    }


def list_runs(artifacts: ArtifactStore) -> list[dict[str, Any]]:
    """Return a summary of every run, complete and unfinished, newest first."""
    champion = _champion_or_none(artifacts)
    found = [(run_id, True) for run_id in artifacts.run_ids()]
    # ".deleting-*" folders are runs being pruned, not runs
    found += [(i, False) for i in artifacts.unfinished_run_ids() if not i.startswith(".")]
    found.sort(reverse=True)
    return [
        run_summary(
            RunPaths((artifacts.runs_dir if complete else artifacts.staging_dir) / run_id),
            complete,
            champion,
        )
        for run_id, complete in found
    ]


def _champion_or_none(artifacts: ArtifactStore) -> ChampionRecord | None:
    try:
        return artifacts.champion()
    except StateFileError:
        return None  # said once by the command (`cli.main`)


def _when(iso: str | None) -> str:
    return "-" if not iso else iso.replace("T", " ").removesuffix("+00:00")


def _duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{seconds:.1f}s"


def runs_table(summaries: list[dict[str, Any]]) -> str:
    """Return the runs as a table: one line each, recall/PR AUC per variant."""
    seen = {name for s in summaries for name in s["variants"]}
    variants = [v for v in VARIANTS if v in seen] + sorted(seen - set(VARIANTS))
    header = ["RUN", "STATUS", "STARTED (UTC)", "AS OF", "DURATION", "ROWS"]
    header += [f"{v.upper()} REC/PR" for v in variants] + ["CHAMPION"]
    rows = []
    for s in summaries:
        started = _when(s["started"])
        cells = [
            s["run_id"],
            s["status"],
            started,
            _when(s.get("as_of")),
            _duration_text(s["duration_seconds"]),
            "-" if s["rows"] is None else f"{s['rows']:,}",
        ]
        for v in variants:
            m = s["variants"].get(v)
            cells.append(f"{_number(m['recall'], 3)}/{_number(m['pr_auc'], 3)}" if m else "-")
        cells.append(f"* {s['champion']}" if s["champion"] else "")
        rows.append(cells)
    return table(rows, header)


def handle_runs(args: argparse.Namespace) -> int:
    summaries = list_runs(ArtifactStore(args.artifacts_dir))
    if args.json:
        print(json.dumps(summaries, indent=2))
    elif not summaries:
        print(f"no runs under {args.artifacts_dir}")
    else:
        print(runs_table(summaries))
    return 0


# --- imbalance show ---------------------------------------------------------------------


def handle_show(args: argparse.Namespace) -> int:
    artifacts = ArtifactStore(args.artifacts_dir)
    run, manifest = open_run(artifacts, args.ref)
    report = run.report.read_text() if run.report.is_file() else "(no report.md)\n"
    print(report.rstrip() + "\n")
    started, commit = _when(manifest.get("started")), manifest.get("git_commit") or "unknown"
    as_of = f", as of {_when(manifest['as_of'])}" if manifest.get("as_of") else ""
    print(
        f"run {run.run_id}: {manifest.get('status')}, started {started} UTC{as_of}, "
        f"{_duration_text(manifest.get('duration_seconds'))}, git {commit[:12]}"
    )
    print(f"folder: {run.root}\n")
    print("config:")
    for key, value in recorded_fields(manifest.get("config", {})).items():
        print(f"  {key}: {json.dumps(value)}")
    files = manifest.get("files", {})
    total = sum(f["bytes"] for f in files.values())
    print(f"\nfiles ({len(files)} in the manifest, {size_text(total)}):")
    print(table([[f"  {rel}", size_text(f["bytes"])] for rel, f in files.items()]))
    return 0


# --- imbalance compare ------------------------------------------------------------------


def _diff(a: Any, b: Any) -> str:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return f"{b - a:+.4f}" if isinstance(a, float) or isinstance(b, float) else f"{b - a:+,}"
    return "-"


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else json.dumps(value)


def comparison_rows(first: dict, second: dict) -> list[list[str]]:
    """Return rows of (what, A, B, B - A): metrics per variant, counts, differing config."""
    a_metrics, b_metrics = first["metrics"]["variants"], second["metrics"]["variants"]
    rows = []
    for variant in [*a_metrics, *(v for v in b_metrics if v not in a_metrics)]:
        a, b = a_metrics.get(variant, {}), b_metrics.get(variant, {})
        for name in COMPARED_METRICS:
            x, y = a.get(name), b.get(name)
            rows.append([f"{variant} {name}", _value(x), _value(y), _diff(x, y)])
    a_counts, b_counts = first["manifest"].get("counts", {}), second["manifest"].get("counts", {})
    for name in dict.fromkeys([*a_counts, *b_counts]):
        x, y = a_counts.get(name), b_counts.get(name)
        rows.append([f"counts {name}", _value(x), _value(y), _diff(x, y)])
    # Flat (before sections) or in sections: both read as section.field, so they compare.
    a_config, b_config = (recorded_fields(r["manifest"].get("config", {})) for r in (first, second))
    for name in dict.fromkeys([*a_config, *b_config]):
        x, y = a_config.get(name), b_config.get(name)
        if x != y and name != "storage.artifacts_dir":
            rows.append([f"config {name}", _value(x), _value(y), _diff(x, y)])
    return rows


def _load_for_compare(artifacts: ArtifactStore, ref: str) -> dict[str, Any]:
    run, manifest = open_run(artifacts, ref)
    metrics, problem = _read_optional(run.metrics)
    if problem or metrics is None or not isinstance(metrics.get("variants"), dict):
        why = problem or "it has no variants"
        raise user_error(f"cannot read the metrics of {run.run_id}: {why}")
    return {"run": run, "manifest": manifest, "metrics": metrics}


def handle_compare(args: argparse.Namespace) -> int:
    artifacts = ArtifactStore(args.artifacts_dir)
    first, second = (_load_for_compare(artifacts, ref) for ref in (args.first, args.second))
    header = ["", f"A {first['run'].run_id}", f"B {second['run'].run_id}", "B - A"]
    print(table(comparison_rows(first, second), header))
    return 0
